/**
 * The warehouse: one DuckDB file, `<dataDir>/warehouse.duckdb`.
 *
 * A process holding the file read-write locks out every other process, READ_ONLY openers included.
 * So nothing keeps it open: withWarehouse opens, does one short thing and closes, and every opener
 * retries lock conflicts with backoff. Loads run as one transaction (loadPartitions), so a killed
 * load leaves the warehouse exactly as before it started.
 */
import { failpoint } from "../core/failpoints.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBUnionValue,
  type DuckDBConnection,
  type DuckDBValue,
} from "@duckdb/node-api";
import { CancelledError, ConfigError, LockError, SchemaError, SluiceError, WarehouseBusyError } from "../core/errors.ts";
import type { CheckResult } from "../validate/types.ts";
import { listLakePartitions, lakeTableDir } from "./lake.ts";
import type { ColumnSpec, PartitionLoad, QuarantineRow, RunRecord, TableSpec } from "./types.ts";

export type { DuckDBConnection };

const DEFAULT_WAIT_MS = 60_000;
const WAIT_MESSAGE = "warehouse is busy (a load is running); waiting…";

/** The warehouse file of a data directory. */
export function warehousePath(dataDir: string): string {
  return path.join(dataDir, "warehouse.duckdb");
}

export interface WarehouseOptions {
  signal?: AbortSignal;
  /** How long to wait for another process (or in-process user) to let go of the file; default 60 s. */
  waitMs?: number;
  /** Called once when we have to wait, so the CLI can say so. */
  onWait?: (message: string) => void;
}

/**
 * Opens the warehouse, runs `fn` on one connection and closes it again, waiting (with backoff) while
 * another process holds the file. `read` opens READ_ONLY; a missing file then reads as an empty
 * in-memory database instead of creating one. Aborting the signal interrupts the running query.
 */
export async function withWarehouse<T>(
  dataDir: string,
  mode: "read" | "write",
  fn: (conn: DuckDBConnection) => Promise<T>,
  options: WarehouseOptions = {},
): Promise<T> {
  const file = warehousePath(dataDir);
  const { signal } = options;
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let waited = false;
  const noteWait = (): void => {
    if (waited) return;
    waited = true;
    options.onWait?.(WAIT_MESSAGE);
  };
  throwIfAborted(signal);
  if (heldHere.getStore()?.has(path.resolve(file))) {
    // Would wait on ourselves until waitMs: say what is wrong at once.
    throw new SluiceError("withWarehouse was called inside another withWarehouse on the same warehouse; use the outer connection", {
      context: { stage: "warehouse" },
    });
  }
  // Two DuckDB instances on one file in one process do not lock each other out (the OS lock is
  // per process) and would corrupt it: serialize this process's users first.
  const releaseGate = await gateFor(file).acquire(mode, deadline, signal, noteWait, () => busyError(file, waitMs));
  try {
    if (mode === "write") await mkdir(dataDir, { recursive: true });
    const target = mode === "read" && !existsSync(file) ? ":memory:" : file;
    const instance = await openWithRetry(target, mode, deadline, signal, noteWait, () => busyError(file, waitMs));
    try {
      const conn = await instance.connect();
      try {
        // Naive timestamps and casts of timestamp strings mean UTC, whatever the machine's zone.
        await conn.run("SET TimeZone = 'UTC'");
        const onAbort = (): void => conn.interrupt();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          const held = new Set(heldHere.getStore() ?? []).add(path.resolve(file));
          return await heldHere.run(held, () => fn(conn));
        } catch (error) {
          if (signal?.aborted && !(error instanceof SluiceError)) throw new CancelledError("cancelled while using the warehouse", { cause: error });
          throw error;
        } finally {
          signal?.removeEventListener("abort", onAbort);
        }
      } finally {
        conn.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } finally {
    releaseGate();
  }
}

/** Creates the sluice and lake schemas, the bookkeeping tables, every table of `tables`, and lake views. */
export async function ensureWarehouse(conn: DuckDBConnection, tables: TableSpec[], dataDir: string): Promise<void> {
  await ensureSluiceSchema(conn);
  for (const table of tables) {
    checkSpec(table);
    const types = await canonicalTypes(conn, table);
    await createTable(conn, table, types);
  }
  for (const table of tables) {
    if ((await listLakePartitions(dataDir, table.name)).length > 0) await createLakeView(conn, table.name, lakeTableDir(dataDir, table.name));
  }
}

/** Everything one run loads, committed together or not at all. */
export interface LoadTransaction {
  /** The final run row (usually status succeeded), written in the same transaction. */
  run: RunRecord;
  /** One staging table + one MERGE per partition. */
  loads: PartitionLoad[];
  /**
   * Replaces the quarantine set of (run.job, dt) for every dt of `dts` (default [run.dt]); a row's
   * dt is run.dt unless it says otherwise. Unchanged rows keep their original run_id.
   */
  quarantine: { rows: Array<QuarantineRow & { dt?: string }>; dts?: string[] };
  /** Appended to sluice.checks with run_id, job and checked_at. */
  checks: Array<CheckResult & { dt: string }>;
}

/** Row counts of a load; exact, counted with joins against the staging table before the MERGE. */
export interface LoadCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

/** Loads all partitions, replaces quarantine, appends checks and upserts the run row in ONE transaction. */
export async function loadPartitions(conn: DuckDBConnection, tx: LoadTransaction): Promise<LoadCounts> {
  const totals: LoadCounts = { inserted: 0, updated: 0, deleted: 0 };
  await conn.run("BEGIN TRANSACTION");
  try {
    await ensureSluiceSchema(conn);
    for (const [index, load] of tx.loads.entries()) {
      const counts = await loadPartition(conn, load, index, tx.run.job);
      totals.inserted += counts.inserted;
      totals.updated += counts.updated;
      totals.deleted += counts.deleted;
    }
    failpoint("warehouse.merge");
    await refreshLakeViews(conn, tx.loads);
    await replaceQuarantine(conn, tx.run, tx.quarantine);
    await appendChecks(conn, tx.run, tx.checks);
    await upsertRun(conn, tx.run);
    failpoint("warehouse.bookkeeping");
    await conn.run("COMMIT");
  } catch (error) {
    await conn.run("ROLLBACK").catch(() => undefined);
    throw error;
  }
  return totals;
}

/** Inserts or replaces the run row with this run_id (start: running; end: failed/cancelled). */
export async function recordRun(conn: DuckDBConnection, run: RunRecord): Promise<void> {
  await ensureSluiceSchema(conn);
  await upsertRun(conn, run);
}

/** Marks 'running' rows whose process is gone as 'abandoned'; returns how many. */
export async function markAbandonedRuns(conn: DuckDBConnection, isStillRunning: (runId: string) => boolean): Promise<number> {
  await ensureSluiceSchema(conn);
  const result = await conn.runAndReadAll("SELECT run_id FROM sluice.runs WHERE status = 'running'");
  const dead = result
    .getRows()
    .map((row) => String(row[0]))
    .filter((runId) => !isStillRunning(runId));
  if (dead.length === 0) return 0;
  const placeholders = dead.map((_, i) => `$${i + 1}`).join(", ");
  await conn.run(
    `UPDATE sluice.runs SET status = 'abandoned', finished_at = coalesce(finished_at, now()),
       error = coalesce(error, 'the process running it ended without recording an outcome (killed?)')
     WHERE status = 'running' AND run_id IN (${placeholders})`,
    dead,
  );
  return dead.length;
}

/** One row of readPartitionStatus: the last run of a job's partition. */
export interface PartitionStatusRow {
  job: string;
  dt: string;
  status: string;
  rows_loaded: number;
  rows_quarantined: number;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

/** The last run per job/dt (optionally of one job), ordered by job and dt; [] before any run. */
export async function readPartitionStatus(conn: DuckDBConnection, job?: string): Promise<PartitionStatusRow[]> {
  if (!(await tableExists(conn, "sluice", "runs"))) return [];
  const result = await conn.runAndReadAll(
    `SELECT job, strftime(dt, '%Y-%m-%d') AS dt, status, rows_loaded, rows_quarantined, started_at, finished_at, error
     FROM sluice.runs
     ${job === undefined ? "" : "WHERE job = $1"}
     QUALIFY row_number() OVER (PARTITION BY job, dt ORDER BY started_at DESC, run_id DESC) = 1
     ORDER BY job, dt`,
    job === undefined ? [] : [job],
  );
  return result.getRows().map((row) => ({
    job: String(row[0]),
    dt: String(row[1]),
    status: String(row[2]),
    rows_loaded: Number(row[3] ?? 0),
    rows_quarantined: Number(row[4] ?? 0),
    started_at: String(toJsonValue(row[5] ?? null)),
    finished_at: row[6] === null || row[6] === undefined ? null : String(toJsonValue(row[6])),
    error: row[7] === null || row[7] === undefined ? null : String(row[7]),
  }));
}

/** Runs SQL and returns JSON-friendly values (bigint -> number when safe else string, timestamps ISO). */
export async function query(conn: DuckDBConnection, sql: string): Promise<{ columns: string[]; types: string[]; rows: unknown[][] }> {
  const result = await conn.runAndReadAll(sql);
  return {
    columns: result.columnNames(),
    types: result.columnTypes().map((t) => t.toString()),
    rows: result.getRows().map((row) => row.map(toJsonValue)),
  };
}

// ---------------------------------------------------------------------------------------------
// Opening: in-process gate and cross-process retry

type Mode = "read" | "write";

interface Waiter {
  mode: Mode;
  grant: () => void;
}

/** A readers/writer gate per warehouse file, FIFO so writers are not starved by readers. */
class Gate {
  private readers = 0;
  private writer = false;
  private readonly queue: Waiter[] = [];

  acquire(mode: Mode, deadline: number, signal: AbortSignal | undefined, onWait: () => void, timeoutError: () => Error): Promise<() => void> {
    if (this.queue.length === 0 && this.compatible(mode)) return Promise.resolve(this.take(mode));
    onWait();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        mode,
        grant: () => {
          cleanup();
          resolve(this.take(mode));
        },
      };
      const drop = (error: Error): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        cleanup();
        reject(error);
        this.pump();
      };
      const timer = setTimeout(() => drop(timeoutError()), Math.max(0, deadline - Date.now()));
      const onAbort = (): void => drop(new CancelledError("cancelled while waiting for the warehouse"));
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private compatible(mode: Mode): boolean {
    return mode === "read" ? !this.writer : !this.writer && this.readers === 0;
  }

  private take(mode: Mode): () => void {
    if (mode === "read") this.readers++;
    else this.writer = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (mode === "read") this.readers--;
      else this.writer = false;
      this.pump();
    };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (!head || !this.compatible(head.mode)) return;
      this.queue.shift();
      head.grant();
    }
  }
}

const gates = new Map<string, Gate>();
/** Warehouse files the current async call chain has open (to catch nested withWarehouse calls). */
const heldHere = new AsyncLocalStorage<Set<string>>();

function gateFor(file: string): Gate {
  const key = path.resolve(file);
  let gate = gates.get(key);
  if (!gate) {
    gate = new Gate();
    gates.set(key, gate);
  }
  return gate;
}

async function openWithRetry(
  target: string,
  mode: Mode,
  deadline: number,
  signal: AbortSignal | undefined,
  onWait: () => void,
  timeoutError: () => Error,
): Promise<DuckDBInstance> {
  let delay = 20;
  for (;;) {
    throwIfAborted(signal);
    try {
      return await DuckDBInstance.create(target, mode === "read" && target !== ":memory:" ? { access_mode: "READ_ONLY" } : {});
    } catch (error) {
      if (!isLockConflict(error)) {
        throw new SluiceError(`could not open the warehouse ${target}: ${(error as Error).message}`, { cause: error, context: { stage: "warehouse" } });
      }
      const left = deadline - Date.now();
      if (left <= 0) throw timeoutError();
      onWait();
      // Full jitter so several waiting processes do not retry in lockstep.
      await sleep(Math.min(left, Math.random() * delay + 5), undefined, signal ? { signal } : undefined).catch(() => undefined);
      delay = Math.min(delay * 2, 500);
    }
  }
}

/** DuckDB reports a file lock conflict only through its message; this is the one place we read it. */
function isLockConflict(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Could not set lock on file|Conflicting lock/i.test(message);
}

function busyError(file: string, waitMs: number): LockError {
  return new WarehouseBusyError(`the warehouse ${file} stayed busy for ${Math.round(waitMs / 1000)} s`, {
    context: { stage: "warehouse" },
    hint: "another process has it open (a sluice load, or a DuckDB session on the file); retry when it is done, and close long-lived DuckDB sessions (query through `sluice query` instead)",
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("cancelled before the warehouse was opened");
}

// ---------------------------------------------------------------------------------------------
// Schema

const SLUICE_DDL = [
  "CREATE SCHEMA IF NOT EXISTS sluice",
  "CREATE SCHEMA IF NOT EXISTS lake",
  `CREATE TABLE IF NOT EXISTS sluice.runs (
     run_id VARCHAR, job VARCHAR, dt DATE, status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
     rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, error VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS sluice.quarantine (
     run_id VARCHAR, job VARCHAR, dt DATE, table_name VARCHAR, record VARCHAR, reason VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS sluice.checks (
     run_id VARCHAR, job VARCHAR, table_name VARCHAR, dt DATE, check_name VARCHAR, columns VARCHAR, severity VARCHAR,
     action VARCHAR, passed BOOLEAN, failing_rows BIGINT, sample VARCHAR, checked_at TIMESTAMPTZ)`,
];

async function ensureSluiceSchema(conn: DuckDBConnection): Promise<void> {
  for (const ddl of SLUICE_DDL) await conn.run(ddl);
}

async function tableExists(conn: DuckDBConnection, schema: string, table: string): Promise<boolean> {
  const r = await conn.runAndReadAll(
    "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2",
    [schema, table],
  );
  return Number(r.getRows()[0]?.[0] ?? 0) > 0;
}

/** Column name -> DuckDB's canonical type name, in table order. */
async function tableColumns(conn: DuckDBConnection, table: string): Promise<Map<string, string>> {
  const r = await conn.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return new Map(r.getRows().map((row) => [String(row[0]), String(row[1])]));
}

const canonicalCache = new Map<string, string>();

/** The spec's types as DuckDB names them (TIMESTAMPTZ -> TIMESTAMP WITH TIME ZONE), validating them. */
async function canonicalTypes(conn: DuckDBConnection, table: TableSpec): Promise<Map<string, string>> {
  const unknown = [...new Set(table.columns.map((c) => c.type).filter((t) => !canonicalCache.has(t)))];
  for (const type of unknown) {
    try {
      const r = await conn.runAndReadAll(`SELECT typeof(CAST(NULL AS ${type}))`);
      canonicalCache.set(type, String(r.getRows()[0]?.[0]));
    } catch (error) {
      const column = table.columns.find((c) => c.type === type)?.name ?? "?";
      throw new ConfigError(`table ${table.name} declares column ${column} with type "${type}", which DuckDB does not know`, {
        cause: error,
        context: { table: table.name },
        hint: "use a DuckDB type: VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMPTZ, DATE",
      });
    }
  }
  return new Map(table.columns.map((c) => [c.name, canonicalCache.get(c.type) ?? c.type]));
}

function checkSpec(table: TableSpec): void {
  const names = new Set(table.columns.map((c) => c.name));
  const fail = (message: string): never => {
    throw new ConfigError(`table ${table.name}: ${message}`, { context: { table: table.name } });
  };
  if (names.size !== table.columns.length) fail("a column is declared twice");
  if (table.key.length === 0) fail("needs a key (the columns MERGE matches rows on)");
  for (const k of table.key) if (!names.has(k)) fail(`key column ${k} is not among its columns`);
  if (table.versionColumn !== undefined && !names.has(table.versionColumn)) fail(`versionColumn ${table.versionColumn} is not among its columns`);
  if (table.partitioned && !names.has("dt")) fail("is partitioned, so it needs a dt DATE column");
}

async function createTable(conn: DuckDBConnection, table: TableSpec, types: Map<string, string>): Promise<void> {
  const cols = table.columns.map((c) => `${ident(c.name)} ${types.get(c.name) ?? c.type}`).join(", ");
  await conn.run(`CREATE TABLE IF NOT EXISTS main.${ident(table.name)} (${cols})`);
}

async function createLakeView(conn: DuckDBConnection, table: string, tableDir: string): Promise<void> {
  const glob = `${path.resolve(tableDir)}/*/*.parquet`;
  await conn.run(
    `CREATE OR REPLACE VIEW lake.${ident(table)} AS
     SELECT * FROM read_parquet(${literal(glob)}, hive_partitioning = true, union_by_name = true)`,
  );
}

/** Views for the tables just loaded, when their Parquet sits in the lake layout (…/lake/<table>/dt=…/). */
async function refreshLakeViews(conn: DuckDBConnection, loads: readonly PartitionLoad[]): Promise<void> {
  const dirs = new Map<string, string>();
  for (const load of loads) {
    const partitionDir = path.dirname(load.parquetPath);
    const tableDir = path.dirname(partitionDir);
    if (path.basename(partitionDir).startsWith("dt=") && path.basename(tableDir) === load.table.name && path.basename(path.dirname(tableDir)) === "lake") {
      dirs.set(load.table.name, tableDir);
    }
  }
  for (const [table, dir] of dirs) await createLakeView(conn, table, dir);
}

// ---------------------------------------------------------------------------------------------
// Loading one partition

const INT_LADDER = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"];
const UINT_LADDER = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];
const FLOAT_LADDER = ["FLOAT", "DOUBLE"];
const INTEGERS = new Set([...INT_LADDER, ...UINT_LADDER]);
const TEMPORAL = new Set(["DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"]);

/** True when every value of `from` fits `to` unchanged, so the table's column can be widened in place. */
function isWidening(from: string, to: string): boolean {
  for (const ladder of [INT_LADDER, UINT_LADDER, FLOAT_LADDER]) {
    const a = ladder.indexOf(from);
    const b = ladder.indexOf(to);
    if (a >= 0 && b >= 0) return a <= b;
  }
  return false;
}

/** True when reading a Parquet column of type `from` as `to` is a plain cast (possibly range-checked). */
function isReadable(from: string, to: string): boolean {
  if (from === to || from === "NULL" || "VARCHAR" === to) return true;
  const isFloat = (t: string): boolean => FLOAT_LADDER.includes(t) || t.startsWith("DECIMAL");
  if (INTEGERS.has(from) && (INTEGERS.has(to) || isFloat(to))) return true;
  if (isFloat(from) && isFloat(to)) return true;
  return TEMPORAL.has(from) && TEMPORAL.has(to);
}

async function loadPartition(conn: DuckDBConnection, load: PartitionLoad, index: number, job: string): Promise<LoadCounts> {
  const spec = load.table;
  const context = { job, table: spec.name, partition: load.dt, stage: "load" };
  checkSpec(spec);
  const specTypes = await canonicalTypes(conn, spec);
  await createTable(conn, spec, specTypes);
  const targetTypes = await evolveSchema(conn, spec, specTypes, context);

  const fileTypes = await parquetColumns(conn, load.parquetPath, context);
  const stage = `__sluice_stage_${index}`;
  const select = spec.columns.map((c) => stagingExpr(c, spec, load, fileTypes, targetTypes, context)).join(",\n       ");
  await conn.run(`DROP TABLE IF EXISTS temp.main.${ident(stage)}`);
  try {
    await conn.run(`CREATE TEMP TABLE ${ident(stage)} AS SELECT ${select} FROM read_parquet(${literal(load.parquetPath)})`);
  } catch (error) {
    throw new SchemaError(`could not read ${load.parquetPath} as table ${spec.name}: ${(error as Error).message}`, {
      cause: error,
      context,
      hint: "the lake file does not match the table's declared column types; fix the transform's output types",
    });
  }
  try {
    await checkStaging(conn, stage, spec, load.dt, context);
    return await mergeStaging(conn, stage, spec, load.dt);
  } finally {
    await conn.run(`DROP TABLE IF EXISTS temp.main.${ident(stage)}`);
  }
}

/**
 * Brings the table's columns in line with the spec: adds missing (nullable) columns, widens a
 * column in place when the spec's type holds every old value, and refuses anything else.
 * Returns the type each spec column has in the table afterwards.
 */
async function evolveSchema(
  conn: DuckDBConnection,
  spec: TableSpec,
  specTypes: Map<string, string>,
  context: { job: string; table: string; partition: string; stage: string },
): Promise<Map<string, string>> {
  const existing = await tableColumns(conn, spec.name);
  const result = new Map<string, string>();
  for (const column of spec.columns) {
    const want = specTypes.get(column.name) ?? column.type;
    const have = existing.get(column.name);
    if (have === undefined) {
      if (spec.key.includes(column.name)) {
        throw new SchemaError(`table ${spec.name} has no column ${column.name}, which is now part of its key`, {
          context,
          hint: `a key change needs a rebuild: drop table main.${spec.name} (the lake keeps the data) and rerun the partitions`,
        });
      }
      // New columns are nullable: rows loaded before stay as they were, with NULL here.
      await conn.run(`ALTER TABLE main.${ident(spec.name)} ADD COLUMN ${ident(column.name)} ${want}`);
      result.set(column.name, want);
    } else if (have === want || isWidening(want, have)) {
      result.set(column.name, have);
    } else if (isWidening(have, want)) {
      await conn.run(`ALTER TABLE main.${ident(spec.name)} ALTER COLUMN ${ident(column.name)} SET DATA TYPE ${want}`);
      result.set(column.name, want);
    } else {
      throw new SchemaError(`table ${spec.name} column ${column.name} is ${have} in the warehouse but the job now declares ${want}`, {
        context,
        hint: `that change is not a safe widening: either keep ${column.name} as ${have} in the job, add a new column with the new type, or drop table main.${spec.name} (the lake keeps the data) and rerun the partitions`,
      });
    }
  }
  return result;
}

async function parquetColumns(conn: DuckDBConnection, file: string, context: Record<string, string>): Promise<Map<string, string>> {
  try {
    const r = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(file)})`);
    const types = new Map(r.getRows().map((row) => [String(row[0]), String(row[1])]));
    // Polars writes an all-null column (dtype Null) as INT32 with logical type Null, which DuckDB
    // reads as INTEGER: it casts to any declared type, so call it NULL.
    const nulls = await conn.runAndReadAll(`SELECT name FROM parquet_schema(${literal(file)}) WHERE CAST(logical_type AS VARCHAR) LIKE 'NullType%'`);
    for (const row of nulls.getRows()) if (types.has(String(row[0]))) types.set(String(row[0]), "NULL");
    return types;
  } catch (error) {
    throw new SluiceError(`could not read the lake file ${file}: ${(error as Error).message}`, { cause: error, context });
  }
}

function stagingExpr(
  column: ColumnSpec,
  spec: TableSpec,
  load: PartitionLoad,
  fileTypes: Map<string, string>,
  targetTypes: Map<string, string>,
  context: Record<string, string>,
): string {
  const type = targetTypes.get(column.name) ?? column.type;
  const fileType = fileTypes.get(column.name);
  if (fileType === undefined) {
    if (spec.partitioned && column.name === "dt") return `CAST(${literal(load.dt)} AS ${type}) AS ${ident("dt")}`;
    if (spec.key.includes(column.name)) {
      throw new SchemaError(`${load.parquetPath} has no column ${column.name}, part of the key of table ${spec.name}`, { context });
    }
    return `CAST(NULL AS ${type}) AS ${ident(column.name)}`;
  }
  if (!isReadable(fileType, type)) {
    throw new SchemaError(`table ${spec.name} column ${column.name} is ${type} but the lake file has ${fileType}`, {
      context,
      hint: `cast ${column.name} to the declared type in the transform, or change the declared type`,
    });
  }
  return `CAST(${ident(column.name)} AS ${type}) AS ${ident(column.name)}`;
}

/** MERGE needs unique, non-null keys (else it inserts duplicates), and a partition only its own rows. */
async function checkStaging(conn: DuckDBConnection, stage: string, spec: TableSpec, dt: string, context: Record<string, string>): Promise<void> {
  const keys = spec.key.map(ident);
  const distinct = keys.length === 1 ? `count(DISTINCT ${keys[0]})` : `count(DISTINCT (${keys.join(", ")}))`;
  const nullKey = keys.map((k) => `${k} IS NULL`).join(" OR ");
  const outside = spec.partitioned ? `count(*) FILTER (WHERE ${ident("dt")} IS DISTINCT FROM DATE ${literal(dt)})` : "0";
  const r = await conn.runAndReadAll(`SELECT count(*), ${distinct}, count(*) FILTER (WHERE ${nullKey}), ${outside} FROM ${ident(stage)}`);
  const [rows, unique, nulls, foreign] = (r.getRows()[0] ?? []).map((v) => Number(v ?? 0));
  const key = spec.key.join(", ");
  if (nulls) {
    throw new SchemaError(`${nulls} rows of table ${spec.name} for ${dt} have a NULL key (${key})`, {
      context,
      hint: `add a not_null check on ${key} (action quarantine) so such rows are quarantined instead`,
    });
  }
  if (rows !== unique) {
    throw new SchemaError(`table ${spec.name} for ${dt} has ${(rows ?? 0) - (unique ?? 0)} rows with a duplicate key (${key})`, {
      context,
      hint: `deduplicate on ${key} in the transform, or add a unique check on it`,
    });
  }
  if (foreign) {
    throw new SchemaError(`${foreign} rows of the ${dt} partition of table ${spec.name} have another dt`, {
      context,
      hint: "split the frame by dt and materialize each partition separately",
    });
  }
}

async function mergeStaging(conn: DuckDBConnection, stage: string, spec: TableSpec, dt: string): Promise<LoadCounts> {
  const cols = spec.columns.map((c) => c.name);
  const nonKey = cols.filter((c) => !spec.key.includes(c));
  const target = `main.${ident(spec.name)}`;
  const on = spec.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(" AND ");
  // A matched row is only touched when it really changes: a rerun with the same data writes nothing.
  let changed = nonKey.length > 0 ? `(${nonKey.map((c) => `t.${ident(c)} IS DISTINCT FROM s.${ident(c)}`).join(" OR ")})` : "false";
  if (spec.versionColumn !== undefined && nonKey.length > 0) {
    const v = ident(spec.versionColumn);
    changed += ` AND (t.${v} IS NULL OR s.${v} >= t.${v})`;
  }
  const partition = spec.partitioned ? `t.${ident("dt")} = DATE ${literal(dt)}` : "false";

  // Count what the MERGE will do with two hash joins (far cheaper than MERGE ... RETURNING row by
  // row), then skip the MERGE when nothing changes and use a plain INSERT for a brand-new partition.
  const firstKey = ident(spec.key[0] as string);
  const plan = await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE t.${firstKey} IS NULL), count(*) FILTER (WHERE t.${firstKey} IS NOT NULL AND ${changed}), count(*)
     FROM ${ident(stage)} s LEFT JOIN ${target} t ON ${on}`,
  );
  const [inserted, updated, staged] = (plan.getRows()[0] ?? []).map((v) => Number(v ?? 0));
  const gone = spec.partitioned
    ? await conn.runAndReadAll(`SELECT count(*) FROM ${target} t WHERE ${partition} AND NOT EXISTS (SELECT 1 FROM ${ident(stage)} s WHERE ${on})`)
    : undefined;
  const counts: LoadCounts = { inserted: inserted ?? 0, updated: updated ?? 0, deleted: Number(gone?.getRows()[0]?.[0] ?? 0) };

  if (counts.inserted + counts.updated + counts.deleted === 0) return counts;
  if (counts.updated === 0 && counts.deleted === 0 && counts.inserted === staged) {
    await conn.run(`INSERT INTO ${target} (${cols.map(ident).join(", ")}) SELECT ${cols.map(ident).join(", ")} FROM ${ident(stage)}`);
    return counts;
  }
  const clauses: string[] = [];
  if (nonKey.length > 0) clauses.push(`WHEN MATCHED AND ${changed} THEN UPDATE SET ${nonKey.map((c) => `${ident(c)} = s.${ident(c)}`).join(", ")}`);
  clauses.push(`WHEN NOT MATCHED THEN INSERT (${cols.map(ident).join(", ")}) VALUES (${cols.map((c) => `s.${ident(c)}`).join(", ")})`);
  if (spec.partitioned) clauses.push(`WHEN NOT MATCHED BY SOURCE AND ${partition} THEN DELETE`);
  await conn.run(`MERGE INTO ${target} AS t USING ${ident(stage)} AS s ON ${on}\n    ${clauses.join("\n    ")}`);
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping: quarantine, checks, runs

/**
 * Replaces the quarantine set of (job, dt) for the given dts as a multiset diff on
 * (dt, table_name, record, reason): rows no longer present are deleted, new ones inserted with this
 * run_id, and unchanged ones stay untouched (original run_id), so a rerun with the same data changes no row.
 */
async function replaceQuarantine(conn: DuckDBConnection, run: RunRecord, quarantine: LoadTransaction["quarantine"]): Promise<void> {
  const scope = new Set(quarantine.dts ?? [run.dt]);
  for (const row of quarantine.rows) scope.add(row.dt ?? run.dt);
  if (scope.size === 0) return;
  await conn.run("DROP TABLE IF EXISTS temp.main.__sluice_q_in");
  await conn.run("CREATE TEMP TABLE __sluice_q_in (dt VARCHAR, table_name VARCHAR, record VARCHAR, reason VARCHAR)");
  try {
    if (quarantine.rows.length > 0) {
      const appender = await conn.createAppender("__sluice_q_in", "main", "temp");
      try {
        for (const row of quarantine.rows) {
          appender.appendVarchar(row.dt ?? run.dt);
          appender.appendVarchar(row.table);
          appender.appendVarchar(row.record);
          appender.appendVarchar(row.reason);
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    }
    const dts = [...scope];
    const inList = dts.map((_, i) => `CAST($${i + 2} AS DATE)`).join(", ");
    const params = [run.job, ...dts];
    // Occurrence numbers make identical records (same record, same reason) count as many as they are.
    const occ = "row_number() OVER (PARTITION BY dt, table_name, record, reason ORDER BY rid)";
    await conn.run(`CREATE OR REPLACE TEMP TABLE __sluice_q_new AS
      SELECT dt, table_name, record, reason, ${occ} AS occ
      FROM (SELECT CAST(dt AS DATE) AS dt, table_name, record, reason, rowid AS rid FROM __sluice_q_in)`);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE __sluice_q_old AS
       SELECT rid, dt, table_name, record, reason, ${occ} AS occ
       FROM (SELECT rowid AS rid, dt, table_name, record, reason FROM sluice.quarantine WHERE job = $1 AND dt IN (${inList}))`,
      params,
    );
    const same = "n.dt = o.dt AND n.table_name = o.table_name AND n.record = o.record AND n.reason = o.reason AND n.occ = o.occ";
    await conn.run(`DELETE FROM sluice.quarantine WHERE rowid IN (
      SELECT o.rid FROM __sluice_q_old o WHERE NOT EXISTS (SELECT 1 FROM __sluice_q_new n WHERE ${same}))`);
    await conn.run(
      `INSERT INTO sluice.quarantine (run_id, job, dt, table_name, record, reason)
       SELECT $1, $2, n.dt, n.table_name, n.record, n.reason FROM __sluice_q_new n
       WHERE NOT EXISTS (SELECT 1 FROM __sluice_q_old o WHERE ${same})`,
      [run.runId, run.job],
    );
  } finally {
    for (const t of ["__sluice_q_in", "__sluice_q_new", "__sluice_q_old"]) await conn.run(`DROP TABLE IF EXISTS temp.main.${t}`);
  }
}

async function appendChecks(conn: DuckDBConnection, run: RunRecord, checks: LoadTransaction["checks"]): Promise<void> {
  if (checks.length === 0) return;
  const checkedAt = new Date().toISOString();
  const values: Array<string | number | boolean | null> = [];
  const rows: string[] = [];
  for (const c of checks) {
    const n = values.length;
    const p = (i: number): string => `$${n + i}`;
    rows.push(
      `(${p(1)}, ${p(2)}, ${p(3)}, CAST(${p(4)} AS DATE), ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, CAST(${p(9)} AS BOOLEAN), CAST(${p(10)} AS BIGINT), ${p(11)}, CAST(${p(12)} AS TIMESTAMPTZ))`,
    );
    values.push(run.runId, run.job, c.table, c.dt, c.check, c.columns.join(","), c.severity, c.action, c.passed, c.failingRows, jsonText(c.sample), checkedAt);
  }
  await conn.run(
    `INSERT INTO sluice.checks (run_id, job, table_name, dt, check_name, columns, severity, action, passed, failing_rows, sample, checked_at)
     VALUES ${rows.join(", ")}`,
    values,
  );
}

/** One MERGE statement, so it is atomic even outside a transaction. */
async function upsertRun(conn: DuckDBConnection, run: RunRecord): Promise<void> {
  await conn.run(
    `MERGE INTO sluice.runs AS t
     USING (SELECT $1 AS run_id, $2 AS job, CAST($3 AS DATE) AS dt, $4 AS status, CAST($5 AS TIMESTAMPTZ) AS started_at,
                   CAST($6 AS TIMESTAMPTZ) AS finished_at, CAST($7 AS BIGINT) AS rows_in, CAST($8 AS BIGINT) AS rows_loaded,
                   CAST($9 AS BIGINT) AS rows_quarantined, CAST($10 AS VARCHAR) AS error) AS s
     ON t.run_id = s.run_id
     WHEN MATCHED THEN UPDATE SET job = s.job, dt = s.dt, status = s.status, started_at = s.started_at, finished_at = s.finished_at,
       rows_in = s.rows_in, rows_loaded = s.rows_loaded, rows_quarantined = s.rows_quarantined, error = s.error
     WHEN NOT MATCHED THEN INSERT (run_id, job, dt, status, started_at, finished_at, rows_in, rows_loaded, rows_quarantined, error)
       VALUES (s.run_id, s.job, s.dt, s.status, s.started_at, s.finished_at, s.rows_in, s.rows_loaded, s.rows_quarantined, s.error)`,
    [
      run.runId,
      run.job,
      run.dt,
      run.status,
      run.startedAt.toISOString(),
      run.finishedAt ? run.finishedAt.toISOString() : null,
      run.rowsIn,
      run.rowsLoaded,
      run.rowsQuarantined,
      run.error,
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// Values

/** A DuckDB value as plain JSON: bigint as number when safe (else string), timestamps as ISO strings. */
export function toJsonValue(value: DuckDBValue): unknown {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return bigintToJson(value);
  if (value instanceof DuckDBTimestampTZValue) return microsToIso(value.micros, "Z");
  if (value instanceof DuckDBTimestampValue) return microsToIso(value.micros, "");
  if (value instanceof DuckDBTimestampMillisecondsValue) return microsToIso(value.millis * 1000n, "");
  if (value instanceof DuckDBTimestampSecondsValue) return microsToIso(value.seconds * 1_000_000n, "");
  if (value instanceof DuckDBTimestampNanosecondsValue) return microsToIso(value.nanos / 1000n, "");
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(toJsonValue);
  if (value instanceof DuckDBStructValue) return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toJsonValue(v)]));
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: toJsonValue(e.key), value: toJsonValue(e.value) }));
  if (value instanceof DuckDBUnionValue) return toJsonValue(value.value);
  if (value instanceof DuckDBBlobValue) return value.toString();
  return String(value);
}

function bigintToJson(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** ISO 8601 with milliseconds, or microseconds when there are any; "infinity" for infinite values. */
function microsToIso(micros: bigint, zone: "Z" | ""): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return micros > 0n ? "infinity" : "-infinity";
  const subMs = Number(((micros % 1000n) + 1000n) % 1000n);
  const iso = date.toISOString().slice(0, -1); // drop the Z
  return `${iso}${subMs === 0 ? "" : String(subMs).padStart(3, "0")}${zone}`;
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? bigintToJson(v) : v)) ?? "null";
}

/** A double-quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted SQL string literal. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Loading one partition into its table: stage the lake file as the table's types, refuse keys
 * MERGE cannot handle, count the changes exactly, then write only what changes (nothing, a plain
 * INSERT for a new partition, or one MERGE). Runs inside the caller's transaction.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { PartitionShrinkError, SchemaError, SluiceError, type ErrorContext } from "../core/errors.ts";
import { isReadable } from "./column-types.ts";
import { literalFilePattern } from "./lake.ts";
import { prepareTable } from "./schema.ts";
import type { PartitionCheck } from "./run-ledger.ts";
import { ident, literal } from "./sql-values.ts";
import type { ColumnSpec, PartitionLoad, TableSpec } from "./types.ts";

/** Row counts of a load; exact, counted with joins against the staging table before the MERGE. */
export interface LoadCounts {
  inserted: number;
  updated: number;
  deleted: number;
  /** What the load let pass but the run should say (a shrink a table only warns about, a lake view not created); absent when none. */
  warnings?: string[];
  /** Check rows the load adds to sluice.checks: a shrink past maxShrink that was let through (warn). */
  checks?: PartitionCheck[];
}

/** The default of TableSpec.maxShrink: a rerun may remove at most half of a loaded partition's rows. */
export const DEFAULT_MAX_SHRINK = 0.5;

/** Stages `load` (the `index`th of its transaction), checks its keys and merges it into its table. */
export async function mergePartition(conn: DuckDBConnection, load: PartitionLoad, index: number, job: string, options: { allowShrink?: boolean } = {}): Promise<LoadCounts> {
  const spec = load.table;
  const context = { job, table: spec.name, partition: load.dt, stage: "load" };
  const targetTypes = await prepareTable(conn, spec, context);
  const stage = `__sluice_stage_${index}`;
  const kind = stageKind(load);
  const fileTypes = await parquetColumns(conn, load, context);
  await stagePartition(conn, stage, kind, load, { file: fileTypes, target: targetTypes }, context);
  try {
    const stagedRows = await checkStagedKeys(conn, stage, spec, load.dt, context, writerCounts(load, fileTypes, targetTypes));
    const tombstones = await takeTombstones(conn, stage, spec);
    const sql = mergeSql(stage, spec, load.dt, load.replaceAll === true);
    const counts = await countChanges(conn, sql, spec, tombstones ? null : stagedRows);
    const shrink = guardShrink(spec, load.dt, counts, context, options.allowShrink === true);
    await applyChanges(conn, sql, spec, counts);
    const deleted = tombstones ? await deleteTombstones(conn, tombstones, spec) : 0;
    const reported = shrink ? { checks: [shrink.check], ...(shrink.warning ? { warnings: [shrink.warning] } : {}) } : {};
    return { inserted: counts.inserted, updated: counts.updated, deleted: counts.deleted + deleted, ...reported };
  } finally {
    await dropStage(conn, stage, kind);
    if (spec.deleteWhen) await conn.run(`DROP TABLE IF EXISTS temp.main.${ident(`${stage}_deleted`)}`);
  }
}

/** Moves the staged rows the API reports as deleted (spec.deleteWhen) out of the stage, into `<stage>_deleted`. */
async function takeTombstones(conn: DuckDBConnection, stage: string, spec: TableSpec): Promise<string | null> {
  const rule = spec.deleteWhen;
  if (!rule) return null;
  const doomed = `${stage}_deleted`;
  const where = `${ident(rule.column)} = $1`;
  await conn.run(`CREATE TEMP TABLE ${ident(doomed)} AS SELECT ${spec.key.map(ident).join(", ")} FROM ${ident(stage)} WHERE ${where}`, [rule.equals]);
  await conn.run(`DELETE FROM ${ident(stage)} WHERE ${where}`, [rule.equals]);
  return doomed;
}

/** Deletes the table's rows whose key was reported deleted; returns how many. */
async function deleteTombstones(conn: DuckDBConnection, doomed: string, spec: TableSpec): Promise<number> {
  const on = spec.key.map((k) => `t.${ident(k)} = d.${ident(k)}`).join(" AND ");
  const target = `main.${ident(spec.name)}`;
  const r = await conn.runAndReadAll(`SELECT count(*) FROM ${target} t WHERE EXISTS (SELECT 1 FROM ${ident(doomed)} d WHERE ${on})`);
  const n = Number(r.getRows()[0]?.[0] ?? 0);
  if (n > 0) await conn.run(`DELETE FROM ${target} t WHERE EXISTS (SELECT 1 FROM ${ident(doomed)} d WHERE ${on})`);
  return n;
}

/**
 * A rerun that would shrink a loaded partition by more than its table's maxShrink: throws
 * PartitionShrinkError (onShrink "fail", no --allow-shrink); otherwise the load goes on and the
 * shrink is reported as a failed warn-level check row (plus a warning for onShrink "warn"). The
 * volume check compares a partition with its neighbours' history and cannot see this: only the
 * load knows what the partition held before. Null when the partition did not shrink that much.
 */
function guardShrink(spec: TableSpec, dt: string, counts: ChangeCounts, context: ErrorContext, allowShrink: boolean): { check: PartitionCheck; warning: string | null } | null {
  const limit = spec.maxShrink ?? DEFAULT_MAX_SHRINK;
  if (!spec.partitioned || counts.before === 0 || limit >= 1) return null;
  const share = (counts.before - counts.staged) / counts.before;
  if (share <= limit) return null;
  const what = `loading ${spec.name} for ${dt} would shrink it from ${counts.before} to ${counts.staged} rows (-${Math.round(share * 100)}%, ${counts.deleted} deleted), more than the ${Math.round(limit * 100)}% its table allows`;
  const check: PartitionCheck = {
    check: `${spec.name}: no shrink of the loaded partition`, kind: "shrink", table: spec.name, columns: [], dt,
    severity: "warn", action: "quarantine", passed: false, failingRows: counts.deleted, sample: [],
    observed: counts.staged, lower: Math.ceil(counts.before * (1 - limit)), upper: null,
    detail: `shrank from ${counts.before} to ${counts.staged} rows (-${Math.round(share * 100)}%), more than the ${Math.round(limit * 100)}% its table allows; loaded ${allowShrink ? "with --allow-shrink" : "as the table's onShrink is warn"}`,
  };
  if (allowShrink) return { check, warning: null };
  if (spec.onShrink === "warn") return { check, warning: what };
  throw new PartitionShrinkError(what, {
    context,
    hint: `nothing was loaded; if the source really lost those rows, rerun with --allow-shrink; an empty or short listing is more often an API fault (check with: sluice run ${context.job ?? "<job>"} --date ${dt} --refetch --preview)`,
  });
}

/**
 * Stages the lake file as `stage`, every column cast to the type it has in the table: a temp view
 * over the file (a large day's copy would exceed the load's memory limit and spill to disk; reading
 * the Parquet file again is cheaper), or a temp table when it is small (read once instead of at
 * every step) or tombstones are taken out of it. Every cast that may fail runs here, so a file the
 * table cannot take fails as a SchemaError before anything is written.
 */
async function stagePartition(conn: DuckDBConnection, stage: string, kind: StageKind, load: PartitionLoad, types: { file: Map<string, string>; target: Map<string, string> }, context: ErrorContext): Promise<void> {
  const spec = load.table;
  const { file: fileTypes, target: targetTypes } = types;
  const select = spec.columns.map((c) => stagingExpr(c, load, fileTypes, targetTypes, context)).join(",\n       ");
  const converted = spec.columns.filter((c) => ![undefined, "NULL", targetTypes.get(c.name) ?? c.type].includes(fileTypes.get(c.name))).map((c) => `count(${ident(c.name)})`);
  try {
    // OR REPLACE: a stage a failed load left on this connection (its drop failed too) is taken over.
    await conn.run(`CREATE OR REPLACE TEMP ${kind} ${ident(stage)} AS SELECT ${select} FROM read_parquet(${literal(literalFilePattern(load.parquetPath))})`);
    if (kind === "VIEW" && converted.length > 0) await conn.run(`SELECT ${converted.join(", ")} FROM ${ident(stage)}`);
  } catch (error) {
    await dropStage(conn, stage, kind).catch(() => undefined);
    throw new SchemaError(`could not read ${load.parquetPath} as table ${spec.name}: ${(error as Error).message}`, {
      cause: error,
      context,
      hint: "the lake file does not match the table's declared column types; fix the transform's output types",
    });
  }
}

type StageKind = "VIEW" | "TABLE";

/** Partitions of up to this many rows are staged as a temp table: a copy that small costs less than reading the file at every step. */
const SMALL_STAGE_ROWS = 50_000;

/** What a partition is staged as: a view over the lake file, or a table when it is small or tombstones are taken out of it. */
function stageKind(load: PartitionLoad): StageKind {
  return load.table.deleteWhen || (load.rows !== undefined && load.rows <= SMALL_STAGE_ROWS) ? "TABLE" : "VIEW";
}

/** Drops the staging view or table `stage` if it exists (no information_schema lookup: ~5 ms each, twice per load). */
async function dropStage(conn: DuckDBConnection, stage: string, kind: StageKind): Promise<void> {
  await conn.run(`DROP ${kind} IF EXISTS temp.main.${ident(stage)}`);
}

/** Column name -> type of a lake file's columns as DuckDB reads them ("NULL" for an all-null column). */
async function parquetColumns(conn: DuckDBConnection, load: PartitionLoad, context: ErrorContext): Promise<Map<string, string>> {
  const file = load.parquetPath;
  try {
    const r = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(literalFilePattern(file))})`);
    const types = new Map(r.getRows().map((row) => [String(row[0]), String(row[1])]));
    // Polars writes an all-null column (dtype Null) as INT32 with logical type Null, which DuckDB
    // reads as INTEGER: it casts to any declared type, so call it NULL. The writer may have said
    // which they are (a second read of the file's footer saved).
    const nulls = load.nullColumns ?? (await conn.runAndReadAll(`SELECT name FROM parquet_schema(${literal(literalFilePattern(file))}) WHERE CAST(logical_type AS VARCHAR) LIKE 'NullType%'`)).getRows().map((row) => String(row[0]));
    for (const name of nulls) if (types.has(name)) types.set(name, "NULL");
    return types;
  } catch (error) {
    throw new SluiceError(`could not read the lake file ${file}: ${(error as Error).message}`, { cause: error, context });
  }
}

/** The staging SELECT expression of one column: the file's column cast, the partition's dt, or NULL. */
function stagingExpr(column: ColumnSpec, load: PartitionLoad, fileTypes: Map<string, string>, targetTypes: Map<string, string>, context: ErrorContext): string {
  const spec = load.table;
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

/** Rows staged, distinct non-null keys, rows with a null key, rows of another dt. */
type KeyCounts = [rows: number, unique: number, nulls: number, foreign: number];
/** KeyCounts but the dt count, which the writer does not count. */
type WriterCounts = [rows: number, unique: number, nulls: number];

/**
 * The writer's key counts (PartitionLoad.keyFaults) as WriterCounts, when they hold
 * for the staged rows: the key columns are staged without a cast. Null: the load counts them.
 */
function writerCounts(load: PartitionLoad, fileTypes: Map<string, string>, targetTypes: Map<string, string>): WriterCounts | null {
  const faults = load.keyFaults;
  if (!faults || load.rows === undefined) return null;
  if (load.table.key.some((k) => fileTypes.get(k) === undefined || fileTypes.get(k) !== targetTypes.get(k))) return null;
  return [load.rows, load.rows - faults.duplicateKeys - faults.nullKeys, faults.nullKeys];
}

/**
 * Counts the staged rows' keys in one pass; with the writer's counts (`known`) only the rows of
 * another dt, a scan without the hash table a distinct count needs (~8 ms even for a few rows).
 */
async function countStagedKeys(conn: DuckDBConnection, stage: string, spec: TableSpec, dt: string, known: WriterCounts | null): Promise<KeyCounts> {
  const outside = spec.partitioned ? `count(*) FILTER (WHERE ${ident("dt")} IS DISTINCT FROM DATE ${literal(dt)})` : "0";
  if (known) {
    const foreign = spec.partitioned ? Number((await conn.runAndReadAll(`SELECT ${outside} FROM ${ident(stage)}`)).getRows()[0]?.[0] ?? 0) : 0;
    return [known[0], known[1], known[2], foreign];
  }
  const keys = spec.key.map(ident);
  const distinct = keys.length === 1 ? `count(DISTINCT ${keys[0]})` : `count(DISTINCT (${keys.join(", ")}))`;
  const nullKey = keys.map((k) => `${k} IS NULL`).join(" OR ");
  const r = await conn.runAndReadAll(`SELECT count(*), ${distinct}, count(*) FILTER (WHERE ${nullKey}), ${outside} FROM ${ident(stage)}`);
  const [rows, unique, nulls, foreign] = (r.getRows()[0] ?? []).map((v) => Number(v ?? 0));
  return [rows ?? 0, unique ?? 0, nulls ?? 0, foreign ?? 0];
}

/** MERGE needs unique, non-null keys (else it inserts duplicates), and a partition only its own rows. */
async function checkStagedKeys(conn: DuckDBConnection, stage: string, spec: TableSpec, dt: string, context: ErrorContext, known: WriterCounts | null): Promise<number> {
  const [rows, unique, nulls, foreign] = await countStagedKeys(conn, stage, spec, dt, known);
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
  return rows ?? 0;
}

/** The SQL pieces that counting and applying one partition's changes share. */
interface MergeSql {
  /** The quoted staging table (alias s). */
  stage: string;
  /** The quoted target table (alias t). */
  target: string;
  columns: string[];
  nonKey: string[];
  /** Target row matches staged row. */
  on: string;
  /** A matched row really changes (and its version column does not go backwards). */
  changed: string;
  /** A target row belongs to this partition ("false" for an upserted table). */
  partition: string;
}

function mergeSql(stage: string, spec: TableSpec, dt: string, replaceAll = false): MergeSql {
  const columns = spec.columns.map((c) => c.name);
  const nonKey = columns.filter((c) => !spec.key.includes(c));
  // A matched row is only touched when it really changes: a rerun with the same data writes nothing.
  let changed = nonKey.length > 0 ? `(${nonKey.map((c) => `t.${ident(c)} IS DISTINCT FROM s.${ident(c)}`).join(" OR ")})` : "false";
  if (spec.versionColumn !== undefined && nonKey.length > 0) {
    const v = ident(spec.versionColumn);
    changed += ` AND (t.${v} IS NULL OR s.${v} >= t.${v})`;
  }
  return {
    stage: ident(stage),
    target: `main.${ident(spec.name)}`,
    columns,
    nonKey,
    on: spec.key.map((k) => `t.${ident(k)} = s.${ident(k)}`).join(" AND "),
    changed,
    partition: spec.partitioned ? `t.${ident("dt")} = DATE ${literal(dt)}` : replaceAll ? "true" : "false",
  };
}

/** What the MERGE will do, plus the partition's rows before it and the rows staged for it. */
interface ChangeCounts extends LoadCounts {
  staged: number;
  before: number;
}

/**
 * Counts what the MERGE will do with two hash joins (far cheaper than MERGE ... RETURNING row by row).
 * A partition the table does not hold yet (the usual first load of a day) needs no join: every
 * staged row is new. `stagedRows` is null when the stage changed after it was counted.
 */
async function countChanges(conn: DuckDBConnection, sql: MergeSql, spec: TableSpec, stagedRows: number | null): Promise<ChangeCounts> {
  if (stagedRows !== null && sql.partition !== "false" && sql.partition !== "true") {
    const held = await conn.runAndReadAll(`SELECT count(*) FROM ${sql.target} t WHERE ${sql.partition}`);
    if (Number(held.getRows()[0]?.[0] ?? 0) === 0) return { inserted: stagedRows, updated: 0, deleted: 0, staged: stagedRows, before: 0 };
  }
  const firstKey = ident(spec.key[0] as string);
  const plan = await conn.runAndReadAll(
    `SELECT count(*) FILTER (WHERE t.${firstKey} IS NULL), count(*) FILTER (WHERE t.${firstKey} IS NOT NULL AND ${sql.changed}), count(*)
     FROM ${sql.stage} s LEFT JOIN ${sql.target} t ON ${sql.on}`,
  );
  const [inserted, updated, staged] = (plan.getRows()[0] ?? []).map((v) => Number(v ?? 0));
  const gone = sql.partition !== "false"
    ? await conn.runAndReadAll(`SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${sql.stage} s WHERE ${sql.on})), count(*) FROM ${sql.target} t WHERE ${sql.partition}`)
    : undefined;
  const [deleted, before] = (gone?.getRows()[0] ?? []).map((v) => Number(v ?? 0));
  return { inserted: inserted ?? 0, updated: updated ?? 0, deleted: deleted ?? 0, staged: staged ?? 0, before: before ?? 0 };
}

/** Writes the counted changes: nothing when nothing changes, a plain INSERT for a brand-new partition, else one MERGE. */
async function applyChanges(conn: DuckDBConnection, sql: MergeSql, spec: TableSpec, counts: ChangeCounts): Promise<void> {
  if (counts.inserted + counts.updated + counts.deleted === 0) return;
  const cols = sql.columns.map(ident).join(", ");
  if (counts.updated === 0 && counts.deleted === 0 && counts.inserted === counts.staged) {
    await conn.run(`INSERT INTO ${sql.target} (${cols}) SELECT ${cols} FROM ${sql.stage}`);
    return;
  }
  const clauses: string[] = [];
  if (sql.nonKey.length > 0) clauses.push(`WHEN MATCHED AND ${sql.changed} THEN UPDATE SET ${sql.nonKey.map((c) => `${ident(c)} = s.${ident(c)}`).join(", ")}`);
  clauses.push(`WHEN NOT MATCHED THEN INSERT (${cols}) VALUES (${sql.columns.map((c) => `s.${ident(c)}`).join(", ")})`);
  if (sql.partition !== "false") clauses.push(`WHEN NOT MATCHED BY SOURCE AND ${sql.partition} THEN DELETE`);
  await conn.run(`MERGE INTO ${sql.target} AS t USING ${sql.stage} AS s ON ${sql.on}\n    ${clauses.join("\n    ")}`);
}

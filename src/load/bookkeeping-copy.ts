/**
 * A copy of the warehouse's bookkeeping (sluice.runs, quarantine, checks, requests, state) in the lake, so
 * the lake is a whole backup: `sluice warehouse rebuild` restores the data tables from their
 * partitions and the bookkeeping from this copy.
 *
 * Layout, under `<dataDir>/lake/_sluice/`: `<table>/job=<job>/dt=<dt>/data.parquet` for runs,
 * quarantine and checks (the rows of one job's partition day), `requests/job=<job>/data.parquet`
 * (a job's requested days), `state/job=<job>/data.parquet` (its incremental marks); a day that
 * never had a quarantined row has no quarantine file. Each file is rewritten whole and atomically
 * (temp file, fsync, rename) by the warehouse session that changed its rows, right after the
 * change: a copy lags the warehouse only if the process dies between the two, and the next write
 * of that partition brings it level. One exception: a run's 'running' row is copied with its
 * outcome (or, if the process dies, when the next run marks it abandoned), as that copy would be
 * replaced a moment later.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { replaceAtomically } from "../core/fs.ts";
import { BOOKKEEPING_DIR } from "./lake.ts";
import { tableExists } from "./schema.ts";
import { literal } from "./sql-values.ts";

/** Bookkeeping tables copied per job and partition day. */
export const PER_PARTITION_TABLES = ["runs", "quarantine", "checks"] as const;

/** Bookkeeping tables copied per job: requested days and incremental marks. */
export const PER_JOB_TABLES = ["requests", "state"] as const;
type PerJobTable = (typeof PER_JOB_TABLES)[number];

/** A job's partition day, whose bookkeeping rows are copied together. */
export interface PartitionKey {
  job: string;
  dt: string;
}

const JOB_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const DT_RE = /^\d{4}-\d{2}-\d{2}$/;

/** The lake directory of the bookkeeping copy. */
export function bookkeepingDir(dataDir: string): string {
  return path.join(dataDir, "lake", BOOKKEEPING_DIR);
}

/** The glob (relative to the data dir) of a bookkeeping table's copy files. */
export function bookkeepingGlob(table: string): string {
  return (PER_JOB_TABLES as readonly string[]).includes(table) ? `lake/${BOOKKEEPING_DIR}/${table}/*/data.parquet` : `lake/${BOOKKEEPING_DIR}/${table}/*/*/data.parquet`;
}

/** What a copy may skip or must add beyond the partitions' runs, quarantine and checks. */
export interface CopyOptions {
  /** Also copy this job's marks (sluice.state). */
  marksOf?: string;
  /**
   * Partitions known to hold no quarantined rows now: one that has no quarantine file needs no
   * empty one (a rebuild reads a missing file as no rows), which saves a COPY and its fsyncs.
   */
  noQuarantine?: readonly PartitionKey[];
}

/** Copies the runs, quarantine and checks rows of each (job, dt) to the lake, one file per table and key, and the marks of `marksOf`. */
export async function copyPartitionBookkeeping(conn: DuckDBConnection, dataDir: string, keys: readonly PartitionKey[], options: CopyOptions = {}): Promise<void> {
  await copyAllOnce(conn, dataDir);
  const copies = partitionCopies(dataDir, keys, new Set((options.noQuarantine ?? []).map(keyName)));
  if (options.marksOf !== undefined) copies.push(...(await jobTableCopies(conn, dataDir, "state", [options.marksOf])));
  await copyAll(conn, copies);
}

/** Copies every requested day of `job` to the lake (one file per job). */
export async function copyRequests(conn: DuckDBConnection, dataDir: string, job: string): Promise<void> {
  await copyAllOnce(conn, dataDir);
  await copyAll(conn, await jobTableCopies(conn, dataDir, "requests", [job]));
}

/**
 * A warehouse older than the copy (the lake has none yet): copy all of its bookkeeping first,
 * every job's partitions and requests, so a rebuild misses nothing.
 */
async function copyAllOnce(conn: DuckDBConnection, dataDir: string): Promise<void> {
  // The marker is a directory: the lake holds directories down to its partitions.
  const done = path.join(bookkeepingDir(dataDir), ".copied");
  if (existsSync(done)) return;
  const found = await conn.runAndReadAll(
    `SELECT job, strftime(dt, '%Y-%m-%d'), bool_or(quarantined) FROM (${PER_PARTITION_TABLES.map((t) => `SELECT job, dt, ${t === "quarantine"} AS quarantined FROM sluice.${t}`).join(" UNION ALL ")}) WHERE dt IS NOT NULL GROUP BY ALL`,
  );
  const keys = found.getRows().map((r) => ({ job: String(r[0]), dt: String(r[1]), quarantined: r[2] === true }));
  const copies = partitionCopies(dataDir, keys, new Set(keys.filter((k) => !k.quarantined).map(keyName)));
  for (const table of PER_JOB_TABLES) {
    if (!(await tableExists(conn, "sluice", table))) continue;
    const jobs = await conn.runAndReadAll(`SELECT DISTINCT job FROM sluice.${table}`);
    copies.push(...(await jobTableCopies(conn, dataDir, table, jobs.getRows().map((row) => String(row[0])))));
  }
  await copyAll(conn, copies);
  // Made last: a copy killed halfway is done again.
  await mkdir(done, { recursive: true });
}

/** One bookkeeping file to rewrite: the rows of `select`. */
interface Copy {
  select: string;
  file: string;
}

/** "job/dt". */
function keyName(key: PartitionKey): string {
  return `${key.job}/${key.dt}`;
}

/** The copies of each key's runs, quarantine and checks; none for the quarantine of a `noQuarantine` key (by keyName) that has no file. */
function partitionCopies(dataDir: string, keys: readonly PartitionKey[], noQuarantine: ReadonlySet<string> = new Set()): Copy[] {
  const copies: Copy[] = [];
  const seen = new Set<string>();
  for (const { job, dt } of keys) {
    const name = keyName({ job, dt });
    if (!JOB_RE.test(job) || !DT_RE.test(dt) || seen.has(name)) continue;
    seen.add(name);
    for (const table of PER_PARTITION_TABLES) {
      const file = path.join(bookkeepingDir(dataDir), table, `job=${job}`, `dt=${dt}`, "data.parquet");
      if (table === "quarantine" && noQuarantine.has(name) && !existsSync(file)) continue;
      copies.push({ select: `SELECT * FROM sluice.${table} WHERE job = ${literal(job)} AND dt = DATE ${literal(dt)}`, file });
    }
  }
  return copies;
}

async function jobTableCopies(conn: DuckDBConnection, dataDir: string, table: PerJobTable, jobs: readonly string[]): Promise<Copy[]> {
  if (!(await tableExists(conn, "sluice", table))) return [];
  return jobs.filter((job) => JOB_RE.test(job)).map((job) => ({ select: `SELECT * FROM sluice.${table} WHERE job = ${literal(job)}`, file: path.join(bookkeepingDir(dataDir), table, `job=${job}`, "data.parquet") }));
}

/**
 * Writes each copy as Parquet, atomically and durably. The COPY statements run one at a time (one
 * connection), while the fsyncs and renames of the files already written overlap the next COPY.
 */
async function copyAll(conn: DuckDBConnection, copies: readonly Copy[]): Promise<void> {
  let tail: Promise<unknown> = Promise.resolve();
  const oneAtATime = (sql: string): Promise<void> => {
    const next = tail.then(() => conn.run(sql));
    tail = next.catch(() => undefined);
    return next.then(() => undefined);
  };
  const results = await Promise.allSettled(
    copies.map(async ({ select, file }) => {
      await mkdir(path.dirname(file), { recursive: true });
      // COPY ... TO writes the path as given (no glob), unlike read_parquet.
      await replaceAtomically(file, (temp) => oneAtATime(`COPY (${select}) TO ${literal(temp)} (FORMAT parquet)`), { durable: true });
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * A copy of the warehouse's bookkeeping (sluice.runs, quarantine, checks, requests, state) in the lake, so
 * the lake is a whole backup: `sluice warehouse rebuild` restores the data tables from their
 * partitions and the bookkeeping from this copy.
 *
 * Layout, under `<dataDir>/lake/_sluice/`: `<table>/job=<job>/dt=<dt>/data.parquet` for runs,
 * quarantine and checks (the rows of one job's partition day), `requests/job=<job>/data.parquet`
 * (a job's requested days), `state/job=<job>/data.parquet` (its incremental marks). Each file is rewritten whole and atomically (temp file, fsync, rename)
 * by the warehouse session that changed its rows, right after the change: a copy lags the warehouse
 * only if the process dies between the two, and the next write of that partition brings it level.
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
export type PerPartitionTable = (typeof PER_PARTITION_TABLES)[number];

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

/**
 * Copies the runs, quarantine and checks rows of each (job, dt) to the lake, one file per table and
 * key; `tables` narrows it to those the caller changed (a started run changes only its runs row).
 */
export async function copyPartitionBookkeeping(conn: DuckDBConnection, dataDir: string, keys: readonly PartitionKey[], tables: readonly PerPartitionTable[] = PER_PARTITION_TABLES): Promise<void> {
  await copyAllOnce(conn, dataDir);
  await copyPartitions(conn, dataDir, keys, tables);
}

/** Copies every requested day of `job` to the lake (one file per job). */
export async function copyRequests(conn: DuckDBConnection, dataDir: string, job: string): Promise<void> {
  await copyAllOnce(conn, dataDir);
  await copyJobTable(conn, dataDir, "requests", job);
}

/** Copies the incremental marks of `job` (sluice.state) to the lake (one file per job). */
export async function copyMarks(conn: DuckDBConnection, dataDir: string, job: string): Promise<void> {
  await copyAllOnce(conn, dataDir);
  await copyJobTable(conn, dataDir, "state", job);
}

/**
 * A warehouse older than the copy (the lake has none yet): copy all of its bookkeeping first,
 * every job's partitions and requests, so a rebuild misses nothing.
 */
async function copyAllOnce(conn: DuckDBConnection, dataDir: string): Promise<void> {
  // The marker is a directory: the lake holds directories down to its partitions.
  const done = path.join(bookkeepingDir(dataDir), ".copied");
  if (existsSync(done)) return;
  const keys = await conn.runAndReadAll(
    `SELECT DISTINCT job, strftime(dt, '%Y-%m-%d') FROM (${PER_PARTITION_TABLES.map((t) => `SELECT job, dt FROM sluice.${t}`).join(" UNION ALL ")}) WHERE dt IS NOT NULL`,
  );
  await copyPartitions(conn, dataDir, keys.getRows().map((r) => ({ job: String(r[0]), dt: String(r[1]) })));
  for (const table of PER_JOB_TABLES) {
    if (!(await tableExists(conn, "sluice", table))) continue;
    const jobs = await conn.runAndReadAll(`SELECT DISTINCT job FROM sluice.${table}`);
    for (const row of jobs.getRows()) await copyJobTable(conn, dataDir, table, String(row[0]));
  }
  // Made last: a copy killed halfway is done again.
  await mkdir(done, { recursive: true });
}

async function copyPartitions(conn: DuckDBConnection, dataDir: string, keys: readonly PartitionKey[], tables: readonly PerPartitionTable[] = PER_PARTITION_TABLES): Promise<void> {
  const seen = new Set<string>();
  for (const { job, dt } of keys) {
    if (!JOB_RE.test(job) || !DT_RE.test(dt) || seen.has(`${job}/${dt}`)) continue;
    seen.add(`${job}/${dt}`);
    for (const table of tables) {
      const file = path.join(bookkeepingDir(dataDir), table, `job=${job}`, `dt=${dt}`, "data.parquet");
      await copyRows(conn, `SELECT * FROM sluice.${table} WHERE job = ${literal(job)} AND dt = DATE ${literal(dt)}`, file);
    }
  }
}

async function copyJobTable(conn: DuckDBConnection, dataDir: string, table: PerJobTable, job: string): Promise<void> {
  if (!JOB_RE.test(job) || !(await tableExists(conn, "sluice", table))) return;
  const file = path.join(bookkeepingDir(dataDir), table, `job=${job}`, "data.parquet");
  await copyRows(conn, `SELECT * FROM sluice.${table} WHERE job = ${literal(job)}`, file);
}

/** Writes the rows of `select` to `file` as Parquet, atomically and durably. */
async function copyRows(conn: DuckDBConnection, select: string, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // COPY ... TO writes the path as given (no glob), unlike read_parquet.
  await replaceAtomically(file, (temp) => conn.run(`COPY (${select}) TO ${literal(temp)} (FORMAT parquet)`).then(() => undefined), { durable: true });
}

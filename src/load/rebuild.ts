/**
 * `sluice warehouse rebuild`: a new warehouse from the lake alone. Each table is replayed partition
 * by partition through the same load as a run (so types, keys and upsert rules are the declared
 * ones), the bookkeeping (sluice.runs, quarantine, checks, requests, state) is read back from the lake's
 * copy (lake/_sluice, see bookkeeping-copy.ts), and the lake views are created.
 *
 * The new warehouse is built in a temp file beside the old one and renamed over it at the end, so
 * a failed or killed rebuild changes nothing; the old file is kept as warehouse.duckdb.before-rebuild-<time>.
 */
import { readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { LockError } from "../core/errors.ts";
import { BOOKKEEPING_DIR, lakePartitionPath, lakeTableGlob, listLakePartitions, literalFilePattern } from "./lake.ts";
import { bookkeepingGlob, PER_JOB_TABLES, PER_PARTITION_TABLES } from "./bookkeeping-copy.ts";
import { isLockHeld } from "./locks.ts";
import { mergePartition } from "./partition-merge.ts";
import { ensureLakeView, ensureWarehouse } from "./schema.ts";
import { ensureStateTable } from "./source-state.ts";
import { ident, literal } from "./sql-values.ts";
import type { TableSpec } from "./types.ts";
import { WarehouseGate, warehousePath } from "./warehouse-gate.ts";

/** What a rebuild restored, and what it had to skip. */
export interface RebuildReport {
  /** One per table found in the lake: partitions loaded and rows in the new table; `declared` false when no job declares it. */
  tables: Array<{ table: string; partitions: number; rows: number; declared: boolean }>;
  /** Rows restored per bookkeeping table (runs, quarantine, checks, requests, state). */
  bookkeeping: Record<string, number>;
  /** Files that could not be read (skipped), and views that could not be created. */
  problems: string[];
  /** Where the previous warehouse file was moved, or null when there was none. */
  previous: string | null;
}

/** Rebuilds `<dataDir>/warehouse.duckdb` from the lake; `tables` are the declared tables of every job. */
export async function rebuildWarehouse(dataDir: string, tables: readonly TableSpec[], options: { signal?: AbortSignal } = {}): Promise<RebuildReport> {
  await refuseWhileRunning(dataDir);
  const target = warehousePath(dataDir);
  const temp = path.join(dataDir, `.warehouse.rebuild-${process.pid}.duckdb`);
  await removeDatabase(temp);
  const report: RebuildReport = { tables: [], bookkeeping: {}, problems: [], previous: null };
  try {
    await WarehouseGate.of(temp).use(
      "write",
      async (conn) => {
        report.problems.push(...(await ensureWarehouse(conn, [...tables], dataDir)));
        for (const spec of tables) report.tables.push(await restoreTable(conn, dataDir, spec, report.problems));
        for (const name of await undeclaredTables(dataDir, tables)) report.tables.push(await restoreUndeclared(conn, dataDir, name, report.problems));
        await ensureStateTable(conn);
        for (const table of [...PER_PARTITION_TABLES, ...PER_JOB_TABLES]) report.bookkeeping[table] = await restoreBookkeeping(conn, table, report.problems);
        await conn.run("CHECKPOINT");
      },
      options.signal ? { signal: options.signal } : {},
    );
    report.previous = await swapIn(temp, target);
  } finally {
    await removeDatabase(temp);
  }
  return report;
}

/** A rebuild replaces the warehouse under every run's feet: refuse while a run holds a lock. */
async function refuseWhileRunning(dataDir: string): Promise<void> {
  const names = await readdir(path.join(dataDir, "locks")).catch(() => [] as string[]);
  for (const file of names.filter((n) => n.endsWith(".lock"))) {
    const name = file.slice(0, -".lock".length);
    const held = await isLockHeld(dataDir, name);
    if (held.held) {
      throw new LockError(`cannot rebuild the warehouse while run ${held.owner?.runId ?? "?"} holds lock ${name}`, { hint: "rebuild when no run or backfill is in progress" });
    }
  }
}

/** Replays a declared table's lake partitions in date order, each in its own transaction (a bad file is skipped). */
async function restoreTable(conn: DuckDBConnection, dataDir: string, spec: TableSpec, problems: string[]): Promise<RebuildReport["tables"][number]> {
  let partitions = 0;
  for (const dt of await listLakePartitions(dataDir, spec.name)) {
    await conn.run("BEGIN TRANSACTION");
    try {
      await mergePartition(conn, { table: spec, dt, parquetPath: lakePartitionPath(dataDir, spec.name, dt) }, 0, "rebuild", { allowShrink: true });
      await conn.run("COMMIT");
      partitions++;
    } catch (error) {
      await conn.run("ROLLBACK").catch(() => undefined);
      problems.push(`${spec.name} dt=${dt} skipped: ${firstLine(error)} (rerun that day to rewrite it)`);
    }
  }
  return { table: spec.name, partitions, rows: await countRows(conn, `main.${ident(spec.name)}`), declared: true };
}

/** Tables in the lake that no loaded job declares (a removed job, another jobs dir). */
async function undeclaredTables(dataDir: string, tables: readonly TableSpec[]): Promise<string[]> {
  const declared = new Set(tables.map((t) => t.name));
  const entries = await readdir(path.join(dataDir, "lake"), { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === BOOKKEEPING_DIR || declared.has(e.name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) continue;
    if ((await listLakePartitions(dataDir, e.name)).length > 0) names.push(e.name);
  }
  return names.sort();
}

/** A table no job declares: created from its lake files as they are (types as in Parquet, no key). */
async function restoreUndeclared(conn: DuckDBConnection, dataDir: string, name: string, problems: string[]): Promise<RebuildReport["tables"][number]> {
  try {
    await conn.run(`CREATE TABLE main.${ident(name)} AS SELECT * FROM read_parquet(${literal(lakeTableGlob(name))}, hive_partitioning = false, union_by_name = true)`);
    const problem = await ensureLakeView(conn, name);
    if (problem) problems.push(problem);
  } catch (error) {
    problems.push(`table ${name} (declared by no job) skipped: ${firstLine(error)}`);
    return { table: name, partitions: 0, rows: 0, declared: false };
  }
  return { table: name, partitions: (await listLakePartitions(dataDir, name)).length, rows: await countRows(conn, `main.${ident(name)}`), declared: false };
}

/** Reads a bookkeeping table back from its lake copy: all files at once, or file by file when one is bad. */
async function restoreBookkeeping(conn: DuckDBConnection, table: string, problems: string[]): Promise<number> {
  const target = `sluice.${ident(table)}`;
  const read = (pattern: string): string => `INSERT INTO ${target} BY NAME SELECT * FROM read_parquet(${literal(pattern)}, hive_partitioning = false, union_by_name = true)`;
  const files = (await conn.runAndReadAll(`SELECT file FROM glob(${literal(bookkeepingGlob(table))})`)).getRows().map((r) => String(r[0]));
  if (files.length === 0) return 0;
  try {
    await conn.run(read(bookkeepingGlob(table)));
  } catch {
    for (const file of files) {
      await conn.run(read(literalFilePattern(file))).catch((error: unknown) => problems.push(`bookkeeping copy ${file} skipped: ${firstLine(error)}`));
    }
  }
  return countRows(conn, target);
}

/** Moves the old warehouse (and its WAL) aside and the new one into place; returns where the old one went. */
async function swapIn(temp: string, target: string): Promise<string | null> {
  let previous: string | null = null;
  if (await exists(target)) {
    previous = `${target}.before-rebuild-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    await rename(target, previous);
    if (await exists(`${target}.wal`)) await rename(`${target}.wal`, `${previous}.wal`);
  }
  await rename(temp, target);
  return previous;
}

async function countRows(conn: DuckDBConnection, table: string): Promise<number> {
  return Number((await conn.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]?.[0] ?? 0);
}

async function removeDatabase(file: string): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.wal`, { force: true });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/**
 * The warehouse's schema: the sluice (bookkeeping) and lake schemas, each job table created from
 * its TableSpec and evolved safely when the spec changes, and the lake views over the Parquet lake.
 */
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { ConfigError, SchemaError, type ErrorContext } from "../core/errors.ts";
import { isWidening } from "./column-types.ts";
import { hasLakePartition, lakeTableGlob } from "./lake.ts";
import { ident, literal } from "./sql-values.ts";
import type { PartitionLoad, TableSpec } from "./types.ts";

/**
 * The text type of the bookkeeping tables that change on every run (runs, checks, state): their few
 * new rows are checkpointed after each run, and DuckDB's default analysis (trying FSST on each
 * string column) took half of that checkpoint, ~4 of ~10 ms, for no smaller file. Quarantine keeps
 * the default: raw records are long and it changes only when rows are quarantined.
 */
const TEXT = "VARCHAR USING COMPRESSION dictionary";

/** The incremental marks of each job's sources (see source-state.ts). */
export const STATE_DDL = `CREATE TABLE IF NOT EXISTS sluice.state (
  job ${TEXT}, source ${TEXT}, key ${TEXT}, value ${TEXT}, run_id ${TEXT}, updated_at TIMESTAMPTZ)`;

const SLUICE_DDL = [
  "CREATE SCHEMA IF NOT EXISTS sluice",
  "CREATE SCHEMA IF NOT EXISTS lake",
  `CREATE TABLE IF NOT EXISTS sluice.runs (
     run_id ${TEXT}, job ${TEXT}, dt DATE, status ${TEXT}, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
     rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, error ${TEXT})`,
  `CREATE TABLE IF NOT EXISTS sluice.quarantine (
     run_id VARCHAR, job VARCHAR, dt DATE, table_name VARCHAR, record VARCHAR, reason VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS sluice.checks (
     run_id ${TEXT}, job ${TEXT}, table_name ${TEXT}, dt DATE, check_name ${TEXT}, columns ${TEXT}, severity ${TEXT},
     action ${TEXT}, passed BOOLEAN, failing_rows BIGINT, sample ${TEXT}, checked_at TIMESTAMPTZ,
     observed DOUBLE, lower_bound DOUBLE, upper_bound DOUBLE, skipped BOOLEAN, detail ${TEXT})`,
  // Days a backfill was asked to run: a day requested and never run shows as pending, not as absent.
  `CREATE TABLE IF NOT EXISTS sluice.requests (job VARCHAR, dt DATE, requested_at TIMESTAMPTZ, request_id VARCHAR)`,
  STATE_DDL,
  // Columns sluice.checks gained after its first release (history-aware checks): added to a
  // warehouse created before them, so its earlier rows read NULL there.
  ...[
    ["observed", "DOUBLE"],
    ["lower_bound", "DOUBLE"],
    ["upper_bound", "DOUBLE"],
    ["skipped", "BOOLEAN"],
    ["detail", "VARCHAR"],
  ].map(([name, type]) => `ALTER TABLE sluice.checks ADD COLUMN IF NOT EXISTS ${name} ${type}`),
];

/**
 * Creates the sluice and lake schemas, the bookkeeping tables, every table of `tables`, and lake
 * views. Returns the problems of views that could not be created (a corrupt lake file): those are
 * for a warning, since no load depends on a view.
 */
export async function ensureWarehouse(conn: DuckDBConnection, tables: TableSpec[], dataDir: string): Promise<string[]> {
  await ensureSluiceSchema(conn);
  for (const table of tables) {
    checkSpec(table);
    const types = await canonicalTypes(conn, table);
    await createTable(conn, table, types, true);
  }
  const problems: string[] = [];
  for (const table of tables) {
    // A view this connection knows is current needs no look at the lake (a listing of every day).
    if (knownOn(conn).lakeViews.has(table.name) || !(await hasLakePartition(dataDir, table.name))) continue;
    const problem = await ensureLakeView(conn, table.name);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Creates the sluice and lake schemas and the bookkeeping tables (runs, quarantine, checks, requests, state) if missing. */
export async function ensureSluiceSchema(conn: DuckDBConnection): Promise<void> {
  // Once per connection: a run's open asks from several places, and each check costs catalog queries.
  // Never called inside a transaction, so what it created is committed and stays.
  const known = knownOn(conn);
  if (known.sluiceSchema) return;
  // One call: DuckDB runs the statements in order, without a round trip each (none writes when all is there).
  await conn.run(SLUICE_DDL.join(";\n"));
  known.sluiceSchema = true;
}

/** True when ensureSluiceSchema ran on this connection: every bookkeeping table exists. */
export function sluiceSchemaEnsured(conn: DuckDBConnection): boolean {
  return knownOn(conn).sluiceSchema;
}

/**
 * What a connection has learned of the catalog (a run's start and its load share one connection, so
 * each is asked once per run): the bookkeeping schema is current, these tables exist, these lake
 * views are current. Nothing in this process drops them while the connection is open.
 */
export interface KnownCatalog {
  sluiceSchema: boolean;
  tables: Set<string>;
  lakeViews: Set<string>;
  /** Committed columns (name -> type) of job tables, as evolveSchema last read them unaltered. */
  columns: Map<string, Map<string, string>>;
}

/** A deep copy of a KnownCatalog. */
function copyCatalog(known: KnownCatalog): KnownCatalog {
  return { sluiceSchema: known.sluiceSchema, tables: new Set(known.tables), lakeViews: new Set(known.lakeViews), columns: new Map([...known.columns].map(([t, c]) => [t, new Map(c)])) };
}

const catalogs = new WeakMap<DuckDBConnection, KnownCatalog>();

/** A copy of what `conn` has learned of the catalog, for a later connection to the same file (see adoptCatalog). */
export function knownCatalog(conn: DuckDBConnection): KnownCatalog {
  return copyCatalog(knownOn(conn));
}

/** Lets `conn` start from what an earlier connection learned; only for a file nobody changed since. */
export function adoptCatalog(conn: DuckDBConnection, known: KnownCatalog): void {
  catalogs.set(conn, copyCatalog(known));
}

function knownOn(conn: DuckDBConnection): KnownCatalog {
  let known = catalogs.get(conn);
  if (!known) {
    known = { sluiceSchema: false, tables: new Set(), lakeViews: new Set(), columns: new Map() };
    catalogs.set(conn, known);
  }
  return known;
}

/** True when sluice.checks has `column` (a warehouse not yet evolved lacks the newer ones). */
export async function checksHaveColumn(conn: DuckDBConnection, column: string): Promise<boolean> {
  return (await tableExists(conn, "sluice", "checks")) && (await columnsOf(conn, "sluice", "checks")).has(column);
}

/** True when `schema.table` exists in the open database. */
export async function tableExists(conn: DuckDBConnection, schema: string, table: string): Promise<boolean> {
  const r = await conn.runAndReadAll(
    "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2",
    [schema, table],
  );
  return Number(r.getRows()[0]?.[0] ?? 0) > 0;
}

/**
 * Makes the table ready to load `spec`: validates the spec, creates the table if missing and
 * evolves it (see evolveSchema). Returns the type each spec column has in the table.
 */
export async function prepareTable(conn: DuckDBConnection, spec: TableSpec, context: ErrorContext): Promise<Map<string, string>> {
  checkSpec(spec);
  const specTypes = await canonicalTypes(conn, spec);
  await createTable(conn, spec, specTypes);
  return evolveSchema(conn, spec, specTypes, context);
}

/**
 * Column name -> DuckDB's canonical type name, in table order, of an existing table.
 * pragma_table_info looks up the one table (~0.5 ms); duckdb_columns() lists every column of the
 * catalog, binding the lake views over Parquet (~10 ms a call). pragma_table_info cannot take a
 * name with a double quote in it, so such a name goes the long way.
 */
async function columnsOf(conn: DuckDBConnection, schema: string, table: string): Promise<Map<string, string>> {
  const r = `${schema}${table}`.includes('"')
    ? await conn.runAndReadAll(
        `SELECT column_name, data_type FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2 ORDER BY column_index`,
        [schema, table],
      )
    : await conn.runAndReadAll(`SELECT name, type FROM pragma_table_info(${literal(`${ident(schema)}.${ident(table)}`)}) ORDER BY cid`);
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

async function createTable(conn: DuckDBConnection, table: TableSpec, types: Map<string, string>, outsideTransaction = false): Promise<void> {
  const known = knownOn(conn).tables;
  if (known.has(table.name)) return;
  const cols = table.columns.map((c) => `${ident(c.name)} ${types.get(c.name) ?? c.type}`).join(", ");
  await conn.run(`CREATE TABLE IF NOT EXISTS main.${ident(table.name)} (${cols})`);
  // A creation inside a transaction is undone by its rollback: only remember committed ones.
  if (outsideTransaction) known.add(table.name);
}

/**
 * Brings the table's columns in line with the spec: adds missing (nullable) columns, widens a
 * column in place when the spec's type holds every old value, and refuses anything else.
 * Returns the type each spec column has in the table afterwards.
 */
async function evolveSchema(conn: DuckDBConnection, spec: TableSpec, specTypes: Map<string, string>, context: ErrorContext): Promise<Map<string, string>> {
  const known = knownOn(conn).columns;
  const existing = known.get(spec.name) ?? (await columnsOf(conn, "main", spec.name));
  // Remembered only while unaltered: an ALTER inside a load that rolls back would leave it wrong.
  known.delete(spec.name);
  let altered = false;
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
      altered = true;
      result.set(column.name, want);
    } else if (have === want || isWidening(want, have)) {
      result.set(column.name, have);
    } else if (isWidening(have, want)) {
      await conn.run(`ALTER TABLE main.${ident(spec.name)} ALTER COLUMN ${ident(column.name)} SET DATA TYPE ${want}`);
      altered = true;
      result.set(column.name, want);
    } else {
      throw new SchemaError(`table ${spec.name} column ${column.name} is ${have} in the warehouse but the job now declares ${want}`, {
        context,
        hint: `that change is not a safe widening: either keep ${column.name} as ${have} in the job, add a new column with the new type, or drop table main.${spec.name} (the lake keeps the data) and rerun the partitions`,
      });
    }
  }
  if (!altered) known.set(spec.name, existing);
  return result;
}

/**
 * Creates lake.<table> over the table's partition files unless it already reads them. The glob is
 * relative to the data dir (see lakeTableGlob); DuckDB binds a view when it is created, reading
 * every file's schema, so a corrupt file makes this fail: the problem is returned, not thrown, and
 * the view stays as it was. Views pick up new partitions by themselves, so this is rarely needed.
 */
export async function ensureLakeView(conn: DuckDBConnection, table: string): Promise<string | null> {
  const known = knownOn(conn).lakeViews;
  if (known.has(table)) return null;
  const glob = literal(lakeTableGlob(table));
  const current = await conn.runAndReadAll(`SELECT sql FROM duckdb_views() WHERE schema_name = 'lake' AND view_name = ${literal(table)}`);
  if (String(current.getRows()[0]?.[0] ?? "").includes(glob)) {
    known.add(table);
    return null;
  }
  try {
    await conn.run(`CREATE OR REPLACE VIEW lake.${ident(table)} AS SELECT * FROM read_parquet(${glob}, hive_partitioning = true, union_by_name = true)`);
    known.add(table);
    return null;
  } catch (error) {
    return `view lake.${table} could not be created: ${(error as Error).message.split("\n")[0]}`;
  }
}

/**
 * Views for the tables just loaded, when their Parquet sits in the lake layout (…/lake/<table>/dt=…/).
 * Outside the load's transaction: a failed statement would abort it. Returns the problems.
 */
export async function refreshLakeViews(conn: DuckDBConnection, loads: readonly PartitionLoad[]): Promise<string[]> {
  const tables = new Set<string>();
  for (const load of loads) {
    const partitionDir = path.dirname(load.parquetPath);
    const tableDir = path.dirname(partitionDir);
    if (path.basename(partitionDir).startsWith("dt=") && path.basename(tableDir) === load.table.name && path.basename(path.dirname(tableDir)) === "lake") {
      tables.add(load.table.name);
    }
  }
  const problems: string[] = [];
  for (const table of tables) {
    const problem = await ensureLakeView(conn, table);
    if (problem) problems.push(problem);
  }
  return problems;
}

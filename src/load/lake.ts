/**
 * The lake: Hive-partitioned Parquet, one file per partition at
 * `<dataDir>/lake/<table>/dt=YYYY-MM-DD/data.parquet`.
 *
 * Writes are atomic and durable (core/fs.ts replaceAtomically): a hidden temp file in the partition
 * directory (which `*.parquet` globs do not match), fsync, rename over data.parquet, fsync the
 * directory. So a reader (DuckDB views, a rerun reading lookback days) sees the old file or the new
 * one, never half of one and never both.
 */
import { failpoint } from "../core/failpoints.ts";
import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { SchemaError, SluiceError, StorageError } from "../core/errors.ts";
import { removeStaleTemps, replaceAtomically } from "../core/fs.ts";

const DATA_FILE = "data.parquet";
/** A temp file of a live process this old is abandoned too (a writer never takes this long). */
const TEMP_MAX_AGE_MS = 60 * 60_000;
const DT_RE = /^\d{4}-\d{2}-\d{2}$/;
const PARTITION_DIR_RE = /^dt=(\d{4}-\d{2}-\d{2})$/;
const TABLE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The lake directory of a table. */
export function lakeTableDir(dataDir: string, table: string): string {
  checkTable(table);
  return path.join(dataDir, "lake", table);
}

/** The Parquet file of one partition: `<dataDir>/lake/<table>/dt=<dt>/data.parquet`. */
export function lakePartitionPath(dataDir: string, table: string, dt: string): string {
  checkDt(dt);
  return path.join(lakeTableDir(dataDir, table), `dt=${dt}`, DATA_FILE);
}

/** Atomically writes (or replaces) one partition of a table; returns the Parquet path. */
export async function writeLakePartition(dataDir: string, table: string, dt: string, frame: pl.DataFrame): Promise<string> {
  const exprs = parquetNormalization(frame.schema, table);
  const normalized = exprs.length === 0 ? frame : frame.withColumns(...exprs);
  return replacePartition(dataDir, table, dt, (temp) => normalized.writeParquet(temp, { compression: "zstd" }));
}

/**
 * Atomically writes (or replaces) one partition of a table from a lazy frame (scans of spilled
 * pieces): streamed into the Parquet file in bounded memory, row groups of LAKE_ROW_GROUP rows.
 * Returns the Parquet path.
 */
export async function writeLakePartitionStreamed(dataDir: string, table: string, dt: string, rows: pl.LazyDataFrame, schema: Record<string, pl.DataType>): Promise<string> {
  const exprs = parquetNormalization(schema, table);
  const normalized = exprs.length === 0 ? rows : rows.withColumns(...exprs);
  return replacePartition(dataDir, table, dt, (temp) => {
    normalized.sinkParquet(temp, { compression: "zstd", rowGroupSize: LAKE_ROW_GROUP, maintainOrder: true }).collectSync();
  });
}

/** Rows per row group of a streamed lake file: readers of a key range (sorted files) skip the others by their statistics. */
export const LAKE_ROW_GROUP = 131_072;

/** Writes a partition's file through `write(tempPath)`, then renames it over data.parquet (durably). */
async function replacePartition(dataDir: string, table: string, dt: string, write: (temp: string) => void): Promise<string> {
  const target = lakePartitionPath(dataDir, table, dt);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  // Temp names carry the writer's pid, so a killed writer's leftovers are told from a live one's.
  await removeStaleTemps(dir, DATA_FILE, TEMP_MAX_AGE_MS);
  try {
    await replaceAtomically(
      target,
      (temp) => {
        write(temp);
        failpoint("lake.write");
      },
      { durable: true },
    );
  } catch (error) {
    throw new StorageError(`could not write lake partition ${table}/dt=${dt}: ${(error as Error).message}`, {
      cause: error,
      context: { table, partition: dt, stage: "lake" },
    });
  }
  return target;
}

/** Reads the existing partitions among `dts` and concatenates them (null when none exists). */
export async function readLakePartitions(dataDir: string, table: string, dts: readonly string[]): Promise<pl.DataFrame | null> {
  const frames: pl.DataFrame[] = [];
  for (const dt of [...new Set(dts)].sort()) {
    const file = lakePartitionPath(dataDir, table, dt);
    if (!(await isFile(file))) continue;
    frames.push(pl.readParquet(file));
  }
  if (frames.length === 0) return null;
  if (frames.length === 1) return frames[0] ?? null;
  // Partitions written before a schema change lack new columns: fill them with nulls.
  return pl.concat(frames, { how: "diagonalRelaxed" });
}

/** The dts of a table's partitions that have a data file, sorted. */
export async function listLakePartitions(dataDir: string, table: string): Promise<string[]> {
  const dir = lakeTableDir(dataDir, table);
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const dts: string[] = [];
  for (const entry of entries) {
    const m = PARTITION_DIR_RE.exec(entry.name);
    if (!m?.[1] || !entry.isDirectory()) continue;
    if (await isFile(path.join(dir, entry.name, DATA_FILE))) dts.push(m[1]);
  }
  return dts.sort();
}

/** True when the partition's data file exists. */
export async function lakePartitionExists(dataDir: string, table: string, dt: string): Promise<boolean> {
  return isFile(lakePartitionPath(dataDir, table, dt));
}

/**
 * Polars -> Parquet types the warehouse reads as intended: any Datetime becomes Datetime(us, UTC)
 * (TIMESTAMP isAdjustedToUTC, DuckDB TIMESTAMPTZ; naive values are taken as UTC), Categorical/Enum
 * become plain strings (dictionaries differ per batch). Everything else is written as is. Returns
 * the expressions that convert the columns needing it (none: write the frame as it is).
 */
function parquetNormalization(schema: Record<string, pl.DataType>, table: string): pl.Expr[] {
  const utcUs = pl.Datetime("us", "UTC");
  const exprs: pl.Expr[] = [];
  for (const [name, dtype] of Object.entries(schema)) {
    if (dtype.variant === "Datetime" && !dtype.equals(utcUs)) {
      const tz = (dtype as unknown as { inner: unknown[] }).inner[1];
      const col = pl.col(name);
      exprs.push((tz ? col.dt.convertTimeZone("UTC") : col.dt.replaceTimeZone("UTC")).cast(utcUs).alias(name));
    } else if (dtype.variant === "Categorical" || (dtype.variant as string) === "Enum") {
      exprs.push(pl.col(name).cast(pl.Utf8).alias(name));
    } else if (dtype.variant === "Object") {
      throw new SchemaError(`column ${name} of ${table} holds JS objects, which Parquet cannot store`, {
        context: { table, stage: "lake" },
        hint: "convert it to a string, number, date or struct column before materializing",
      });
    }
  }
  return exprs;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function checkDt(dt: string): void {
  if (!DT_RE.test(dt)) throw new SluiceError(`partition "${dt}" is not a YYYY-MM-DD day`, { context: { partition: dt, stage: "lake" } });
}

function checkTable(table: string): void {
  if (!TABLE_RE.test(table)) {
    throw new SluiceError(`table name "${table}" is not a plain identifier (letters, digits, underscore)`, { context: { table, stage: "lake" } });
  }
}

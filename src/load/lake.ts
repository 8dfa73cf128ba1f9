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
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { CorruptFileError, SchemaError, SluiceError, StorageError } from "../core/errors.ts";
import { removeStaleTemps, replaceAtomically } from "../core/fs.ts";
import { schemaOf } from "../core/frame-schema.ts";

const DATA_FILE = "data.parquet";
/** A temp file of a live process this old is abandoned too (a writer never takes this long). */
const TEMP_MAX_AGE_MS = 60 * 60_000;
const DT_RE = /^\d{4}-\d{2}-\d{2}$/;
const PARTITION_DIR_RE = /^dt=(\d{4}-\d{2}-\d{2})$/;
const TABLE_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The lake directory of the warehouse's bookkeeping copy (see bookkeeping-copy.ts): no table may take it. */
export const BOOKKEEPING_DIR = "_sluice";

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

/**
 * The glob of a table's partition files relative to the data dir (`lake/<table>/*\/*.parquet`): the
 * warehouse resolves it against its own directory (DuckDB's file_search_path, set per connection),
 * so a copied or moved data dir reads its own lake, whatever characters its path holds.
 */
export function lakeTableGlob(table: string): string {
  checkTable(table);
  return `lake/${table}/*/*.parquet`;
}

/**
 * A path as a DuckDB file pattern that matches only itself: DuckDB globs `*`, `?` and `[...]` in any
 * path it reads, so each of them is put in a one-character class (`[[]`).
 */
export function literalFilePattern(file: string): string {
  return file.replace(/[*?[\]]/g, (c) => `[${c}]`);
}

/**
 * Atomically writes (or replaces) one partition of a table; returns the Parquet path. `revision`
 * keeps the file it replaces. Written off the main thread (a sink on Polars' threads), so that
 * partitions write side by side, in row groups of LAKE_ROW_GROUP rows, which DuckDB's load reads
 * in parallel (1M events: 3 row groups took 0.62-0.88 s to insert, 8 took 0.58-0.63 s).
 */
export async function writeLakePartition(dataDir: string, table: string, dt: string, frame: pl.DataFrame, revision?: LakeRevision): Promise<string> {
  const exprs = parquetNormalization(schemaOf(frame), table);
  const rows = exprs.length === 0 ? frame.lazy() : frame.lazy().withColumns(...exprs);
  return replacePartition(dataDir, table, dt, async (temp) => {
    await rows.sinkParquet(temp, { compression: "zstd", rowGroupSize: LAKE_ROW_GROUP, maintainOrder: true }).collect();
  }, revision);
}

/**
 * Atomically writes (or replaces) one partition of a table from a lazy frame (scans of spilled
 * pieces): streamed into the Parquet file in bounded memory, row groups of LAKE_ROW_GROUP rows.
 * Returns the Parquet path.
 */
export async function writeLakePartitionStreamed(dataDir: string, table: string, dt: string, rows: pl.LazyDataFrame, schema: Record<string, pl.DataType>, revision?: LakeRevision): Promise<string> {
  const exprs = parquetNormalization(schema, table);
  const normalized = exprs.length === 0 ? rows : rows.withColumns(...exprs);
  return replacePartition(dataDir, table, dt, (temp) => {
    normalized.sinkParquet(temp, { compression: "zstd", rowGroupSize: LAKE_ROW_GROUP, maintainOrder: true }).collectSync();
  }, revision);
}

/** Rows per row group of a streamed lake file: readers of a key range (sorted files) skip the others by their statistics. */
export const LAKE_ROW_GROUP = 131_072;

/** Writes a partition's file through `write(tempPath)`, then renames it over data.parquet (durably). */
async function replacePartition(dataDir: string, table: string, dt: string, write: (temp: string) => Promise<void> | void, revision?: LakeRevision): Promise<string> {
  const target = lakePartitionPath(dataDir, table, dt);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  // Temp names carry the writer's pid, so a killed writer's leftovers are told from a live one's.
  await removeStaleTemps(dir, DATA_FILE, TEMP_MAX_AGE_MS);
  await revision?.keep(target);
  try {
    await replaceAtomically(
      target,
      async (temp) => {
        await write(temp);
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

/**
 * Reads the existing partitions among `dts` and concatenates them (null when none exists). A file
 * that is not readable Parquet throws CorruptFileError naming it, unless `onCorrupt` is given: then
 * that partition is reported to it and read as missing.
 */
export async function readLakePartitions(
  dataDir: string,
  table: string,
  dts: readonly string[],
  onCorrupt?: (error: CorruptFileError, dt: string) => void,
): Promise<pl.DataFrame | null> {
  const frames: pl.DataFrame[] = [];
  for (const dt of [...new Set(dts)].sort()) {
    const file = lakePartitionPath(dataDir, table, dt);
    if (!(await isFile(file))) continue;
    try {
      frames.push(pl.readParquet(file));
    } catch (cause) {
      const error = corruptPartition(file, table, dt, cause);
      if (!onCorrupt) throw error;
      onCorrupt(error, dt);
    }
  }
  if (frames.length === 0) return null;
  if (frames.length === 1) return frames[0] ?? null;
  // Partitions written before a schema change lack new columns: fill them with nulls.
  return pl.concat(frames, { how: "diagonalRelaxed" });
}

/** The dts of a table's partitions that have a data file, sorted. */
export async function listLakePartitions(dataDir: string, table: string): Promise<string[]> {
  const dir = lakeTableDir(dataDir, table);
  // Every day's file is looked at concurrently: a table of a year of days is 365 stat calls.
  const found = await Promise.all((await lakeDayNames(dir)).map((name) => partitionDay(dir, name)));
  return found.filter((dt): dt is string => dt !== undefined).sort();
}

/** True when the table has a partition with a data file: the listing read until the first one found. */
export async function hasLakePartition(dataDir: string, table: string): Promise<boolean> {
  const dir = lakeTableDir(dataDir, table);
  for (const name of await lakeDayNames(dir)) if ((await partitionDay(dir, name)) !== undefined) return true;
  return false;
}

/** The entry names of a table's lake directory ([] when it has none). */
async function lakeDayNames(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
}

/** The dt of the entry `name` of a table's lake directory when it is a day with its data file. */
async function partitionDay(dir: string, name: string): Promise<string | undefined> {
  const dt = PARTITION_DIR_RE.exec(name)?.[1];
  return dt && (await isFile(path.join(dir, name, DATA_FILE))) ? dt : undefined;
}

/** The error of a lake file that exists but does not read as Parquet: it names the file and the run that rewrites it. */
export function corruptPartition(file: string, table: string, dt: string, cause: unknown): CorruptFileError {
  return new CorruptFileError(`lake file ${file} is not readable Parquet (${(cause as Error).message})`, {
    cause,
    file,
    context: { table, partition: dt, stage: "lake" },
    hint: `rerun that day to rewrite it (sluice run <job> --date ${dt}); until then it is read as missing`,
  });
}

/**
 * The lake files a run replaced, kept (as hard links, named like temp files so a killed run's are
 * cleaned up) until its warehouse load is decided: committed, they are dropped; refused or failed,
 * they are put back, so the lake never holds data the warehouse refused.
 */
export class LakeRevision {
  private readonly kept: Array<{ target: string; previous: string | null }> = [];

  /** Keeps the current file of `target` (if any) before it is replaced. */
  async keep(target: string): Promise<void> {
    if (this.kept.some((k) => k.target === target)) return;
    const previous = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}-prev${randomBytes(4).toString("hex")}.tmp`);
    try {
      await link(target, previous);
      this.kept.push({ target, previous });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      this.kept.push({ target, previous: null });
    }
  }

  /** Puts every replaced partition back as it was (a partition that did not exist is removed again). */
  async restore(): Promise<void> {
    for (const { target, previous } of this.kept.splice(0)) {
      if (previous === null) await unlink(target).catch(() => undefined);
      else await rename(previous, target).catch(() => undefined);
    }
  }

  /** Drops the kept files: the new partitions stand. */
  async discard(): Promise<void> {
    for (const { previous } of this.kept.splice(0)) if (previous !== null) await unlink(previous).catch(() => undefined);
  }
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
  if (!TABLE_RE.test(table) || table === BOOKKEEPING_DIR) {
    throw new SluiceError(`table name "${table}" is not a plain identifier (letters, digits, underscore), or is ${BOOKKEEPING_DIR}, which the lake keeps for the warehouse's bookkeeping`, { context: { table, stage: "lake" } });
  }
}

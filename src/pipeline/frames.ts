/** Small frame helpers the engine shares: duck-typing, JSON-friendly rows, splitting by day. */
import pl from "nodejs-polars";
import { DAY_MS, FIRST_DAY, LAST_DAY, formatDay } from "../core/dates.ts";
import { schemaOf } from "../core/frame-schema.ts";
import type { KeyFaults } from "../load/types.ts";

/** nodejs-polars' DataFrame is a factory, so `instanceof pl.DataFrame` is always false: duck-type it. */
export function isDataFrame(value: unknown): value is pl.DataFrame {
  return typeof value === "object" && value !== null && typeof (value as pl.DataFrame).height === "number" && typeof (value as pl.DataFrame).toRecords === "function";
}

/** Rows of a frame as JSON-friendly objects (dates as ISO strings, bigints as numbers when safe). */
export function jsonRows(frame: pl.DataFrame): Array<Record<string, unknown>> {
  return frame.toRecords().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row) as Array<[string, unknown]>) {
      out[k] = v instanceof Date ? v.toISOString() : typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v;
    }
    return out;
  });
}

/** Frames up to this many rows have their keys counted here; larger ones by the load (DuckDB counts them in parallel). */
const KEY_FAULT_ROWS = 50_000;

/** Key dtypes whose values a JS number cannot hold exactly (64-bit integers, and time kept as one). */
const WIDE_KEYS = new Set(["Int64", "UInt64", "Datetime", "Duration", "Time"]);

/**
 * Rows with a null key column, and rows whose key another row has too (see PartitionLoad.keyFaults),
 * counted in JS for a small frame: a few rows cost ~8 ms in DuckDB (a fresh hash table) and several
 * in a Polars unique (its thread pool), ~1 ms here. Undefined for a larger frame.
 */
export function keyFaults(frame: pl.DataFrame, key: readonly string[]): KeyFaults | undefined {
  if (frame.height > KEY_FAULT_ROWS) return undefined;
  const columns = key.map((k) => keyValues(frame.getColumn(k)));
  const seen = new Set<unknown>();
  let nullKeys = 0;
  for (let i = 0; i < frame.height; i++) {
    const values = columns.map((c) => c[i]);
    if (values.some((v) => v === null || v === undefined)) nullKeys++;
    else seen.add(values.length === 1 ? values[0] : JSON.stringify(values, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)));
  }
  return { nullKeys, duplicateKeys: frame.height - nullKeys - seen.size };
}

/** Key dtypes whose Polars hash is equal exactly when DuckDB compares the values equal (not floats: -0.0 and NaN). */
const HASHABLE_KEYS = new Set(["String", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Date", "Datetime", "Bool"]);

/**
 * A large frame's one-column key proven free of repeats: its rows with a null key, and 0 repeated
 * keys, when the 64-bit hashes of its non-null keys are all distinct (equal keys hash equal, so
 * distinct hashes mean distinct keys). Undefined when it cannot tell (a repeat or a hash
 * collision, a composite or float key): the load then counts exactly. ~50-130 ms per 1M strings on
 * Polars' threads (the lake writer runs alongside), where DuckDB's count(DISTINCT) of the staged
 * file took ~0.23 s.
 */
export async function distinctKeysByHash(frame: pl.DataFrame, key: readonly string[]): Promise<KeyFaults | undefined> {
  const [name] = key;
  if (key.length !== 1 || name === undefined || !HASHABLE_KEYS.has(frame.getColumn(name).dtype.variant)) return undefined;
  const column = pl.col(name);
  const counts = await frame
    .lazy()
    .select(column.nullCount().cast(pl.Float64).alias("nulls"), column.dropNulls().hash(3, 5, 7, 11).nUnique().cast(pl.Float64).alias("distinct"))
    .collect();
  const [nullKeys, distinct] = [Number(counts.getColumn("nulls").get(0)), Number(counts.getColumn("distinct").get(0))];
  return distinct === frame.height - nullKeys ? { nullKeys, duplicateKeys: 0 } : undefined;
}

/**
 * A key column's values, equal exactly when the keys are: 64-bit integers and times as bigints of
 * their physical value (a JS number would merge keys past 2^53, a Date keys a microsecond apart).
 */
function keyValues(series: pl.Series): unknown[] {
  const variant = series.dtype.variant;
  if (WIDE_KEYS.has(variant)) {
    const physical = variant === "Int64" || variant === "UInt64" ? series : series.cast(pl.Int64);
    // toTypedArray refuses nulls: a column with a null key goes the slow, exact way (it fails the load anyway).
    return physical.nullCount() === 0 ? Array.from(physical.toTypedArray() as BigInt64Array | BigUint64Array) : physical.cast(pl.Utf8).toArray();
  }
  return variant === "Date" ? series.cast(pl.Int32).toArray() : series.toArray();
}

/** Splits a frame by its `dt` Date column into the given partitions (missing ones become empty frames). */
export function splitByDt(frame: pl.DataFrame, dts: readonly string[]): Map<string, pl.DataFrame> {
  const partitions = new Map<string, pl.DataFrame>();
  if (dts.length === 1 && frame.height === 0) return partitions.set(dts[0] as string, frame);
  const dtype = schemaOf(frame)["dt"];
  if (dtype?.variant === "Date") {
    for (const dt of dts) partitions.set(dt, frame.filter(dtIs(dt, dtype)));
    return partitions;
  }
  const keyed = frame.withColumns(pl.col("dt").cast(pl.Utf8).alias("__dt"));
  for (const dt of dts) partitions.set(dt, keyed.filter(pl.col("__dt").eq(pl.lit(dt))).drop("__dt"));
  return partitions;
}

/**
 * `dt` is the day `dt` (a YYYY-MM-DD string), for a `dt` column of type `dtype`. A Date column is
 * compared by the day number it stores: the same rows as comparing it printed as text, without
 * printing a date per row (~25x cheaper at 1M rows). Other types, and text that is not such a day,
 * are compared as text.
 */
export function dtIs(dt: string, dtype: pl.DataType | undefined): pl.Expr {
  const day = dtype?.variant === "Date" ? epochDay(dt) : null;
  return day === null ? pl.col("dt").cast(pl.Utf8).eq(pl.lit(dt)) : pl.col("dt").cast(pl.Int32).eq(pl.lit(day).cast(pl.Int32));
}

/** Days since 1970-01-01 of a YYYY-MM-DD day Sluice partitions (a Date column's stored value); null for any other text. */
export function epochDay(dt: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(dt) || dt < FIRST_DAY || dt > LAST_DAY) return null;
  const ms = Date.parse(`${dt}T00:00:00Z`);
  return Number.isNaN(ms) || formatDay(new Date(ms)) !== dt ? null : ms / DAY_MS;
}

/** How listRows names and keeps columns. */
export interface ListRowsOptions {
  /** The List(Struct) column to turn into rows. */
  list: string;
  /** Parent columns to keep on every element row: a list, or a map of new name -> parent column. */
  keep: readonly string[] | Readonly<Record<string, string>>;
  /** Name of the 0-based position of the element in its array; default "position". */
  position?: string;
}

/**
 * One row per element of an array of objects (a List(Struct) column), with the parent columns it
 * keeps, the element's position and its fields: the rows of a child table keyed by the parent's
 * key and the position (`refunds.data` of a Stripe charge -> charge_refunds).
 */
export function listRows(frame: pl.DataFrame, options: ListRowsOptions): pl.DataFrame {
  const keep = Array.isArray(options.keep) ? Object.fromEntries((options.keep as string[]).map((c) => [c, c])) : (options.keep as Record<string, string>);
  const position = options.position ?? "position";
  const lengths = frame.getColumn(options.list).list.lengths().toArray() as Array<number | null>;
  // Positions in JS from the lengths: explode keeps the element order of each array.
  const positions: number[] = [];
  for (const n of lengths) for (let i = 0; i < (n ?? 0); i++) positions.push(i);
  const exploded = frame
    .select(...Object.entries(keep).map(([to, from]) => pl.col(from).alias(to)), pl.col(options.list))
    .explode(options.list)
    .filter(pl.col(options.list).isNotNull());
  const rows = exploded.withColumns(pl.Series(position, positions, pl.Int32)).unnest(options.list);
  const kept = Object.keys(keep);
  return rows.select(...kept, position, ...rows.columns.filter((c) => c !== position && !kept.includes(c)));
}

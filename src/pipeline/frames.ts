/** Small frame helpers the engine shares: duck-typing, JSON-friendly rows, splitting by day. */
import pl from "nodejs-polars";

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

/** Splits a frame by its `dt` Date column into the given partitions (missing ones become empty frames). */
export function splitByDt(frame: pl.DataFrame, dts: readonly string[]): Map<string, pl.DataFrame> {
  const partitions = new Map<string, pl.DataFrame>();
  if (dts.length === 1 && frame.height === 0) return partitions.set(dts[0] as string, frame);
  const keyed = frame.withColumns(pl.col("dt").cast(pl.Utf8).alias("__dt"));
  for (const dt of dts) partitions.set(dt, keyed.filter(pl.col("__dt").eq(pl.lit(dt))).drop("__dt"));
  return partitions;
}

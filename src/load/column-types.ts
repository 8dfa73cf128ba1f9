/** Which DuckDB type changes are safe: widening a table's column in place, and reading a lake column as a table's type. */

const INT_LADDER = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"];
const UINT_LADDER = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];
const FLOAT_LADDER = ["FLOAT", "DOUBLE"];
const INTEGERS = new Set([...INT_LADDER, ...UINT_LADDER]);
const TEMPORAL = new Set(["DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"]);

/** True when every value of `from` fits `to` unchanged, so the table's column can be widened in place. */
export function isWidening(from: string, to: string): boolean {
  for (const ladder of [INT_LADDER, UINT_LADDER, FLOAT_LADDER]) {
    const a = ladder.indexOf(from);
    const b = ladder.indexOf(to);
    if (a >= 0 && b >= 0) return a <= b;
  }
  return false;
}

/** True when reading a Parquet column of type `from` as `to` is a plain cast (possibly range-checked). */
export function isReadable(from: string, to: string): boolean {
  if (from === to || from === "NULL" || "VARCHAR" === to || (from === "VARCHAR" && to === "JSON")) return true;
  const isFloat = (t: string): boolean => FLOAT_LADDER.includes(t) || t.startsWith("DECIMAL");
  if (INTEGERS.has(from) && (INTEGERS.has(to) || isFloat(to))) return true;
  if (isFloat(from) && isFloat(to)) return true;
  return TEMPORAL.has(from) && TEMPORAL.has(to);
}

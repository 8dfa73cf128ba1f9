/** Values as a person reads them in a table: short dtype names, dates as dates, floats rounded. */
import { jsonText } from "../load/sql-values.ts";
import { shortDtype } from "../report/dtypes.ts";

export { shortDtype as polarsDtype };

const DUCKDB_DTYPES: Readonly<Record<string, string>> = {
  BOOLEAN: "bool",
  TINYINT: "i8",
  SMALLINT: "i16",
  INTEGER: "i32",
  BIGINT: "i64",
  HUGEINT: "i128",
  UTINYINT: "u8",
  USMALLINT: "u16",
  UINTEGER: "u32",
  UBIGINT: "u64",
  UHUGEINT: "u128",
  FLOAT: "f32",
  DOUBLE: "f64",
  VARCHAR: "str",
  JSON: "str",
  BLOB: "binary",
  DATE: "date",
  TIME: "time",
  "TIME WITH TIME ZONE": "time[tz]",
  TIMESTAMP: "datetime[μs]",
  "TIMESTAMP WITH TIME ZONE": "datetime[μs, UTC]",
  TIMESTAMP_S: "datetime[s]",
  TIMESTAMP_MS: "datetime[ms]",
  TIMESTAMP_NS: "datetime[ns]",
  INTERVAL: "duration",
  UUID: "uuid",
  NULL: "null",
  '"NULL"': "null",
};

/** A DuckDB type as Polars would name it: BIGINT -> i64, TIMESTAMP WITH TIME ZONE -> datetime[μs, UTC] (sessions run in UTC). */
export function duckdbDtype(type: string): string {
  const t = type.trim();
  const simple = DUCKDB_DTYPES[t];
  if (simple) return simple;
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `decimal[${decimal[1]},${decimal[2]}]`;
  const array = /^(.*)\[(\d*)\]$/.exec(t);
  if (array) return array[2] === "" ? `list[${duckdbDtype(array[1] ?? "")}]` : `array[${duckdbDtype(array[1] ?? "")}, ${array[2]}]`;
  if (/^STRUCT\(/.test(t)) return "struct";
  if (/^MAP\(/.test(t)) return "map";
  if (/^ENUM\(/.test(t)) return "enum";
  if (/^UNION\(/.test(t)) return "union";
  return t.toLowerCase();
}

/** True for dtypes whose cells read best right-aligned. */
export function isNumericDtype(dtype: string): boolean {
  return /^(i\d+|u\d+|f\d+|decimal\b)/.test(dtype);
}

/**
 * Floats as Polars shows them: at most 6 decimals, trailing zeros dropped but one kept (`2.0`),
 * scientific notation for very large or very small magnitudes (`1.2346e10`).
 */
export function formatFloat(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e10 || abs < 1e-4)) return n.toExponential(4).replace("e+", "e");
  const text = String(Number(n.toFixed(6)));
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** One value as table text for its dtype: null, dates as dates, times without the "T" and "Z", floats rounded. */
export function displayCell(value: unknown, dtype: string): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return dtype.startsWith("f") ? formatFloat(value) : String(value);
  if (value instanceof Date) return displayCell(Number.isNaN(value.getTime()) ? String(value) : value.toISOString(), dtype);
  if (typeof value === "string") {
    if (dtype === "date" && /^[+-]?\d{4,}-\d{2}-\d{2}T00:00:00(\.0+)?Z$/.test(value)) return value.slice(0, value.indexOf("T"));
    // Like Polars (chrono): whole seconds without a fraction, else 3 or 6 digits.
    if (dtype.startsWith("datetime") && /^[+-]?\d{4,}-\d{2}-\d{2}T[\d:.]+Z?$/.test(value)) return value.replace("T", " ").replace(/Z$/, "").replace(/\.000$/, "");
    return value;
  }
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  return jsonText(value);
}

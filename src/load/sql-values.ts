/**
 * Values between JS and DuckDB: identifiers and literals as SQL text going in, result values as
 * plain JSON coming out (bigint as number when safe, timestamps as ISO strings).
 */
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBUnionValue,
  type DuckDBConnection,
  type DuckDBValue,
} from "@duckdb/node-api";

/** Runs SQL and returns JSON-friendly values (bigint -> number when safe else string, timestamps ISO). */
export async function query(conn: DuckDBConnection, sql: string): Promise<{ columns: string[]; types: string[]; rows: unknown[][] }> {
  const result = await conn.runAndReadAll(sql);
  return {
    columns: result.columnNames(),
    types: result.columnTypes().map((t) => t.toString()),
    rows: result.getRows().map((row) => row.map(toJsonValue)),
  };
}

/** A DuckDB value as plain JSON: bigint as number when safe (else string), timestamps and dates as ISO strings over DuckDB's whole range. */
export function toJsonValue(value: DuckDBValue): unknown {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return bigintToJson(value);
  if (value instanceof DuckDBTimestampTZValue) return timestampToIso(value.micros, 1_000_000n, "Z");
  if (value instanceof DuckDBTimestampValue) return timestampToIso(value.micros, 1_000_000n, "");
  if (value instanceof DuckDBTimestampMillisecondsValue) return timestampToIso(value.millis, 1000n, "");
  if (value instanceof DuckDBTimestampSecondsValue) return timestampToIso(value.seconds, 1n, "");
  if (value instanceof DuckDBTimestampNanosecondsValue) return timestampToIso(value.nanos, 1_000_000_000n, "");
  if (value instanceof DuckDBDateValue) return dateToIso(value.days);
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(toJsonValue);
  if (value instanceof DuckDBStructValue) return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toJsonValue(v)]));
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: toJsonValue(e.key), value: toJsonValue(e.value) }));
  if (value instanceof DuckDBUnionValue) return toJsonValue(value.value);
  if (value instanceof DuckDBBlobValue) return value.toString();
  return String(value);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function bigintToJson(value: bigint): number | string {
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
}

/** DuckDB's infinite timestamps are the extreme int64 values, in whatever unit the type counts. */
const INFINITE = 2n ** 63n - 1n;
/** DuckDB's infinite dates are the extreme int32 values of days. */
const INFINITE_DAYS = 2 ** 31 - 1;
const MICROS_PER_DAY = 86_400_000_000n;

/** An int64 count of `perSecond` units as ISO text; "infinity"/"-infinity" for DuckDB's infinite values. */
function timestampToIso(count: bigint, perSecond: bigint, zone: "Z" | ""): string {
  if (count >= INFINITE) return "infinity";
  if (count <= -INFINITE) return "-infinity";
  return microsToIso((count * 1_000_000n) / perSecond - ((count * 1_000_000n) % perSecond < 0n ? 1n : 0n), zone);
}

/**
 * ISO 8601 with milliseconds, or microseconds when there are any. Computed from the day count, not
 * through a JS Date, so DuckDB's whole range prints (years past 275760 and before 0 included).
 */
function microsToIso(micros: bigint, zone: "Z" | ""): string {
  // The common case (years 1970 +- 285) in plain numbers through Date: several times faster.
  if (micros <= MAX_SAFE && micros >= MIN_SAFE) {
    const n = Number(micros);
    const subMs = ((n % 1000) + 1000) % 1000;
    const iso = new Date((n - subMs) / 1000).toISOString();
    if (iso.length === 24) return `${iso.slice(0, 23)}${subMs === 0 ? "" : String(subMs).padStart(3, "0")}${zone}`;
  }
  const days = micros / MICROS_PER_DAY - (micros % MICROS_PER_DAY < 0n ? 1n : 0n);
  const ofDay = Number(micros - days * MICROS_PER_DAY);
  const ms = Math.floor(ofDay / 1000);
  const subMs = ofDay % 1000;
  const time = [Math.floor(ms / 3_600_000), Math.floor(ms / 60_000) % 60, Math.floor(ms / 1000) % 60].map((n) => String(n).padStart(2, "0")).join(":");
  const fraction = `${String(ms % 1000).padStart(3, "0")}${subMs === 0 ? "" : String(subMs).padStart(3, "0")}`;
  return `${civilDate(Number(days))}T${time}.${fraction}${zone}`;
}

/** YYYY-MM-DD of a day count since 1970-01-01 (proleptic Gregorian; years outside 0..9999 as ±YYYYYY, like JS). */
export function civilDate(days: number): string {
  // Howard Hinnant's civil_from_days.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const yyyy = year >= 0 && year <= 9999 ? String(year).padStart(4, "0") : `${year < 0 ? "-" : "+"}${String(Math.abs(year)).padStart(6, "0")}`;
  return `${yyyy}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** A DuckDB DATE as YYYY-MM-DD; "infinity"/"-infinity" for the infinite dates. */
function dateToIso(days: number): string {
  if (days >= INFINITE_DAYS) return "infinity";
  if (days <= -INFINITE_DAYS) return "-infinity";
  return civilDate(days);
}

/** JSON text of a JS value, bigints included (as numbers when safe, else strings). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? bigintToJson(v) : v)) ?? "null";
}

/** A double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted SQL string literal (a NUL, which a literal cannot hold, is spliced in as chr(0)). */
export function literal(value: string): string {
  if (value.includes("\0")) return `(${value.split("\0").map(literal).join(" || chr(0) || ")})`;
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A value written into SQL text instead of bound as a parameter: a statement with parameters costs
 * DuckDB a prepare and a bind besides the run (~1-1.5 ms more for a bookkeeping row). Strings are
 * quoted, finite numbers and bigints written out, anything else NULL.
 */
export function sqlValue(value: string | number | bigint | boolean | null | undefined): string {
  if (typeof value === "string") return literal(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "bigint") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  return "NULL";
}

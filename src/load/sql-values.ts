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

/** A DuckDB value as plain JSON: bigint as number when safe (else string), timestamps as ISO strings. */
export function toJsonValue(value: DuckDBValue): unknown {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return bigintToJson(value);
  if (value instanceof DuckDBTimestampTZValue) return microsToIso(value.micros, "Z");
  if (value instanceof DuckDBTimestampValue) return microsToIso(value.micros, "");
  if (value instanceof DuckDBTimestampMillisecondsValue) return microsToIso(value.millis * 1000n, "");
  if (value instanceof DuckDBTimestampSecondsValue) return microsToIso(value.seconds * 1_000_000n, "");
  if (value instanceof DuckDBTimestampNanosecondsValue) return microsToIso(value.nanos / 1000n, "");
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(toJsonValue);
  if (value instanceof DuckDBStructValue) return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toJsonValue(v)]));
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: toJsonValue(e.key), value: toJsonValue(e.value) }));
  if (value instanceof DuckDBUnionValue) return toJsonValue(value.value);
  if (value instanceof DuckDBBlobValue) return value.toString();
  return String(value);
}

function bigintToJson(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** ISO 8601 with milliseconds, or microseconds when there are any; "infinity" for infinite values. */
function microsToIso(micros: bigint, zone: "Z" | ""): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return micros > 0n ? "infinity" : "-infinity";
  const subMs = Number(((micros % 1000n) + 1000n) % 1000n);
  const iso = date.toISOString().slice(0, -1); // drop the Z
  return `${iso}${subMs === 0 ? "" : String(subMs).padStart(3, "0")}${zone}`;
}

/** JSON text of a JS value, bigints included (as numbers when safe, else strings). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? bigintToJson(v) : v)) ?? "null";
}

/** A double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted SQL string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

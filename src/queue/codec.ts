/**
 * What crosses Redis is JSON. Runs, loads and warehouse values carry Dates and bigints (BIGINT
 * columns come back from DuckDB as bigint); errors cross as core/error-codec.ts describes them.
 */

/** A JSON value. */
export type Wire = null | boolean | number | string | Wire[] | { [key: string]: Wire };

/** Turns a value into JSON-safe data, tagging bigints, Dates and non-finite numbers so decode restores them. */
export function encode(value: unknown): Wire {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(encode);
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return String(value); // e.g. DuckDB value classes
    const out: { [key: string]: Wire } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encode(v);
    return out;
  }
  return String(value);
}

/** Restores what encode tagged. */
export function decode(value: Wire): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(decode);
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const tag = value["$bigint"] ?? value["$date"] ?? value["$number"];
    if (typeof tag === "string") {
      if ("$bigint" in value) return BigInt(tag);
      if ("$date" in value) return new Date(tag);
      return Number(tag);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = decode(v);
  return out;
}

export { decodeError, encodeError, type WireError } from "../core/error-codec.ts";

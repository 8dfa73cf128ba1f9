/**
 * What crosses Redis is JSON. Runs, loads and warehouse values carry Dates and bigints (BIGINT
 * columns come back from DuckDB as bigint), and errors must keep their class and `retryable`
 * flag, since retry decisions read them and never parse messages. This module keeps both intact.
 */
import {
  CancelledError,
  ConfigError,
  HttpError,
  LockError,
  SchemaError,
  SluiceError,
  SourceFormatError,
  UsageError,
  ValidationBlockedError,
  type ErrorContext,
} from "../core/errors.ts";

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

/** An error as data: enough to rebuild the same Sluice error class on the other side. */
export interface WireError {
  code: string | null;
  message: string;
  retryable: boolean;
  hint: string | null;
  context: Record<string, string>;
  status: number | null;
}

/** Describes an error for the wire. */
export function encodeError(error: unknown): WireError {
  if (error instanceof SluiceError) {
    const context: Record<string, string> = {};
    for (const [k, v] of Object.entries(error.context)) if (v !== undefined) context[k] = String(v);
    return { code: error.code, message: error.message, retryable: error.retryable, hint: error.hint ?? null, context, status: error instanceof HttpError ? (error.status ?? null) : null };
  }
  return { code: null, message: error instanceof Error ? error.message : String(error), retryable: true, hint: null, context: {}, status: null };
}

const CLASSES: Record<string, new (message: string, options: ConstructorParameters<typeof SluiceError>[1]) => SluiceError> = {
  SLUICE_ERROR: SluiceError,
  USAGE: UsageError,
  CONFIG: ConfigError,
  SOURCE_FORMAT: SourceFormatError,
  VALIDATION_BLOCKED: ValidationBlockedError,
  SCHEMA: SchemaError,
  LOCKED: LockError,
  CANCELLED: CancelledError,
};

/** Rebuilds an error of the same class, message, hint, context and retryability (a plain Error when it was not a Sluice error). */
export function decodeError(wire: WireError): Error {
  const options = { retryable: wire.retryable, context: wire.context as ErrorContext, ...(wire.hint === null ? {} : { hint: wire.hint }) };
  if (wire.code === "HTTP") return new HttpError(wire.message, { ...options, ...(wire.status === null ? {} : { status: wire.status }) });
  const Class = wire.code === null ? undefined : CLASSES[wire.code];
  if (Class) return new Class(wire.message, options);
  return new Error(wire.message);
}

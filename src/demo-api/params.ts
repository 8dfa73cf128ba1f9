/** Answers and query parameters of the demo API: what a handler returns, and the 400s it throws. */
import { Buffer } from "node:buffer";
import { parseRfc3339Micros } from "./rfc3339.ts";

/** Page size when a request names no `limit`. */
export const DEFAULT_LIMIT = 100;

/** A response to send: status, body and extra headers (content type JSON unless a fault says otherwise). */
export interface Answer {
  status: number;
  body: Buffer;
  headers?: Record<string, string>;
}

/** A 4xx answer: not transient, the request itself is wrong. */
export class ClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The contract's error body: `{"error":{"code","message"}}`. */
export function errorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ error: { code, message } }));
}

/** An integer parameter >= min, or `fallback` when absent or empty. */
export function intParam(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = params.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min) {
    throw new ClientError(400, "bad_request", `${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return Number(raw);
}

/** A required RFC 3339 parameter, as epoch µs. */
export function instantParam(params: URLSearchParams, name: string): number {
  const raw = params.get(name);
  if (raw === null) throw new ClientError(400, "bad_request", `${name} is required (RFC 3339 timestamp)`);
  const us = parseRfc3339Micros(raw);
  if (us === null) throw new ClientError(400, "bad_request", `${name} "${raw}" is not an RFC 3339 timestamp`);
  return us;
}

/** An optional RFC 3339 parameter, as epoch µs; null when absent. */
export function optionalInstantParam(params: URLSearchParams, name: string): number | null {
  return params.has(name) ? instantParam(params, name) : null;
}

/**
 * Fault injection: the ways a request that would succeed can misbehave (429 with Retry-After,
 * 5xx, resets, stalls, truncated or HTML bodies), as the contract says clients must cope with.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { errorBody, type Answer } from "./params.ts";

/** The ways a request can misbehave, chosen uniformly when a fault is injected. */
export const FAULT_KINDS = [
  "429_retry_after_seconds",
  "429_retry_after_date",
  "500",
  "502",
  "503",
  "504",
  "connection_reset",
  "stall",
  "truncated_json",
  "html_error_page",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const HTML_TYPE = "text/html; charset=utf-8";

/** What a fault needs from the server: a way to answer, and a timer the server cancels on close. */
export interface FaultResponder {
  send(res: ServerResponse, answer: Answer, contentType?: string): void;
  /** Runs `fn` after `ms` unless the client goes away or the server closes first. */
  later(res: ServerResponse, ms: number, fn: () => void): void;
}

/** Timing of the faults that involve time. */
export interface FaultTiming {
  /** How long a "stall" withholds the response. */
  stallMs: number;
  /** Retry-After of a 429, in seconds. */
  retryAfterSeconds: number;
}

function html(title: string): Buffer {
  return Buffer.from(`<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><p>upstream error, please retry</p></body></html>\n`);
}

/** Answers `req` with fault `kind` instead of `real`, the answer it would have had. */
export function misbehave(kind: FaultKind, req: IncomingMessage, res: ServerResponse, real: Answer, out: FaultResponder, timing: FaultTiming): void {
  switch (kind) {
    case "429_retry_after_seconds":
      return out.send(res, { status: 429, body: errorBody("rate_limited", "too many requests"), headers: { "retry-after": String(timing.retryAfterSeconds) } });
    case "429_retry_after_date": {
      // HTTP dates have whole seconds: round up so the client never waits less than asked.
      const at = new Date(Math.ceil((Date.now() + timing.retryAfterSeconds * 1000) / 1000) * 1000);
      return out.send(res, { status: 429, body: errorBody("rate_limited", "too many requests"), headers: { "retry-after": at.toUTCString() } });
    }
    case "500":
      return out.send(res, { status: 500, body: errorBody("internal", "internal server error") });
    case "503":
      return out.send(res, { status: 503, body: errorBody("unavailable", "service unavailable") });
    case "502":
      return out.send(res, { status: 502, body: html("502 Bad Gateway") }, HTML_TYPE);
    case "504":
      return out.send(res, { status: 504, body: html("504 Gateway Time-out") }, HTML_TYPE);
    case "connection_reset": {
      const socket: Socket = req.socket;
      // A TCP RST (ECONNRESET at the client) rather than a clean FIN.
      if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    case "stall":
      return out.later(res, timing.stallMs, () => out.send(res, real));
    case "truncated_json":
      return out.send(res, { status: 200, body: real.body.subarray(0, Math.floor(real.body.length / 2)) });
    case "html_error_page":
      return out.send(res, { status: 200, body: html("Service Temporarily Unavailable") }, HTML_TYPE);
  }
}

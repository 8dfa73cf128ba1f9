/** The demo server's options, checked once: UsageError names the bad one. */
import { Buffer } from "node:buffer";
import { UsageError } from "../core/errors.ts";
import { resolveDataset, SNAPSHOT_S, type Dataset, type DatasetOptions } from "./dataset.ts";
import { FAULT_KINDS, type FaultKind } from "./faults.ts";
import { parseRfc3339Micros } from "./rfc3339.ts";

/** How to start the demo API: the dataset it serves, and how it behaves. */
export interface DemoApiOptions extends DatasetOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** 0..1, default 0: probability that a (valid) request misbehaves. */
  faultRate?: number;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
  /** Cap on `limit`, default 1000. */
  maxPageSize?: number;
  /** How long a "stall" fault withholds the response, default 30000. */
  stallMs?: number;
  /** Value of Retry-After on 429, in seconds, default 1. */
  retryAfterSeconds?: number;
  /** The fault kinds to choose from (uniformly), default all of FAULT_KINDS. */
  faultKinds?: readonly FaultKind[];
  /** Every response is sent this many ms after its request arrived (a slow API, not a fault), default 0. */
  latencyMs?: number;
  /**
   * The instant (RFC 3339) the users snapshot is as of when a request names no `as_of`; default
   * 2026-11-30T00:00:00Z, the fixed snapshot (later instants show users updated since then).
   */
  usersAsOf?: string;
  /** Serve the whole users snapshot whatever `updated_since` says, as a server that lacks it would. */
  ignoreUpdatedSince?: boolean;
}

/** DemoApiOptions checked and with defaults applied. */
export interface ServerConfig {
  ds: Dataset;
  host: string;
  port: number;
  faultRate: number;
  faultKinds: FaultKind[];
  /** `Bearer <token>` as bytes, or null when no token is required. */
  expectedAuth: Buffer | null;
  maxPageSize: number;
  stallMs: number;
  retryAfterSeconds: number;
  latencyMs: number;
  /** Epoch seconds. */
  usersAsOfS: number;
  ignoreUpdatedSince: boolean;
}

/** Checks the options and applies defaults. */
export function resolveServerOptions(options: DemoApiOptions): ServerConfig {
  const config: ServerConfig = {
    ds: resolveDataset(options),
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    faultRate: options.faultRate ?? 0,
    faultKinds: [...(options.faultKinds ?? FAULT_KINDS)],
    expectedAuth: options.token === undefined ? null : Buffer.from(`Bearer ${options.token}`),
    maxPageSize: options.maxPageSize ?? 1000,
    stallMs: options.stallMs ?? 30_000,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    latencyMs: options.latencyMs ?? 0,
    usersAsOfS: options.usersAsOf === undefined ? SNAPSHOT_S : usersAsOfSeconds(options.usersAsOf),
    ignoreUpdatedSince: options.ignoreUpdatedSince ?? false,
  };
  checkServerConfig(config, options.token);
  return config;
}

/** Epoch seconds of an RFC 3339 instant; UsageError when it is not one. */
export function usersAsOfSeconds(value: string): number {
  const us = parseRfc3339Micros(value);
  if (us === null) throw new UsageError(`users as-of "${value}" is not an RFC 3339 timestamp`, { hint: "e.g. 2026-12-05T00:00:00Z" });
  return Math.floor(us / 1e6);
}

function checkServerConfig(c: ServerConfig, token: string | undefined): void {
  if (!(c.faultRate >= 0 && c.faultRate <= 1)) throw new UsageError(`fault rate ${c.faultRate} is not in 0..1`);
  if (!Number.isSafeInteger(c.maxPageSize) || c.maxPageSize < 1) throw new UsageError(`max page size ${c.maxPageSize} is not a positive integer`);
  if (!Number.isFinite(c.stallMs) || c.stallMs < 0) throw new UsageError(`stall ${c.stallMs} ms is not a duration`);
  if (!Number.isFinite(c.latencyMs) || c.latencyMs < 0) throw new UsageError(`latency ${c.latencyMs} ms is not a duration`);
  if (!Number.isSafeInteger(c.retryAfterSeconds) || c.retryAfterSeconds < 0) throw new UsageError(`retry-after ${c.retryAfterSeconds} is not a whole number of seconds`);
  if (token !== undefined && token.length === 0) throw new UsageError("the demo API token is empty");
  for (const k of c.faultKinds) if (!FAULT_KINDS.includes(k)) throw new UsageError(`unknown fault kind "${k}"`, { hint: `one of ${FAULT_KINDS.join(", ")}` });
  if (c.faultKinds.length === 0) throw new UsageError("no fault kinds to choose from");
  if (!Number.isSafeInteger(c.port) || c.port < 0 || c.port > 65535) throw new UsageError(`port ${c.port} is not in 0..65535`);
}

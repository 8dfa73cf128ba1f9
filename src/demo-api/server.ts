/**
 * The built-in demo server of the source API contract (docs: shared/notes/source-api-contract.md):
 * deterministic data, cursor-paginated events, offset-paginated users, optional bearer auth, and
 * injectable transient faults (429, 5xx, resets, stalls, truncated or HTML bodies).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import { UsageError } from "../core/errors.ts";
import { formatDay } from "../core/dates.ts";
import { dayListing, recordsAt, recordsJoined, resolveDataset, usersListing, S_CURSOR, S_FAULTS, type Dataset, type Listing } from "./data.ts";
import { hash32, rngFrom } from "./prng.ts";

export interface DemoApiOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 42. */
  seed?: number;
  /** Approximate events per day (deterministic), default 20000. */
  eventsPerDay?: number;
  /** Default max(50, eventsPerDay / 40). */
  users?: number;
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
}

export interface DemoApiStats {
  requests: number;
  /** Injected faults by kind (see FAULT_KINDS). */
  faults: Record<string, number>;
  /** Responses sent, by HTTP status. */
  byStatus: Record<string, number>;
}

export interface DemoApi {
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): DemoApiStats;
}

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

const DAY_US = 86_400_000_000;
const DEFAULT_LIMIT = 100;
/** Longest window of one events request: a guard against accidental year-long requests. */
const MAX_WINDOW_DAYS = 31;

const JSON_TYPE = "application/json; charset=utf-8";
const DATA_OPEN = Buffer.from(`{"data":[`);
const USERS_OPEN = Buffer.from(`{"users":[`);
const COMMA = Buffer.from(",");

/** A 4xx answer: not transient, the request itself is wrong. */
class ClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  body: Buffer;
  headers?: Record<string, string>;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 timestamp to epoch µs (sub-µs digits dropped); null when invalid. */
export function parseRfc3339Micros(value: string): number | null {
  // An unencoded "+02:00" in a query string arrives as " 02:00".
  const m = RFC3339.exec(value.replace(/ (\d{2}:\d{2})$/, "+$1"));
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  // Years before 1000 are refused: Date.UTC maps 0..99 to 1900..1999.
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) return null; // 2026-02-30 and the like
  let offsetMin = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const frac = Number((m[7] ?? "").padEnd(6, "0").slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + frac;
}

function errorBody(code: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ error: { code, message } }));
}

function intParam(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = params.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min) {
    throw new ClientError(400, "bad_request", `${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return Number(raw);
}

function instantParam(params: URLSearchParams, name: string): number {
  const raw = params.get(name);
  if (raw === null) throw new ClientError(400, "bad_request", `${name} is required (RFC 3339 timestamp)`);
  const us = parseRfc3339Micros(raw);
  if (us === null) throw new ClientError(400, "bad_request", `${name} "${raw}" is not an RFC 3339 timestamp`);
  return us;
}

interface CursorState {
  day: number;
  offset: number;
}

/** Opaque cursors: base64url JSON of the position, bound to the window and dataset by a check value. */
class Cursors {
  constructor(private readonly ds: Dataset) {}

  private check(start: number, end: number, day: number, offset: number): string {
    const parts = [this.ds.seed, this.ds.eventsPerDay, this.ds.users, start, end, day, offset];
    return hash32(S_CURSOR, ...parts).toString(16).padStart(8, "0") + hash32(S_CURSOR + 1, ...parts).toString(16).padStart(8, "0");
  }

  encode(start: number, end: number, state: CursorState): string {
    const k = this.check(start, end, state.day, state.offset);
    return Buffer.from(JSON.stringify({ d: state.day, o: state.offset, k })).toString("base64url");
  }

  decode(start: number, end: number, cursor: string): CursorState {
    const bad = (): ClientError => new ClientError(400, "bad_cursor", "cursor is invalid or does not belong to this window");
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw bad();
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    } catch {
      throw bad();
    }
    if (typeof v !== "object" || v === null) throw bad();
    const { d, o, k } = v as Record<string, unknown>;
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(o) || typeof k !== "string") throw bad();
    const day = d as number;
    const offset = o as number;
    if (day < 0 || offset < 0 || k !== this.check(start, end, day, offset)) throw bad();
    return { day, offset };
  }
}

/** Starts the demo API in-process; resolves once it listens (port 0 picks a free port). */
export async function startDemoApi(options: DemoApiOptions = {}): Promise<DemoApi> {
  const ds = resolveDataset(options);
  const host = options.host ?? "127.0.0.1";
  const faultRate = options.faultRate ?? 0;
  const maxPageSize = options.maxPageSize ?? 1000;
  const stallMs = options.stallMs ?? 30_000;
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const token = options.token;
  if (!(faultRate >= 0 && faultRate <= 1)) throw new UsageError(`fault rate ${faultRate} is not in 0..1`);
  if (!Number.isSafeInteger(maxPageSize) || maxPageSize < 1) throw new UsageError(`max page size ${maxPageSize} is not a positive integer`);
  if (!Number.isFinite(stallMs) || stallMs < 0) throw new UsageError(`stall ${stallMs} ms is not a duration`);
  if (!Number.isSafeInteger(retryAfterSeconds) || retryAfterSeconds < 0) throw new UsageError(`retry-after ${retryAfterSeconds} is not a whole number of seconds`);
  if (token !== undefined && token.length === 0) throw new UsageError("the demo API token is empty");
  const faultKinds = [...(options.faultKinds ?? FAULT_KINDS)];
  for (const k of faultKinds) if (!FAULT_KINDS.includes(k)) throw new UsageError(`unknown fault kind "${k}"`, { hint: `one of ${FAULT_KINDS.join(", ")}` });
  if (faultKinds.length === 0) throw new UsageError("no fault kinds to choose from");
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new UsageError(`port ${port} is not in 0..65535`);

  const expectedAuth = token === undefined ? null : Buffer.from(`Bearer ${token}`);
  const faultRng = rngFrom(ds.seed, S_FAULTS);
  const cursors = new Cursors(ds);
  const stats: DemoApiStats = { requests: 0, faults: {}, byStatus: {} };
  const stalls = new Set<NodeJS.Timeout>();
  let closed = false;

  const count = (map: Record<string, number>, key: string): void => {
    map[key] = (map[key] ?? 0) + 1;
  };

  function send(res: ServerResponse, answer: Answer, contentType = JSON_TYPE): void {
    if (res.destroyed || res.writableEnded) return;
    count(stats.byStatus, String(answer.status));
    res.writeHead(answer.status, {
      "content-type": contentType,
      "content-length": String(answer.body.length),
      ...answer.headers,
    });
    res.end(answer.body);
  }

  function authorized(req: IncomingMessage): boolean {
    if (expectedAuth === null) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  }

  function events(params: URLSearchParams): Answer {
    const start = instantParam(params, "start");
    const end = instantParam(params, "end");
    const limit = Math.min(intParam(params, "limit", DEFAULT_LIMIT, 1), maxPageSize);
    if (end < start) throw new ClientError(400, "bad_request", "end is before start");
    if (end - start > MAX_WINDOW_DAYS * DAY_US) throw new ClientError(400, "bad_request", `window longer than ${MAX_WINDOW_DAYS} days`);
    const firstDay = Math.floor(start / DAY_US);
    const days = end === start ? 0 : Math.floor((end - 1) / DAY_US) - firstDay + 1;
    const cursorParam = params.get("cursor");
    let { day, offset } = cursorParam === null || cursorParam === "" ? { day: 0, offset: 0 } : cursors.decode(start, end, cursorParam);
    if (day > days) throw new ClientError(400, "bad_cursor", "cursor is invalid or does not belong to this window");

    const listingOf = (d: number): Listing => dayListing(ds, formatDay(new Date((firstDay + d) * 86_400_000)));
    const covers = (d: number): boolean => start <= (firstDay + d) * DAY_US && (firstDay + d + 1) * DAY_US <= end;
    const inWindow = (l: Listing, k: number): boolean => {
      const key = l.keys![k]!;
      return key >= start && key < end;
    };
    const parts: Buffer[] = [DATA_OPEN];
    let taken = 0;
    while (taken < limit && day < days) {
      const l = listingOf(day);
      if (offset > l.count) throw new ClientError(400, "bad_cursor", "cursor is invalid or does not belong to this window");
      if (covers(day)) {
        // A whole day (what jobs ask for): the page is one slice of the listing.
        const take = Math.min(limit - taken, l.count - offset);
        if (take > 0) {
          if (taken > 0) parts.push(COMMA);
          parts.push(recordsJoined(l, offset, offset + take));
          offset += take;
          taken += take;
        }
      } else {
        const positions: number[] = [];
        for (; offset < l.count && taken < limit; offset++) {
          if (!inWindow(l, offset)) continue;
          positions.push(offset);
          taken++;
        }
        if (positions.length > 0) {
          if (parts.length > 1) parts.push(COMMA);
          parts.push(recordsAt(l, positions));
        }
      }
      if (offset >= l.count) {
        day++;
        offset = 0;
      }
    }
    // Skip what is left outside the window, so the last page names no cursor.
    while (day < days) {
      if (covers(day)) {
        if (offset < listingOf(day).count) break;
      } else {
        const l = listingOf(day);
        while (offset < l.count && !inWindow(l, offset)) offset++;
        if (offset < l.count) break;
      }
      day++;
      offset = 0;
    }
    const next = day < days ? JSON.stringify(cursors.encode(start, end, { day, offset })) : "null";
    parts.push(Buffer.from(`],"next_cursor":${next}}`));
    return { status: 200, body: Buffer.concat(parts) };
  }

  function users(params: URLSearchParams): Answer {
    const offset = intParam(params, "offset", 0, 0);
    const limit = Math.min(intParam(params, "limit", DEFAULT_LIMIT, 1), maxPageSize);
    const l = usersListing(ds);
    const from = Math.min(offset, l.count);
    const to = Math.min(from + limit, l.count);
    const tail = Buffer.from(`],"total":${l.count}}`);
    const body = Buffer.concat([USERS_OPEN, recordsJoined(l, from, to), tail]);
    return { status: 200, body };
  }

  function misbehave(kind: FaultKind, req: IncomingMessage, res: ServerResponse, real: Answer): void {
    count(stats.faults, kind);
    const html = (title: string): Buffer =>
      Buffer.from(`<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><p>upstream error, please retry</p></body></html>\n`);
    switch (kind) {
      case "429_retry_after_seconds":
        return send(res, { status: 429, body: errorBody("rate_limited", "too many requests"), headers: { "retry-after": String(retryAfterSeconds) } });
      case "429_retry_after_date": {
        // HTTP dates have whole seconds: round up so the client never waits less than asked.
        const at = new Date(Math.ceil((Date.now() + retryAfterSeconds * 1000) / 1000) * 1000);
        return send(res, { status: 429, body: errorBody("rate_limited", "too many requests"), headers: { "retry-after": at.toUTCString() } });
      }
      case "500":
        return send(res, { status: 500, body: errorBody("internal", "internal server error") });
      case "503":
        return send(res, { status: 503, body: errorBody("unavailable", "service unavailable") });
      case "502":
        return send(res, { status: 502, body: html("502 Bad Gateway") }, "text/html; charset=utf-8");
      case "504":
        return send(res, { status: 504, body: html("504 Gateway Time-out") }, "text/html; charset=utf-8");
      case "connection_reset": {
        const socket: Socket = req.socket;
        // A TCP RST (ECONNRESET at the client) rather than a clean FIN.
        if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
        else socket.destroy();
        return;
      }
      case "stall": {
        const timer = setTimeout(() => {
          stalls.delete(timer);
          send(res, real);
        }, stallMs);
        stalls.add(timer);
        res.on("close", () => {
          clearTimeout(timer);
          stalls.delete(timer);
        });
        return;
      }
      case "truncated_json":
        return send(res, { status: 200, body: real.body.subarray(0, Math.floor(real.body.length / 2)) });
      case "html_error_page":
        return send(res, { status: 200, body: html("Service Temporarily Unavailable") }, "text/html; charset=utf-8");
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    stats.requests++;
    try {
      if (req.method !== "GET") throw new ClientError(405, "method_not_allowed", `${req.method ?? "?"} is not allowed; use GET`);
      const url = new URL(req.url ?? "/", "http://demo.invalid");
      const route = url.pathname === "/v1/events" ? events : url.pathname === "/v1/users" ? users : null;
      if (route === null) throw new ClientError(404, "not_found", `no route ${url.pathname}`);
      if (!authorized(req)) {
        return send(res, { status: 401, body: errorBody("unauthorized", "missing or wrong bearer token"), headers: { "www-authenticate": 'Bearer realm="sluice-demo"' } });
      }
      const answer = route(url.searchParams);
      // Faults only hit requests that would succeed: "the same request later succeeds".
      if (faultRate > 0 && faultRng() < faultRate) {
        return misbehave(faultKinds[Math.floor(faultRng() * faultKinds.length)]!, req, res, answer);
      }
      send(res, answer);
    } catch (error) {
      if (error instanceof ClientError) {
        const headers: Record<string, string> = error.status === 405 ? { allow: "GET" } : {};
        send(res, { status: error.status, body: errorBody(error.code, error.message), headers });
      } else {
        send(res, { status: 500, body: errorBody("internal", error instanceof Error ? error.message : String(error)) });
      }
    }
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("demo-api: server has no TCP address");
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    stats: () => ({ requests: stats.requests, faults: { ...stats.faults }, byStatus: { ...stats.byStatus } }),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of stalls) clearTimeout(t);
      stalls.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Ends keep-alive and stalled sockets now instead of waiting for them.
        server.closeAllConnections();
      });
    },
  };
}

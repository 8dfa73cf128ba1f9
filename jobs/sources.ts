/** The demo API's contract, declared once (docs/source-api-contract.md): its records and its listings. */
import { z } from "zod";
import { defineSource } from "../src/index.ts";

/** The event types the contract allows. */
export const EVENT_TYPES = ["login", "view_page", "add_to_cart", "purchase", "logout"] as const;

/** The plans the contract allows. */
export const PLANS = ["free", "pro", "enterprise"] as const;

/** One event record as the API sends it. Decoding checks types; validations/events.ts checks the rules. */
export const EventRecord = z.object({
  event_id: z.string(),
  user_id: z.int(),
  ts: z.iso.datetime({ offset: true }),
  event_type: z.enum(EVENT_TYPES),
  properties: z.object({ page: z.string().nullish(), amount: z.number().nullish() }).nullish(),
});

/** A day of events, cursor-paginated. The base URL is the demo API (SLUICE_API_URL overrides it). */
export const eventsSource = defineSource({
  name: "events",
  path: "/v1/events",
  params: (w) => ({ start: w.startIso, end: w.endIso, limit: 1000 }),
  records: "data",
  paginator: { kind: "cursor", nextPath: "next_cursor", param: "cursor" },
  schema: EventRecord,
  auth: { kind: "bearer", env: "SLUICE_API_TOKEN", optional: true },
});

/** One user record as the API sends it. */
export const UserRecord = z.object({
  user_id: z.int(),
  country: z.string(),
  plan: z.enum(PLANS),
  signup_ts: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
});

/**
 * Users changed since the last run (incremental by updated_at, an hour of lookback for late or
 * equal-time updates), offset-paginated with a total (pages fetched in parallel). The first run,
 * and --full-refresh, pull the whole snapshot.
 */
export const usersSource = defineSource({
  name: "users",
  path: "/v1/users",
  params: (_w, from) => (from.since === undefined ? {} : { updated_since: from.since }),
  incremental: { field: "updated_at", lookback: 60 * 60_000 },
  records: "users",
  paginator: { kind: "offset", offsetParam: "offset", limitParam: "limit", limit: 1000, totalPath: "total" },
  schema: UserRecord,
  auth: { kind: "bearer", env: "SLUICE_API_TOKEN", optional: true },
  policy: { concurrency: 4 },
});

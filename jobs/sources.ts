/** The source API of the built-in jobs, declared (docs/source-api-contract.md). */
import { z } from "zod";
import type { SourceSpec } from "../src/extract/types.ts";

/** One event record as the API sends it. Decoding checks types; validations/events.ts checks the rules. */
export const EventRecord = z.object({
  event_id: z.string(),
  user_id: z.int(),
  ts: z.iso.datetime({ offset: true }),
  event_type: z.enum(["login", "view_page", "add_to_cart", "purchase", "logout"]),
  properties: z
    .object({ page: z.string().nullish(), amount: z.number().nullish() })
    .nullish(),
});

export const eventsSource: SourceSpec<typeof EventRecord> = {
  name: "events",
  path: "/v1/events",
  params: (w) => ({ start: w.startIso, end: w.endIso, limit: 1000 }),
  recordsPath: "data",
  paginator: { kind: "cursor", nextPath: "next_cursor", param: "cursor" },
  schema: EventRecord,
  auth: { kind: "bearer", env: "SLUICE_API_TOKEN" },
};

export const UserRecord = z.object({
  user_id: z.int(),
  country: z.string(),
  plan: z.enum(["free", "pro", "enterprise"]),
  signup_ts: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
});

export const usersSource: SourceSpec<typeof UserRecord> = {
  name: "users",
  path: "/v1/users",
  params: () => ({}),
  recordsPath: "users",
  paginator: { kind: "offset", offsetParam: "offset", limitParam: "limit", limit: 1000, totalPath: "total" },
  schema: UserRecord,
  auth: { kind: "bearer", env: "SLUICE_API_TOKEN" },
  policy: { concurrency: 4 },
};

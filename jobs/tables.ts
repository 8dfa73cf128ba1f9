/** The warehouse tables of the built-in jobs, derived from what declares their columns. */
import { defineTable, tableFromRecord } from "../src/index.ts";
import { SESSIONS_SCHEMA } from "../transforms/sessions.ts";
import { EventRecord, UserRecord } from "./sources.ts";

/** One row per distinct event: the record's fields, its session and its day. */
export const EVENTS = tableFromRecord(EventRecord, {
  name: "events",
  key: ["event_id"],
  partitioned: true,
  extra: [
    { name: "session_id", type: "VARCHAR" },
    { name: "dt", type: "DATE" },
  ],
});

/**
 * Sessions as the sessions transform produces them, by the day they start. Derived from events, so a
 * day's sessions may legitimately shrink (a neighbour's run merges them across midnight): a warning.
 */
export const SESSIONS = defineTable({ name: "sessions", key: ["session_id"], partitioned: true, columns: [...SESSIONS_SCHEMA], onShrink: "warn" });

/** The latest version of every user (a row only moves forward in updated_at). */
export const USERS = tableFromRecord(UserRecord, { name: "users", key: ["user_id"], partitioned: false, versionColumn: "updated_at" });

/** The warehouse tables the built-in jobs write (column order is the table's column order). */
import type { TableSpec } from "../src/load/types.ts";

export const EVENTS: TableSpec = {
  name: "events",
  partitioned: true,
  key: ["event_id"],
  columns: [
    { name: "event_id", type: "VARCHAR" },
    { name: "user_id", type: "BIGINT" },
    { name: "ts", type: "TIMESTAMPTZ" },
    { name: "event_type", type: "VARCHAR" },
    { name: "page", type: "VARCHAR" },
    { name: "amount", type: "DOUBLE" },
    { name: "session_id", type: "VARCHAR" },
    { name: "dt", type: "DATE" },
  ],
};

export const SESSIONS: TableSpec = {
  name: "sessions",
  partitioned: true,
  key: ["session_id"],
  columns: [
    { name: "session_id", type: "VARCHAR" },
    { name: "user_id", type: "BIGINT" },
    { name: "session_start", type: "TIMESTAMPTZ" },
    { name: "session_end", type: "TIMESTAMPTZ" },
    { name: "duration_s", type: "DOUBLE" },
    { name: "event_count", type: "INTEGER" },
    { name: "first_event_type", type: "VARCHAR" },
    { name: "last_event_type", type: "VARCHAR" },
    { name: "primary_action", type: "VARCHAR" },
    { name: "has_purchase", type: "BOOLEAN" },
    { name: "revenue", type: "DOUBLE" },
    { name: "dt", type: "DATE" },
  ],
};

export const USERS: TableSpec = {
  name: "users",
  partitioned: false,
  key: ["user_id"],
  versionColumn: "updated_at",
  columns: [
    { name: "user_id", type: "BIGINT" },
    { name: "country", type: "VARCHAR" },
    { name: "plan", type: "VARCHAR" },
    { name: "signup_ts", type: "TIMESTAMPTZ" },
    { name: "updated_at", type: "TIMESTAMPTZ" },
  ],
};

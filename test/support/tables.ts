/**
 * Small synthetic tables for exercising the lake and warehouse directly (load tests, bench/merge.ts):
 * integer keys, a partition date, a version column, every column kind the loader converts.
 * The built-in jobs' real tables are in jobs/tables.ts.
 */
import type { TableSpec } from "../../src/load/types.ts";

/** A day-partitioned table keyed by a BIGINT event_id. */
export const LOAD_TEST_EVENTS: TableSpec = {
  name: "events",
  partitioned: true,
  key: ["event_id"],
  columns: [
    { name: "event_id", type: "BIGINT" },
    { name: "dt", type: "DATE" },
    { name: "user_id", type: "VARCHAR" },
    { name: "amount", type: "DOUBLE" },
    { name: "ts", type: "TIMESTAMPTZ" },
    { name: "n", type: "INTEGER" },
  ],
};

/** An unpartitioned snapshot table upserted by user_id, moving forward in updated_at only. */
export const LOAD_TEST_USERS: TableSpec = {
  name: "users",
  partitioned: false,
  key: ["user_id"],
  versionColumn: "updated_at",
  columns: [
    { name: "user_id", type: "VARCHAR" },
    { name: "name", type: "VARCHAR" },
    { name: "updated_at", type: "TIMESTAMPTZ" },
  ],
};

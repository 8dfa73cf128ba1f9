/**
 * The events contract (/v1/events) as checks. Check names are the quarantine reasons, so each
 * names the field and the rule. Frame: event_id Utf8, user_id Int64, ts Datetime(us, UTC),
 * event_type Utf8, page Utf8, amount Float64, plus the extract stage's _page/_row/_error.
 */
import pl from "nodejs-polars";
import { defineSuite } from "../src/index.ts";
import { EVENT_TYPES } from "../jobs/sources.ts";
import { EVENTS } from "../jobs/tables.ts";

/**
 * Validation of one day of raw events, before deduplication. Checks run and reasons are listed in
 * this order (a row failing several gets them all, joined by "; ").
 */
export const eventsSuite = defineSuite({
  table: EVENTS,
  checks: [
    { name: "event_id: not_null", kind: "not_null", column: "event_id", description: "every event is identified by an event_id" },
    { name: "user_id: not_null", kind: "not_null", column: "user_id", description: "every event belongs to a user" },
    { name: "user_id: greater than 0", kind: "compare", column: "user_id", op: "gt", value: 0, description: "user ids are positive integers" },
    { name: "ts: not_null", kind: "not_null", column: "ts", description: "every event has a timestamp" },
    {
      name: "ts: within the partition day",
      kind: "between",
      column: "ts",
      min: (c) => c.window.start,
      max: (c) => c.window.end,
      closed: "left",
      description: "the API was asked for start <= ts < end; anything else belongs to another day's partition",
    },
    // A missing event_type is null, which value checks let pass: presence is its own check.
    { name: "event_type: not_null", kind: "not_null", column: "event_type", description: "every event has a type" },
    {
      name: `event_type: in ${EVENT_TYPES.join("|")}`,
      kind: "is_in",
      column: "event_type",
      values: EVENT_TYPES,
      description: "unknown event types would be silently dropped by sessionization",
    },
    {
      // A warning, not an error: at-least-once delivery repeats events across pages and the job
      // deduplicates by event_id right after validation. Reporting the duplicate count here keeps
      // the delivery's duplicate rate visible in sluice.checks; removing rows would lose events.
      name: "event_id: unique",
      kind: "unique",
      columns: ["event_id"],
      severity: "warn",
      description: "duplicates are expected (at-least-once delivery) and deduplicated after validation",
    },
    { name: "amount: >= 0", kind: "compare", column: "amount", op: "ge", value: 0, severity: "warn", description: "purchase amounts are not negative" },
    {
      // A warning: the users snapshot may lag behind new sign-ups that already produce events.
      name: "events.user_id present in users",
      kind: "foreign_key",
      column: "user_id",
      references: "users.user_id",
      severity: "warn",
      description: "the event's user exists in the users table (which may lag)",
    },
    {
      // A blocking check: an API that stops paging half-way, or serves a short day, passes every
      // row check. A day's delivery varies by about +-20% here; a half-empty day is -50%.
      name: "events: volume",
      kind: "volume",
      anomaly: { history: 14, minHistory: 7, maxChange: 0.35 },
      description: "the day's event count is within 35% of the median of the previous 14 loaded days (7 needed)",
    },
    {
      // A warning: purchase amounts that collapse (all zero, cents read as units) are worth a look
      // before anyone reads revenue, but the events themselves are fine to load.
      name: "amount: mean over purchases",
      kind: "aggregate",
      agg: "mean",
      column: "amount",
      where: pl.col("event_type").eq(pl.lit("purchase")),
      severity: "warn",
      anomaly: { history: 14, minHistory: 7, maxChange: 0.5, direction: "drop" },
      description: "the day's mean purchase amount is no more than 50% below the median of the previous 14 loaded days",
    },
  ],
});

/**
 * Invariants of the sessions our own transform produces. Every invariant blocks: a violation is a
 * bug in sessionization, and loading half of a buggy partition would hide it. The volume check only
 * warns: the events' own volume check already blocks a short day.
 */
import { defineSuite } from "../src/index.ts";
import { SESSIONS } from "../jobs/tables.ts";

/** Validation of sessionized output before it is materialized. */
export const sessionsSuite = defineSuite({
  table: SESSIONS,
  checks: [
    { name: "session_id: not_null", kind: "not_null", column: "session_id", onFail: "block" },
    { name: "session_id: unique", kind: "unique", columns: ["session_id"], onFail: "block" },
    { name: "session_end: >= session_start", kind: "column_compare", left: "session_end", op: "ge", right: "session_start", onFail: "block" },
    { name: "duration_s: >= 0", kind: "compare", column: "duration_s", op: "ge", value: 0, onFail: "block" },
    { name: "event_count: >= 1", kind: "compare", column: "event_count", op: "ge", value: 1, onFail: "block" },
    { name: "revenue: >= 0", kind: "compare", column: "revenue", op: "ge", value: 0, onFail: "block" },
    {
      name: "sessions: volume",
      kind: "volume",
      severity: "warn",
      anomaly: { history: 14, minHistory: 7, maxChange: 0.35 },
      description: "the day's session count is within 35% of the median of the previous 14 loaded days (7 needed)",
    },
  ],
});

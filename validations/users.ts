/**
 * The users contract (/v1/users) as checks; failing users are quarantined, the rest load.
 * Frame: user_id Int64, country Utf8, plan Utf8, signup_ts and updated_at Datetime, plus _page/_row/_error.
 */
import { defineSuite } from "../src/index.ts";
import { PLANS } from "../jobs/sources.ts";
import { USERS } from "../jobs/tables.ts";

/** Validation of one users snapshot. */
export const usersSuite = defineSuite({
  table: USERS,
  checks: [
    { name: "user_id: not_null", kind: "not_null", column: "user_id", description: "every user has an id" },
    { name: "user_id: greater than 0", kind: "compare", column: "user_id", op: "gt", value: 0, description: "user ids are positive integers" },
    {
      // A warning, not a quarantine: offset pagination over a snapshot that changes while we page
      // returns some users twice, and the job keeps the latest version (by updated_at) right after
      // validation. Quarantining would drop every copy of those users, and above 5% block the run.
      name: "user_id: unique",
      kind: "unique",
      columns: ["user_id"],
      severity: "warn",
      description: "a user listed twice (the snapshot moved while paging); the job keeps the latest version",
    },
    // Value checks let nulls pass, so presence is checked on its own.
    { name: "country: not_null", kind: "not_null", column: "country", description: "every user has a country" },
    { name: "country: matches ^[A-Z]{2}$", kind: "matches", column: "country", pattern: "^[A-Z]{2}$", description: "ISO 3166-1 alpha-2 country code" },
    { name: "plan: not_null", kind: "not_null", column: "plan", description: "every user has a plan" },
    { name: `plan: in ${PLANS.join("|")}`, kind: "is_in", column: "plan", values: PLANS, description: "one of the plans the contract lists" },
  ],
});

/**
 * Job `users`: users from /v1/users, incremental by updated_at, upserted by user_id. The lake keeps
 * what each run date pulled; the warehouse table holds the latest version of each user.
 */
import { defineJob } from "../src/index.ts";
import { usersSuite } from "../validations/users.ts";
import { usersSource } from "./sources.ts";
import { USERS } from "./tables.ts";

export default defineJob({
  name: "users",
  description: "Users changed since the last run (incremental by updated_at), upserted by user_id.",
  tables: [USERS],
  async run(ctx) {
    // 1. Extract: every page of what changed since the last run's mark (everything the first time).
    const raw = await ctx.extract(usersSource);

    // 2. Validate: bad records go to quarantine.
    const valid = await ctx.validate(raw, usersSuite);

    // 3. Transform: one row per user (a user may appear twice if the snapshot moved while paging).
    const users = await ctx.step("latest version per user", () =>
      valid.sort("updated_at", true).unique({ subset: ["user_id"], keep: "first", maintainOrder: true }).sort("user_id"),
    );

    // 4. Materialize: this run date's snapshot in the lake, upserted into the warehouse.
    await ctx.materialize(USERS, users);
  },
});

/**
 * Job `events`: a UTC day of clickstream events from /v1/events, and the sessions they form.
 * Reads top to bottom like a notebook: extract, validate, transform, materialize (run() gives the
 * outline; the steps follow in order, in functions so that each stage's frames are freed after it).
 */
import pl from "nodejs-polars";
import { addDays } from "../src/core/dates.ts";
import { defineJob, type JobContext, type TableOutput } from "../src/pipeline/job.ts";
import { DEFAULT_SESSION_RULES, collectSessionized } from "../transforms/sessions.ts";
import { eventsSuite } from "../validations/events.ts";
import { sessionsSuite } from "../validations/sessions.ts";
import { eventsCharts } from "./events-charts.ts";
import { partitionsByDt } from "./partitions.ts";
import { eventsSource } from "./sources.ts";
import { EVENTS, SESSIONS } from "./tables.ts";

/** The columns sessionization needs; lake partitions carry more (session_id, dt) that it recomputes. */
const EVENT_COLUMNS = ["event_id", "user_id", "ts", "event_type", "page", "amount"];

export default defineJob({
  name: "events",
  description: "Clickstream events of one UTC day, and the sessions they form (sessions may cross midnight).",
  tables: [EVENTS, SESSIONS],
  async run(ctx) {
    // 1-3a. The day's events: extracted, validated, one row per event_id.
    const today = await validDayEvents(ctx);
    // 3b-4. Sessions around the day, then the load (holding the job's lock, see below).
    await ctx.exclusive(async () => ctx.materialize(await sessionsAround(ctx, today)));
  },
  charts: eventsCharts,
});

/** Steps 1 to 3a. Each stage's frame is dropped when this returns, so it does not stay in memory. */
async function validDayEvents(ctx: JobContext): Promise<pl.DataFrame> {
  // 1. Extract: every page of the day's events, as typed columns (timestamps in UTC µs).
  const raw = await ctx.extract(eventsSource);

  // 2. Validate: records that break the contract go to sluice.quarantine with a reason.
  const valid = await ctx.validate("events", raw, eventsSuite, { foreignKeys: [{ table: "users", column: "user_id" }] });

  // 3a. Transform: one row per event_id (the API delivers at least once).
  return ctx.transform("deduplicate events", () => valid.select(...EVENT_COLUMNS).unique({ subset: ["event_id"], keep: "first", maintainOrder: true }));
}

/**
 * Steps 3b and 4. A session belongs to the day it starts and may run past midnight, so a run of
 * day D recomputes the sessions of D-1..D+1 from the lake's events of D-2..D+2 (sessions are capped
 * at 24 h), under the job's lock so that neighbouring days never interleave.
 */
async function sessionsAround(ctx: JobContext, today: pl.DataFrame): Promise<TableOutput[]> {
  // 3b. Transform: sessions over the day and its neighbours (read from the lake, never refetched).
  const neighbours = await ctx.readLake("events", [-2, -1, 1, 2].map((n) => addDays(ctx.dt, n)));
  const window = neighbours ? pl.concat([neighbours.select(...EVENT_COLUMNS), today], { how: "vertical" }) : today;
  const { events, sessions } = await ctx.transform("sessionize", () => collectSessionized(window.lazy(), DEFAULT_SESSION_RULES, ctx.signal));

  // Rewrite D and the neighbouring days that exist in the lake: their sessions may have changed.
  const existing = new Set(await ctx.lakePartitions("events"));
  const days = [addDays(ctx.dt, -1), ctx.dt, addDays(ctx.dt, 1)].filter((d) => d === ctx.dt || existing.has(d));
  const inDays = days.map((d) => pl.col("dt").cast(pl.Utf8).eq(pl.lit(d))).reduce((a, b) => a.or(b));
  const checkedSessions = await ctx.validate("sessions", sessions.filter(inDays), sessionsSuite);

  // 4. Materialize (by the caller): atomic Parquet partitions, then one warehouse transaction (MERGE per partition).
  return [partitionsByDt(EVENTS, events, days), partitionsByDt(SESSIONS, checkedSessions, days)];
}

/**
 * Job `events`: a UTC day of clickstream events from /v1/events, and the sessions they form.
 * Reads top to bottom like a notebook: extract, validate, transform, materialize (run() gives the
 * outline; the steps follow in order, in functions so that each stage's frames are freed after it).
 */
import pl from "nodejs-polars";
import type { z } from "zod";
import { addDays, defineJob, firstCopies, type ChunkedFrame, type JobContext, type LakeWindow, type LakeWindowFiles, type TableOutput } from "../src/index.ts";
import { DEFAULT_SESSION_RULES, SESSION_INPUT_COLUMNS, collectSessionized } from "../transforms/sessions.ts";
import { eventsSuite } from "../validations/events.ts";
import { sessionsSuite } from "../validations/sessions.ts";
import { eventsCharts } from "./events-charts.ts";
import { eventsSource, type EventRecord } from "./sources.ts";
import { EVENTS, SESSIONS } from "./tables.ts";

/**
 * The days around D whose sessions a run rewrites: a session belongs to the day it starts and may run
 * past midnight (capped at 24 h), so D's events can change the sessions of D-1 and D+1.
 */
const REWRITES: LakeWindow = { from: -1, to: 1 };

/** Recomputing a rewritten day's sessions needs that day's own neighbours: the lake's events one day further out. */
const READS: LakeWindow = { from: REWRITES.from - 1, to: REWRITES.to + 1 };

// The sessions transform declares the columns it reads (SESSION_INPUT_COLUMNS: it sessionizes any frame
// that has them); here, where the record meets the transform, the compiler checks that they are exactly
// the record's columns (properties flattened), so that neither changes without the other.
type EventFields = z.infer<typeof EventRecord>;
type EventColumn = Exclude<keyof EventFields, "properties"> | keyof NonNullable<EventFields["properties"]>;
type SameSet<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies SameSet<EventColumn, (typeof SESSION_INPUT_COLUMNS)[number]>;

export default defineJob({
  name: "events",
  description: "Clickstream events of one UTC day, and the sessions they form (sessions may cross midnight).",
  tables: [EVENTS, SESSIONS],
  // A run of day D recomputes the sessions of D-1..D+1 (REWRITES) from the lake's events of D-2..D+2.
  reads: { [EVENTS.name]: READS },
  async run(ctx) {
    // 1-3a. The day's events: extracted, validated, one row per event_id (in groups: any day fits in memory).
    const { today, neighbours } = await validDayEvents(ctx);
    // 3b-4. Sessions around the day, then the load.
    await ctx.materialize(await sessionsAround(ctx, today, neighbours));
  },
  charts: eventsCharts,
});

/**
 * Steps 1 to 3a, streamed: pages are validated chunk by chunk as they land, and a day larger than
 * the memory budget is kept on disk in groups (see ChunkedFrame), so any day fits.
 */
async function validDayEvents(ctx: JobContext): Promise<{ today: ChunkedFrame; neighbours: LakeWindowFiles }> {
  // 1. Extract: every page of the day's events, as typed columns (timestamps in UTC µs); copies of
  //    an event_id are kept in one group, for step 3a.
  const raw = ctx.stream(eventsSource, { groupBy: "event_id" });

  // 2. Validate: records that break the contract go to sluice.quarantine with their raw record and a reason.
  const valid = await ctx.validate(raw, eventsSuite);

  // The neighbouring days' events in the lake, that sessionization reads along (the engine holds the
  // job's lock from here to the load).
  const neighbours = await ctx.readWindow(EVENTS.name, { chunked: true });

  // 3a. Transform: one row per event_id (the API delivers at least once), group of event_ids by group;
  //     fields the contract does not declare ride along in _extra. The first copy of each, in order
  //     (what unique keep "first" with maintainOrder keeps), collected straight into the groups of
  //     users that step 3b takes with the neighbours. The suite's unique check on event_id saw which
  //     ids repeat as the pages landed: only their rows are compared.
  const repeats = valid.repeatsOf("event_id");
  const dedupe = (events: pl.DataFrame) => firstCopies(events.select(...SESSION_INPUT_COLUMNS, "_extra"), "event_id", repeats);
  const today = await ctx.step("deduplicate events", () => valid.groupMap("event_id", dedupe, { into: { column: "user_id", with: neighbours } }));
  return { today, neighbours };
}

/** Sessions of one group of users (their events of the day and the neighbouring days); each event keeps its _extra. */
async function sessionize(ctx: JobContext, window: pl.DataFrame): Promise<{ events: pl.DataFrame; sessions: pl.DataFrame }> {
  // Sessionization keeps the columns it knows; _extra rides along (a join back by event_id cost ~0.3 s per 1M).
  // A window has one row per event_id: today's were deduplicated, and a neighbour's are its own day's.
  const carry = window.columns.includes("_extra") ? ["_extra"] : [];
  return collectSessionized(window.lazy(), DEFAULT_SESSION_RULES, ctx.signal, carry);
}

/** Steps 3b and 4: sessions over the day and its neighbours (read from the lake, never refetched). */
async function sessionsAround(ctx: JobContext, today: ChunkedFrame, neighbours: LakeWindowFiles): Promise<TableOutput[]> {
  // 3b. Transform: sessions never cross users, so they are computed group of users by group, each
  //     with the same users' events of the neighbouring days.
  const { events, sessions } = await ctx.step("sessionize", () => today.groupMap("user_id", (window) => sessionize(ctx, window), { with: neighbours }));

  // Rewrite D and the neighbouring days that exist in the lake: their sessions may have changed.
  const existing = new Set(await ctx.lakePartitions(EVENTS.name));
  const offsets = Array.from({ length: REWRITES.to - REWRITES.from + 1 }, (_, i) => REWRITES.from + i);
  const days = offsets.map((n) => addDays(ctx.dt, n)).filter((d) => d === ctx.dt || existing.has(d));
  const inDays = days.map((d) => pl.col("dt").cast(pl.Utf8).eq(pl.lit(d))).reduce((a, b) => a.or(b));
  const checkedSessions = await ctx.validate(await sessions.filter(inDays), sessionsSuite);

  // 4. Materialize (by the caller): atomic Parquet partitions, then one warehouse transaction (MERGE per partition).
  return [
    { table: EVENTS, frame: events, dts: days },
    { table: SESSIONS, frame: checkedSessions, dts: days },
  ];
}

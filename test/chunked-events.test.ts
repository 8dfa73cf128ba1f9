/**
 * The events job streamed and processed in groups loads, bit for bit, what the same job written
 * with one frame per stage loads: in groups kept on disk and in memory, over days run in any order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import pl from "nodejs-polars";
import { defineJob, runPartition, type JobContext, type JobDefinition, type TableOutput } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { addDays } from "../src/core/dates.ts";
import { eventsSource } from "../jobs/sources.ts";
import { EVENTS, SESSIONS } from "../jobs/tables.ts";
import { DEFAULT_SESSION_RULES, SESSION_INPUT_COLUMNS, collectSessionized } from "../transforms/sessions.ts";
import { eventsSuite } from "../validations/events.ts";
import { sessionsSuite } from "../validations/sessions.ts";
import { assertLakesEqual, warehouseSnapshot } from "./support/snapshots.ts";
import { makeEventDays, makeUsers, startContractServer } from "./fixtures/contract-server.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"];

/** The events job as it was written with one frame per stage: the reference the chunked job must equal. */
const oneFrameEvents: JobDefinition = defineJob({
  name: "events",
  description: "the events job, one frame per stage",
  tables: [EVENTS, SESSIONS],
  reads: { events: { from: -2, to: 2 } },
  async run(ctx: JobContext) {
    const raw = await ctx.extract(eventsSource);
    const valid = await ctx.validate(raw, eventsSuite);
    const today = await ctx.step("deduplicate events", () => valid.select(...SESSION_INPUT_COLUMNS, "_extra").unique({ subset: ["event_id"], keep: "first", maintainOrder: true }));
    const neighbours = await ctx.readWindow("events");
    const window = neighbours ? pl.concat([neighbours.select(...SESSION_INPUT_COLUMNS, ...(neighbours.columns.includes("_extra") ? ["_extra"] : [])), today], { how: "diagonalRelaxed" }) : today;
    const sessionized = await ctx.step("sessionize", () => collectSessionized(window.lazy(), DEFAULT_SESSION_RULES, ctx.signal));
    const events = sessionized.events.join(window.select("event_id", "_extra").unique({ subset: ["event_id"], keep: "first" }), { on: "event_id", how: "left" });
    const sessions = sessionized.sessions;
    const existing = new Set(await ctx.lakePartitions("events"));
    const days = [-1, 0, 1].map((n) => addDays(ctx.dt, n)).filter((d) => d === ctx.dt || existing.has(d));
    const inDays = days.map((d) => pl.col("dt").cast(pl.Utf8).eq(pl.lit(d))).reduce((a, b) => a.or(b));
    const checked = await ctx.validate(sessions.filter(inDays), sessionsSuite);
    const outputs: TableOutput[] = [
      { table: EVENTS, frame: events, dts: days },
      { table: SESSIONS, frame: checked, dts: days },
    ];
    await ctx.materialize(outputs);
  },
});

/** Contract days plus copies of events under another (valid) user: the first copy in the listing wins. */
function daysWithCrossUserCopies(seed: number, perDay: number): Record<string, unknown[]> {
  const days = makeEventDays(seed, DAYS, perDay);
  for (const dt of DAYS) {
    const listing = days[dt] ?? [];
    const clean = listing.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null && typeof (r as { user_id?: unknown }).user_id === "number" && typeof (r as { event_id?: unknown }).event_id === "string");
    for (let k = 0; k < 4; k++) {
      const original = clean[(k * 37) % clean.length] as Record<string, unknown>;
      const copy = { ...original, user_id: Number(original["user_id"]) + 1 };
      // two copies go after the original, two before it (then the copy is the one that loads)
      const at = listing.indexOf(original);
      listing.splice(k % 2 === 0 ? listing.length : Math.max(0, at - 1), 0, copy);
    }
  }
  return days;
}

test("the events job in groups of 150 rows, and in memory, loads exactly what the one-frame job loads, over days run in any order", async (t) => {
  const days = daysWithCrossUserCopies(41, 300);
  const server = await startContractServer({ days, users: makeUsers(41, 40) });
  t.after(() => server.close());
  const order = [DAYS[1], DAYS[0], DAYS[2], DAYS[1]] as string[];
  const runAll = async (job: JobDefinition, groupRows?: number): Promise<string> => {
    const dataDir = await tempDataDir(t);
    const settings = { ...testRunSettings(dataDir, server.url), ...(groupRows ? { groupRows } : {}) };
    assert.equal((await runPartition(getJob("users"), DAYS[2] as string, settings)).status, "succeeded");
    for (const dt of order) {
      const outcome = await runPartition(job, dt, settings);
      assert.equal(outcome.status, "succeeded", `${job.description} ${dt}: ${outcome.error}`);
    }
    return dataDir;
  };
  const reference = await runAll(oneFrameEvents);
  const expected = await warehouseSnapshot(reference);
  assert.ok((expected["quarantine"] ?? []).length > 0 && (expected["sessions"] ?? []).length > 0, "the days have quarantined records and sessions");
  for (const groupRows of [150, undefined]) {
    const dataDir = await runAll(getJob("events"), groupRows);
    const actual = await warehouseSnapshot(dataDir);
    for (const key of Object.keys(expected)) assert.deepEqual(actual[key], expected[key], `${key} with groupRows ${groupRows ?? "default"}`);
    await assertLakesEqual(dataDir, reference);
    assert.equal(existsSync(path.join(dataDir, "spill")), false, "nothing spilled is left behind");
  }
});

test("a slow API's day handed on in several chunks while it stays in memory loads exactly what the one-frame job loads: unique counts and samples, quarantined raw records", async (t) => {
  const days = daysWithCrossUserCopies(43, 300);
  // each page 40 ms away: the decoder mostly waits, so it hands chunks on early (at a budget's rows)
  const server = await startContractServer({ days, users: makeUsers(43, 40), latencyMs: 40 });
  t.after(() => server.close());
  const runAll = async (job: JobDefinition): Promise<{ dataDir: string; chunks: unknown[] }> => {
    const dataDir = await tempDataDir(t);
    // a day (~430 records) is more than one budget and less than two: several chunks, all held in memory
    const settings = { ...testRunSettings(dataDir, server.url), groupRows: 300 };
    assert.equal((await runPartition(getJob("users"), DAYS[2] as string, settings)).status, "succeeded");
    const chunks: unknown[] = [];
    for (const dt of [DAYS[1], DAYS[0]] as string[]) {
      const outcome = await runPartition(job, dt, settings);
      assert.equal(outcome.status, "succeeded", `${job.description} ${dt}: ${outcome.error}`);
      chunks.push(outcome.steps.find((s) => s.name === "validate events")?.details["chunks"]);
    }
    return { dataDir, chunks };
  };
  const reference = await runAll(oneFrameEvents);
  const expected = await warehouseSnapshot(reference.dataDir);
  const uniqueFailures = (expected["checks"] ?? []).filter((r) => r[0] === "events" && r[2] === "event_id: unique" && Number(r[7]) > 0);
  assert.ok(uniqueFailures.length > 0 && (expected["quarantine"] ?? []).length > 0, "the days repeat event_ids and quarantine records");
  const streamed = await runAll(getJob("events"));
  assert.ok(streamed.chunks.every((n) => typeof n === "number" && n > 1), `each day was validated in several chunks as its pages landed (${streamed.chunks.join(", ")})`);
  const actual = await warehouseSnapshot(streamed.dataDir);
  for (const key of Object.keys(expected)) assert.deepEqual(actual[key], expected[key], key);
  await assertLakesEqual(streamed.dataDir, reference.dataDir);
});

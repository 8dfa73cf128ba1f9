/**
 * Table-level and history-aware checks on a partition validated in chunks (ChunkedValidation): the
 * same results validate() gives for the whole frame, and loud refusals of what cannot be merged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError } from "../src/core/errors.ts";
import { defineJob, firstCopies, runPartition } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { defineSuite, validate, type HistoryPoint, type Suite, type ValidationContext } from "../src/validate/index.ts";
import { ChunkedValidation } from "../src/validate/validate-chunks.ts";
import { eventsSource } from "../jobs/sources.ts";
import { eventsSuite } from "../validations/events.ts";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const DT = "2026-11-20";
const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);

/** Rows over three days (a Date `dt` column: table-level measurements cover the run's day only), amounts in halves (sums are exact). */
function spanningFrame(n: number): pl.DataFrame {
  const days = ["2026-11-19", DT, "2026-11-21"];
  return pl
    .DataFrame({
      session_id: Array.from({ length: n }, (_, i) => `s-${i}`),
      kind: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? "purchase" : "view")),
      amount: Array.from({ length: n }, (_, i) => (i % 17 === 4 ? null : (i % 40) / 2)),
      dt: Array.from({ length: n }, (_, i) => days[i % 7 === 0 ? 0 : i % 11 === 0 ? 2 : 1] as string),
      ts: Array.from({ length: n }, (_, i) => new Date(Date.parse(`${DT}T00:00:00Z`) + i * 37_000)),
    })
    .withColumns(pl.col("dt").str.strptime(pl.Date, "%Y-%m-%d"), pl.col("ts").cast(pl.Datetime("us", "UTC")));
}

const history = (value: number): HistoryPoint[] => Array.from({ length: 10 }, (_, k) => ({ dt: `2026-11-${String(5 + k).padStart(2, "0")}`, value: value * (1 + (k % 3) / 50) }));

const tableSuite: Suite = defineSuite({
  table: { name: "sessions", key: ["session_id"] },
  checks: [
    { name: "amount: >= 1", kind: "compare", column: "amount", op: "ge", value: 1, severity: "warn", thresholds: { warn: 0.2 } },
    { name: "rows: volume", kind: "volume", anomaly: { history: 14, minHistory: 7, maxChange: 0.35 } },
    { name: "amount: mean over purchases", kind: "aggregate", agg: "mean", column: "amount", where: pl.col("kind").eq(pl.lit("purchase")), severity: "warn", anomaly: { history: 14, minHistory: 7, maxChange: 0.5, direction: "drop" } },
    { name: "amount: sum", kind: "aggregate", agg: "sum", column: "amount", min: 0, severity: "warn" },
    { name: "amount: null rate", kind: "aggregate", agg: "null_rate", column: "amount", max: 0.01, severity: "warn" },
    { name: "amount: max", kind: "aggregate", agg: "max", column: "amount", max: 100 },
    { name: "amount: min", kind: "aggregate", agg: "min", column: "amount", min: 0 },
    { name: "purchases: count", kind: "aggregate", agg: "count", where: pl.col("kind").eq(pl.lit("purchase")), min: 1 },
    { name: "ts: fresh", kind: "freshness", column: "ts", maxAgeHours: 30 },
    { name: "amount: sent", kind: "presence", column: "amount", maxAbsent: 0.1 },
  ],
});

function chunkedResults(frame: pl.DataFrame, suite: Suite, context: ValidationContext, rows: number) {
  // presence counts come from the extraction, known only once it ended
  const { presence, ...before } = context;
  const validation = new ChunkedValidation(suite, before);
  for (let offset = 0; offset < frame.height; offset += rows) validation.chunk(frame.slice(offset, rows));
  if (presence) validation.withPresence(presence);
  return validation.finish();
}

test("table-level checks in chunks (volume, aggregates with where, freshness, presence) report exactly what validate() reports for the whole frame", () => {
  const frame = spanningFrame(2000);
  const context: ValidationContext = {
    window: dayWindow(DT),
    now: new Date(`${DT}T12:00:00Z`),
    history: { "rows: volume": history(2400), "amount: mean over purchases": history(9.5) },
    presence: { records: 2000, present: { amount: 1700 } },
  };
  const whole = validate(frame, tableSuite, context);
  const chunked = chunkedResults(frame, tableSuite, context, 300);
  assert.deepEqual(chunked.results, whole.results);
  assert.deepEqual(chunked.blocked, whole.blocked);
  const byName = new Map(whole.results.map((r) => [r.check, r]));
  assert.equal(byName.get("rows: volume")?.passed, false, "the day's volume is far below its history");
  assert.equal(byName.get("amount: sent")?.passed, false, "15% absent is more than the 10% allowed");
  assert.equal(byName.get("amount: null rate")?.passed, false);
  assert.ok(byName.get("rows: volume")?.rows !== frame.height, "volume counts the run's day only");
});

test("a field the decoder nulled is named once in chunks too: its not_null stays quiet, the record is quarantined with the decode reason alone, as validate() does it", () => {
  const decodeError = 'user_id: expected integer, got string "42"';
  const frame = pl.DataFrame([
    pl.Series("event_id", ["e1", "e2", "e3", "e4", "e5", "e6"], pl.Utf8),
    pl.Series("user_id", [1, null, null, 4, null, 6], pl.Int64),
    pl.Series("page", ["/", "/", null, "/", "/", null], pl.Utf8),
    pl.Series("_page", [1, 1, 1, 2, 2, 2], pl.Int32),
    pl.Series("_row", [0, 1, 2, 0, 1, 2], pl.Int32),
    // e2: user_id nulled by the decoder; e3: the same and page null too; e5: user_id absent (a plain null); e6: only page null.
    pl.Series("_error", [null, decodeError, decodeError, null, null, null], pl.Utf8),
  ]);
  const suite = defineSuite({
    table: { name: "events", key: ["event_id"] },
    decodeAllowance: 1,
    checks: [
      { name: "user_id: not_null", kind: "not_null", column: "user_id", allowance: 1 },
      { name: "page: not_null", kind: "not_null", column: "page", allowance: 1 },
    ],
  });
  const context: ValidationContext = { window: dayWindow(DT) };
  const whole = validate(frame, suite, context);
  // Chunks of two rows: the decode-nulled rows fall in one chunk, the plain null in another.
  const validation = new ChunkedValidation(suite, context);
  const parts = [0, 2, 4].map((offset) => validation.chunk(frame.slice(offset, 2)));
  const chunked = validation.finish();
  assert.deepEqual(chunked.results, whole.results);
  const reasons = (q: pl.DataFrame) => q.select("event_id", "_reason").toRecords();
  assert.deepEqual(parts.flatMap((p) => reasons(p.quarantined)), reasons(whole.quarantined));
  assert.deepEqual(pl.concat(parts.map((p) => p.valid)).getColumn("event_id").toArray(), whole.valid.getColumn("event_id").toArray());
  assert.deepEqual(reasons(whole.quarantined), [
    { event_id: "e2", _reason: decodeError },
    { event_id: "e3", _reason: `${decodeError}; page: not_null` },
    { event_id: "e5", _reason: "user_id: not_null" },
    { event_id: "e6", _reason: "page: not_null" },
  ]);
  assert.deepEqual(chunked.results.map((r) => [r.check, r.failingRows]), [["decodes", 2], ["user_id: not_null", 1], ["page: not_null", 2]]);
});

test("an aggregate that cannot be merged from chunks is refused, naming the aggregates that can", () => {
  const suite = defineSuite({ table: { name: "t", key: ["id"] }, checks: [{ name: "amount: median", kind: "aggregate", agg: "median", column: "amount", min: 0 }] });
  assert.throws(
    () => new ChunkedValidation(suite, { window: dayWindow(DT) }),
    (error: unknown) => error instanceof ConfigError && /aggregate median/.test(error.message) && /cannot run on a partition validated in chunks/.test(error.message) && /mean/.test(error.hint ?? ""),
  );
});

test("a streamed day kept on disk whose checks block loads nothing, says which check, and leaves no spilled files", async (t) => {
  const days = makeEventDays(47, [DT], 400);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  // The events suite with one more check that every day fails: no event may be a purchase.
  const strict = defineSuite({ table: { name: eventsSuite.table, key: eventsSuite.key }, decodeAllowance: eventsSuite.decodeAllowance, checks: [...eventsSuite.checks, { name: "no purchases", kind: "aggregate", agg: "count", where: pl.col("event_type").eq(pl.lit("purchase")), max: 0 }] });
  const job = defineJob({
    name: "events",
    description: "streamed events with a check that blocks",
    tables: getJob("events").tables,
    async run(ctx) {
      const valid = await ctx.validate(ctx.stream(eventsSource), strict);
      throw new Error(`unreachable: ${valid.height} rows validated`);
    },
  });
  const outcome = await runPartition(job, DT, { ...testRunSettings(dataDir, server.url), groupRows: 100 });
  assert.equal(outcome.status, "failed");
  assert.match(outcome.error ?? "", /no purchases/);
  assert.equal(existsSync(path.join(dataDir, "spill")), false, "the spill tree is removed");
});

test("a child source cannot be streamed: the error says to extract it with its parents", async (t) => {
  const dataDir = await tempDataDir(t);
  const child = { ...eventsSource, name: "event_details", parent: { source: "events", path: "/v1/events/{event_id}" } } as unknown as typeof eventsSource;
  const job = defineJob({
    name: "events",
    description: "streams a child source",
    tables: getJob("events").tables,
    async run(ctx) {
      ctx.stream(child);
    },
  });
  const outcome = await runPartition(job, DT, testRunSettings(dataDir, "http://127.0.0.1:9"));
  assert.equal(outcome.status, "failed");
  assert.match(outcome.error ?? "", /child source.*cannot be streamed/);
});

test("a streamed day of up to two group budgets stays one frame in memory, and a larger one goes to disk in groups", async (t) => {
  const days = makeEventDays(53, [DT], 300);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const seen: Array<{ inMemory: boolean; groups: number; rows: number; repeated: string[]; known: string[] | null }> = [];
  const job = defineJob({
    name: "events",
    description: "reports how a streamed day was kept",
    tables: getJob("events").tables,
    async run(ctx) {
      const valid = await ctx.validate(ctx.stream(eventsSource, { groupBy: "event_id" }), eventsSuite);
      const all = await valid.collect();
      const repeated = all.filter(pl.col("event_id").isNotNull().and(pl.len().over("event_id").gt(1))).getColumn("event_id").unique().toArray() as string[];
      const known = valid.repeatsOf("event_id")?.toArray() as string[] | undefined;
      seen.push({ inMemory: valid.inMemory, groups: valid.groups.length, rows: valid.height, repeated, known: known ?? null });
      await ctx.materialize([]);
    },
  });
  for (const groupRows of [200, 100]) {
    const outcome = await runPartition(job, DT, { ...testRunSettings(await tempDataDir(t), server.url), groupRows });
    assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  }
  const [fits, spills] = seen;
  assert.ok(fits && spills && fits.rows > 200 && fits.rows <= 400, `about 300 valid rows (${fits?.rows})`);
  assert.deepEqual({ inMemory: fits.inMemory, groups: fits.groups }, { inMemory: true, groups: 1 }, "up to 2 x 200 rows: one frame");
  assert.equal(spills.inMemory, false, "above 2 x 100 rows: on disk");
  assert.ok(spills.groups > 1, `several groups (${spills.groups})`);
  assert.equal(spills.rows, fits.rows, "the same rows either way");
  // the unique check on event_id found the ids that repeat, on disk too: a dedupe compares only their rows
  assert.ok(spills.repeated.length > 0, "the day has event_ids that repeat among its valid rows");
  assert.ok(spills.known !== null, "a day kept on disk knows which event_ids repeat");
  const known = new Set(spills.known);
  assert.deepEqual(spills.repeated.filter((id) => !known.has(id)), [], "every event_id that repeats among the valid rows is known to");
});

test("a day held in memory tells the CLI its lake is written before the warehouse commits (the report's charts start then); a day kept on disk does not", async (t) => {
  const days = makeEventDays(59, [DT], 300);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const ids = { name: "event_ids", key: ["event_id"], partitioned: false, columns: [{ name: "event_id", type: "VARCHAR" as const }, { name: "user_id", type: "BIGINT" as const }] };
  const kept: boolean[] = [];
  const job = defineJob({
    name: "events",
    description: "loads the ids of a streamed day",
    tables: [ids],
    async run(ctx) {
      const valid = await ctx.validate(ctx.stream(eventsSource, { groupBy: "event_id" }), eventsSuite);
      const unique = await valid.groupMap("event_id", (events) => firstCopies(events, "event_id", null));
      kept.push(unique.inMemory);
      await ctx.materialize([{ table: ids, frame: unique }]);
    },
  });
  const calls: Array<{ groupRows: number; dt: string }> = [];
  for (const groupRows of [200, 100]) {
    const outcome = await runPartition(job, DT, { ...testRunSettings(await tempDataDir(t), server.url), groupRows, onLakeWritten: (dt) => calls.push({ groupRows, dt }) });
    assert.equal(outcome.status, "succeeded", outcome.error ?? "");
    assert.ok(outcome.rowsLoaded > 200, `rows loaded: ${outcome.rowsLoaded}`);
  }
  assert.deepEqual(kept, [true, false], "in memory, then on disk");
  assert.deepEqual(calls, [{ groupRows: 200, dt: DT }]);
});

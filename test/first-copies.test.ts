/**
 * firstCopies keeps exactly the rows filter(isFirstDistinct) keeps, whether it compares every value
 * or only the ones known to repeat; and a stream validated with a unique check knows those values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { defineJob, firstCopies, runPartition, type ChunkedFrame } from "../src/pipeline/index.ts";
import { eventsSource } from "../jobs/sources.ts";
import { EVENTS } from "../jobs/tables.ts";
import { eventsSuite } from "../validations/events.ts";
import { makeEventDays, makeUsers, startContractServer } from "./fixtures/contract-server.ts";
import { assertFramesEqual } from "./support/frames.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

/** 3,000 rows over 4 chunks; ids repeat within and across chunks, nulls among them, each row numbered. */
function framesWithCopies(): pl.DataFrame {
  const ids = Array.from({ length: 3000 }, (_, i) => (i % 97 === 5 ? null : i % 400 === 7 ? "id-7" : `id-${(i * 7919) % 2600}`));
  const whole = pl.DataFrame({ id: ids, n: Array.from({ length: 3000 }, (_, i) => i) });
  return pl.concat([0, 700, 1500, 2300].map((o, k, all) => whole.slice(o, (all[k + 1] ?? 3000) - o)), { how: "vertical", rechunk: false });
}

/** The values of `column` that occur more than once (nulls left out). */
function repeated(frame: pl.DataFrame, column: string): pl.Series {
  return frame.filter(pl.col(column).isNotNull().and(pl.col(column).isDuplicated())).getColumn(column).unique();
}

test("firstCopies keeps the first row of each value in order, nulls counting as one value, with or without the repeating values", () => {
  const frame = framesWithCopies();
  const expected = frame.filter(pl.col("id").isFirstDistinct());
  assert.ok(expected.height < frame.height - 100 && expected.getColumn("id").nullCount() === 1, "the frame repeats ids and nulls");
  assertFramesEqual(firstCopies(frame, "id"), expected);
  assertFramesEqual(firstCopies(frame, "id", repeated(frame, "id")), expected);
  // more values than repeat (and some that do not occur at all) change nothing
  const more = pl.concat([repeated(frame, "id"), frame.getColumn("id").slice(0, 50).dropNulls(), pl.Series("id", ["not-there"])]);
  assertFramesEqual(firstCopies(frame, "id", more), expected);
});

test("firstCopies with the repeating values of an integer key given as another integer type matches isFirstDistinct", () => {
  const frame = pl.DataFrame({ k: [5, 1, 5, 2, 1, 9, 5], at: [0, 1, 2, 3, 4, 5, 6] }).withColumns(pl.col("k").cast(pl.Int64));
  const expected = frame.filter(pl.col("k").isFirstDistinct());
  assertFramesEqual(firstCopies(frame, "k", pl.Series("k", [5, 1], pl.Int32)), expected);
  assert.deepEqual(expected.getColumn("at").toArray(), [0, 1, 3, 5]);
});

test("firstCopies returns the frame itself when none of the repeating values occurs twice in it", () => {
  const frame = pl.DataFrame({ id: ["a", "b", "c"], n: [1, 2, 3] });
  assert.equal(firstCopies(frame, "id", pl.Series("id", ["b", "z"])), frame);
  assert.equal(firstCopies(frame.head(0), "id", pl.Series("id", ["b"])).height, 0);
});

test("a day validated in several chunks as its pages land knows which event_ids repeat; a day validated at once, or a column without a unique check, does not", async (t) => {
  const DT = "2026-11-18";
  const days = makeEventDays(47, [DT], 300);
  const server = await startContractServer({ days, users: makeUsers(47, 40), latencyMs: 40 });
  t.after(() => server.close());
  const seen: Array<{ chunks: unknown; eventIds: string[] | null; userIds: null | pl.Series }> = [];
  const probe = defineJob({
    name: "events",
    description: "validates the day's stream and notes what it knows of repeats",
    tables: [EVENTS],
    async run(ctx) {
      const valid: ChunkedFrame = await ctx.validate(ctx.stream(eventsSource, { groupBy: "event_id" }), eventsSuite);
      const ids = valid.repeatsOf("event_id");
      seen.push({ chunks: null, eventIds: ids ? (ids.toArray() as string[]).sort() : null, userIds: valid.repeatsOf("user_id") });
    },
  });
  const listing = (days[DT] ?? []).flatMap((r) => (typeof r === "object" && r !== null && typeof (r as { event_id?: unknown }).event_id === "string" ? [(r as { event_id: string }).event_id] : []));
  const counts = new Map<string, number>();
  for (const id of listing) counts.set(id, (counts.get(id) ?? 0) + 1);
  const expected = [...counts].filter(([, n]) => n > 1).map(([id]) => id).sort();
  assert.ok(expected.length > 0, "the day repeats event_ids");

  // groupRows 300: a day (~430 records) passes in several chunks, its keys held in memory
  for (const groupRows of [300, undefined]) {
    const settings = { ...testRunSettings(await tempDataDir(t), server.url), preview: true, ...(groupRows ? { groupRows } : {}) };
    const outcome = await runPartition(probe, DT, settings);
    assert.equal(outcome.status, "succeeded", outcome.error ?? "");
    const validated = outcome.steps.find((s) => s.name === "validate events");
    const last = seen.at(-1);
    assert.ok(last);
    last.chunks = validated?.details["chunks"];
  }
  const [chunked, whole] = seen;
  assert.ok(typeof chunked?.chunks === "number" && chunked.chunks > 1, `the first day came in several chunks (${chunked?.chunks})`);
  assert.deepEqual(chunked?.eventIds, expected);
  assert.equal(chunked?.userIds, null);
  assert.equal(whole?.chunks, 1, "the second day came in one chunk");
  assert.equal(whole?.eventIds, null);
});

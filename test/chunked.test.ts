/**
 * The chunked machinery (ChunkedFrame, StreamCollector, ChunkedValidation, the spill store): the
 * same results as one frame, bit for bit, whether rows are held in memory or kept on disk in small
 * groups; spilled files never outlive their run (the events job end to end: chunked-events.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError } from "../src/core/errors.ts";
import { ChunkedFrame, type ChunkContext } from "../src/pipeline/chunked-frame.ts";
import { defineJob, runPartition, type TableOutput } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { RepeatedKeys } from "../src/pipeline/repeated-keys.ts";
import { SpillStore } from "../src/pipeline/spill-store.ts";
import { StreamCollector } from "../src/pipeline/stream-collector.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { defineSuite, validate, type Suite } from "../src/validate/index.ts";
import { ChunkedValidation } from "../src/validate/validate-chunks.ts";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { tempDataDir } from "./support/dirs.ts";
import { assertFramesEqual } from "./support/frames.ts";
import { testRunSettings } from "./support/settings.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"];

/** A frame of dirty rows as the extract stage gives them (_page/_row/_error), for comparing chunked and whole validation. */
function dirtyFrame(n: number): pl.DataFrame {
  const day = Date.parse("2026-11-20T00:00:00Z");
  const rows = Array.from({ length: n }, (_, i) => ({
    event_id: i % 97 === 5 ? null : `e-${i % 331 === 0 ? 7 : i % 150}`,
    user_id: i % 89 === 3 ? null : i % 71 === 2 ? -i : i % 40,
    ts: new Date(day + ((i * 7919) % 86_400) * 1000 + (i % 113 === 1 ? 86_400_000 : 0)),
    amount: i % 61 === 4 ? -1.5 : i / 3,
    _page: 1 + Math.floor(i / 100),
    _row: i % 100,
    _error: i % 157 === 9 ? `amount: expected number, got string "x${i}"` : null,
  }));
  return pl.DataFrame(rows).withColumns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.col("_page").cast(pl.Int32), pl.col("_row").cast(pl.Int32), pl.col("user_id").cast(pl.Int64));
}

const richSuite: Suite = defineSuite({
  table: { name: "events", key: ["event_id"] },
  checks: [
    { name: "event_id: not_null", kind: "not_null", column: "event_id" },
    { name: "user_id: > 0", kind: "compare", column: "user_id", op: "gt", value: 0, allowance: 0.001 },
    { name: "ts: in the day", kind: "between", column: "ts", min: (c) => c.window.start, max: (c) => c.window.end, closed: "left" },
    { name: "amount: >= 0", kind: "compare", column: "amount", op: "ge", value: 0, severity: "warn" },
    { name: "event_id: unique", kind: "unique", columns: ["event_id"], severity: "warn" },
    { name: "user and event: unique", kind: "unique", columns: ["user_id", "event_id"], onFail: "block" },
    { name: "users exist", kind: "foreign_key", column: "user_id", references: "users.user_id", severity: "warn" },
    { name: "rows: at least 10", kind: "row_count", min: 10 },
    { name: "ts: fresh", kind: "freshness", column: "ts", maxAgeHours: 2 },
    { name: "amount: Float64", kind: "dtype", column: "amount", dtype: pl.Float64 },
  ],
});

/** Validates `frame` in chunks of `rows`, its unique checks on key groups collected through a spill store with budget `budget`. */
async function validateInChunks(frame: pl.DataFrame, suite: Suite, rows: number, chunks: ChunkContext) {
  const validation = new ChunkedValidation(suite, { window: dayWindow("2026-11-20") });
  const keys = validation.uniqueChecks.map((check) => ({ check, collector: new StreamCollector(chunks, "keys", check.columns[0] ?? null) }));
  const valid: pl.DataFrame[] = [];
  const quarantined: pl.DataFrame[] = [];
  for (let offset = 0; offset < frame.height; offset += rows) {
    const chunk = frame.slice(offset, rows);
    for (const k of keys) await k.collector.add(chunk.select(...validation.keyColumns(k.check, chunk.columns)));
    const out = validation.chunk(chunk);
    valid.push(out.valid);
    quarantined.push(out.quarantined);
  }
  for (const k of keys) {
    const groups = k.collector.finish(true);
    assert.ok(groups.groups.length > 1 && !groups.inMemory, "the key groups were spilled into several groups");
    for (let g = 0; g < groups.groups.length; g++) validation.keyGroup(k.check, (await groups.readGroup(g)).sort(["_page", "_row"]), g);
  }
  return { ...validation.finish(), valid: pl.concat(valid), quarantined: pl.concat(quarantined) };
}

test("validation in chunks reports exactly what validate() reports for the whole frame: counts, allowances, samples, reasons, table-level checks", async (t) => {
  const frame = dirtyFrame(1200);
  const whole = validate(frame, richSuite, { window: dayWindow("2026-11-20") });
  const dataDir = await tempDataDir(t);
  const chunks: ChunkContext = { store: SpillStore.forRun(dataDir, "events", "2026-11-20", "r1"), groupRows: 500, signal: new AbortController().signal };
  const chunked = await validateInChunks(frame, richSuite, 400, chunks);
  assert.deepEqual(chunked.results, whole.results);
  assert.deepEqual(chunked.blocked, whole.blocked);
  assert.ok(whole.blocked.some((r) => r.check === "user_id: > 0") && whole.blocked.some((r) => r.check === "user and event: unique"), "an allowance and a blocking unique check are exceeded");
  assert.ok(whole.results.some((r) => r.check === "users exist" && r.detail?.startsWith("skipped")), "a foreign key without references is skipped");
  assertFramesEqual(chunked.valid, whole.valid);
  assertFramesEqual(chunked.quarantined, whole.quarantined);
  await chunks.store.remove();
  assert.equal(existsSync(path.join(dataDir, "spill")), false);
});

test("a unique check that quarantines cannot run in chunks, and says what to do instead", () => {
  const suite = defineSuite({ table: { name: "events", key: ["event_id"] }, checks: [{ name: "event_id: unique", kind: "unique", columns: ["event_id"] }] });
  assert.throws(() => new ChunkedValidation(suite, { window: dayWindow("2026-11-20") }), (error: unknown) => error instanceof ConfigError && /cannot run on a partition validated in chunks/.test(error.message) && /onFail/.test(error.hint ?? ""));
});

test("the head of a spilled frame is its first rows, read from as few pieces as hold them, lake parts' filtered rows included", async (t) => {
  const dataDir = await tempDataDir(t);
  const chunks: ChunkContext = { store: SpillStore.forRun(dataDir, "events", "2026-11-20", "r-head"), groupRows: 300, signal: new AbortController().signal };
  const rows = pl.DataFrame({ user_id: Array.from({ length: 1000 }, (_, i) => i % 7), n: Array.from({ length: 1000 }, (_, i) => i) }).withColumns(pl.col("user_id").cast(pl.Int64));
  const collector = new StreamCollector(chunks, "rows", "n");
  for (let offset = 0; offset < rows.height; offset += 20) await collector.add(rows.slice(offset, 20));
  const spilled = collector.finish(true);
  assert.equal(spilled.inMemory, false);
  assert.ok((spilled.groups[0]?.parts.length ?? 0) > 3, "the first group has several pieces");
  for (const n of [1, 5, 45]) assertFramesEqual(await spilled.head(n), (await spilled.collect()).head(n));
  // a lake part that its filter empties counts for no rows: the head goes on to the group's pieces
  const lakeFile = path.join(dataDir, "neighbour.parquet");
  pl.DataFrame({ user_id: Array.from({ length: 10 }, (_, i) => 100 + i), n: Array.from({ length: 10 }, (_, i) => -i) }).withColumns(pl.col("user_id").cast(pl.Int64)).writeParquet(lakeFile);
  const first = spilled.groups[0] as (typeof spilled.groups)[number];
  const windowed = new ChunkedFrame(chunks, [{ parts: [{ kind: "lake", file: lakeFile, rows: 10, columns: ["user_id", "n"], filter: pl.col("user_id").lt(50) }, ...first.parts], rows: first.rows + 10 }], { kind: "none" }, spilled.schema);
  assertFramesEqual(await windowed.head(5), (await windowed.collect()).head(5));
  assert.equal((await windowed.head(5)).height, 5);
});

test("a chunked frame regrouped by ranges of a column holds each value in one group, in ascending order, with the lake window's rows of its range", async (t) => {
  const dataDir = await tempDataDir(t);
  const chunks: ChunkContext = { store: SpillStore.forRun(dataDir, "events", "2026-11-20", "r2"), groupRows: 300, signal: new AbortController().signal };
  const rows = pl.DataFrame({ user_id: Array.from({ length: 1000 }, (_, i) => (i * 7919) % 301), n: Array.from({ length: 1000 }, (_, i) => i) }).withColumns(pl.col("user_id").cast(pl.Int64));
  const collector = new StreamCollector(chunks, "rows", "n");
  for (let offset = 0; offset < rows.height; offset += 500) await collector.add(rows.slice(offset, 500));
  const spilled = collector.finish(true);
  assert.equal(spilled.inMemory, false);
  const lakeFile = path.join(dataDir, "neighbour.parquet");
  pl.DataFrame({ user_id: [0, 150, 300, 1000], n: [-1, -2, -3, -4] }).withColumns(pl.col("user_id").cast(pl.Int64)).writeParquet(lakeFile);
  const grouped = await spilled.regroup("user_id", { files: [{ file: lakeFile, rows: 4 }] });
  assert.ok(grouped.groups.length >= 4, `${grouped.groups.length} groups for 1004 rows at 300 per group`);
  const frames: pl.DataFrame[] = [];
  for (let g = 0; g < grouped.groups.length; g++) frames.push(await grouped.groupFrame(g));
  const users = frames.map((f) => f.getColumn("user_id").toArray() as number[]);
  for (let g = 1; g < users.length; g++) assert.ok(Math.max(...(users[g - 1] ?? [])) < Math.min(...(users[g] ?? [])), `group ${g} starts above group ${g - 1}`);
  assertFramesEqual(pl.concat(frames), pl.concat([rows, pl.DataFrame({ user_id: [0, 150, 300, 1000], n: [-1, -2, -3, -4] }).withColumns(pl.col("user_id").cast(pl.Int64))]), { sortBy: ["n"] });
  const doubled = await grouped.mapGroups((f) => f.withColumns(pl.col("n").mul(2)));
  assert.equal(doubled.inMemory, false, "outputs of spilled groups are spilled");
  assert.equal(doubled.height, 1004);
  const small = ChunkedFrame.fromFrames(chunks, [rows.head(10)]);
  const kept = await small.groupMap("user_id", (f) => f.filter(pl.col("n").gt(4)));
  assert.equal(kept.inMemory, true, "a frame that fits stays in memory");
  assert.deepEqual((await kept.collect()).getColumn("n").toArray(), [5, 6, 7, 8, 9]);
});

test("a groupMap that collects its outputs into ranges of another column hands a later groupMap by that column its groups as they are, with the window's rows added", async (t) => {
  const dataDir = await tempDataDir(t);
  const chunks: ChunkContext = { store: SpillStore.forRun(dataDir, "events", "2026-11-20", "r3"), groupRows: 300, signal: new AbortController().signal };
  const int64 = (f: pl.DataFrame) => f.withColumns(pl.col("user_id").cast(pl.Int64));
  const rows = int64(pl.DataFrame({ user_id: Array.from({ length: 1000 }, (_, i) => (i * 7919) % 301), n: Array.from({ length: 1000 }, (_, i) => i) }));
  const collector = new StreamCollector(chunks, "rows", "n");
  for (let offset = 0; offset < rows.height; offset += 500) await collector.add(rows.slice(offset, 500));
  const spilled = collector.finish(true);
  const lakeFile = path.join(dataDir, "neighbour.parquet");
  const lakeRows = int64(pl.DataFrame({ user_id: [0, 150, 300, 1000], n: [-1, -2, -3, -4] }));
  lakeRows.writeParquet(lakeFile);
  const window = { files: [{ file: lakeFile, rows: 4 }] };
  const dropThirds = (f: pl.DataFrame) => f.filter(pl.col("n").modulo(3).neq(0));

  const collected = await spilled.groupMap("n", dropThirds, { into: { column: "user_id", with: window } });
  assert.equal(collected.inMemory, false);
  assert.ok(collected.groups.length >= 3, `${collected.groups.length} ranges for ~670 rows and the window at 300 per group`);
  const grouped = await collected.regroup("user_id", window);
  assert.equal(grouped.groups.length, collected.groups.length);
  grouped.groups.forEach((group, g) => {
    const own = group.parts.filter((p) => p.kind !== "lake");
    assert.deepEqual(own, collected.groups[g]?.parts, `group ${g} keeps its collected files (nothing is split again)`);
    assert.equal(group.parts.filter((p) => p.kind === "lake").length, 1, `group ${g} reads the window's rows of its range`);
  });
  const frames: pl.DataFrame[] = [];
  for (let g = 0; g < grouped.groups.length; g++) frames.push(await grouped.groupFrame(g));
  const users = frames.map((f) => f.getColumn("user_id").toArray() as number[]);
  for (let g = 1; g < users.length; g++) assert.ok(Math.max(...(users[g - 1] ?? [])) < Math.min(...(users[g] ?? [])), `group ${g} starts above group ${g - 1}`);
  // the same rows as the outputs regrouped afterwards, each exactly once
  const afterwards = await (await spilled.groupMap("n", dropThirds)).regroup("user_id", window);
  assertFramesEqual(pl.concat(frames), await afterwards.collect(), { sortBy: ["n"] });
  assertFramesEqual(pl.concat(frames), pl.concat([dropThirds(rows), lakeRows]), { sortBy: ["n"] });

  // merged groups no longer match the planned ranges: a regroup splits them again
  const merged = await collected.coalesce(1_000_000).regroup("user_id", window);
  assert.ok(merged.groups.length >= 3);
  assertFramesEqual(await merged.collect(), pl.concat(frames), { sortBy: ["n"] });
  await assert.rejects(spilled.groupMap("n", (f) => f.drop("user_id"), { into: { column: "user_id", with: window } }), (e: unknown) => e instanceof ConfigError && /cannot group the output by user_id/.test(e.message));
});

test("a spilled day of more budgets than hash buckets is regrouped into groups of about a budget, copies of a value still meeting in one", async (t) => {
  const dataDir = await tempDataDir(t);
  const chunks: ChunkContext = { store: SpillStore.forRun(dataDir, "events", "2026-11-20", "r4"), groupRows: 60, signal: new AbortController().signal };
  // 6,000 rows in 32 buckets: ~190 rows a bucket, over three budgets; every key twice, far apart
  const rows = pl.DataFrame({ k: Array.from({ length: 6000 }, (_, i) => `e-${i % 3000}`), n: Array.from({ length: 6000 }, (_, i) => i) });
  const collector = new StreamCollector(chunks, "rows", "k");
  for (let offset = 0; offset < rows.height; offset += 1000) await collector.add(rows.slice(offset, 1000));
  const spilled = collector.finish(true);
  assert.ok(Math.max(...spilled.groups.map((g) => g.rows)) > 3 * 60, "the buckets are over three budgets");
  const grouped = await spilled.regroup("k");
  assert.ok(grouped.groups.length > spilled.groups.length);
  const largest = Math.max(...grouped.groups.map((g) => g.rows));
  assert.ok(largest <= 1.5 * 60, `the largest group holds ${largest} rows`);
  const firstCopies = await spilled.groupMap("k", (f) => f.filter(pl.col("k").isFirstDistinct()));
  assertFramesEqual(await firstCopies.collect(), rows.head(3000), { sortBy: ["n"] });
  const small = await collector.finish(true).regroup("k");
  assert.equal(small.groups.length, grouped.groups.length, "the split is the same every time");
});

test("a run's spilled files are gone when it ends, and a killed run's leftovers go with the next run of the partition", async (t) => {
  const days = makeEventDays(43, [DAYS[0] as string], 200);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const leftover = path.join(dataDir, "spill", "events", DAYS[0] as string, "events-killed-run");
  await mkdir(path.join(leftover, "0001-valid"), { recursive: true });
  await writeFile(path.join(leftover, "0001-valid", "g00000-p0000000.ipc"), "half a file");
  const outcome = await runPartition(getJob("events"), DAYS[0] as string, { ...testRunSettings(dataDir, server.url), groupRows: 100 });
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.equal(existsSync(path.join(dataDir, "spill")), false, "the spill tree is removed");
});

test("a spilled frame's rows are removed once ctx.materialize() has written the lake: reading the frame afterwards is a ConfigError that says what to do", async (t) => {
  const days = makeEventDays(47, [DAYS[0] as string], 300);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const events = getJob("events");
  let handed: TableOutput[] = [];
  let afterwards: unknown = null;
  const job = defineJob({
    name: events.name,
    description: "the events job, then a read of what it materialized",
    tables: events.tables,
    ...(events.reads ? { reads: events.reads } : {}),
    async run(ctx) {
      // the events job as it is, with ctx.materialize watched
      const watched = new Proxy(ctx, {
        get(target, prop) {
          if (prop === "materialize") return async (outputs: TableOutput[]) => ctx.materialize((handed = outputs));
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      await events.run(watched);
      const spilled = handed.map((o) => o.frame).find((f): f is ChunkedFrame => f instanceof ChunkedFrame && !f.inMemory);
      assert.ok(spilled, "the job materialized a frame kept on disk");
      afterwards = await spilled.head().then(() => null, (e: unknown) => e);
    },
  });
  const outcome = await runPartition(job, DAYS[0] as string, { ...testRunSettings(dataDir, server.url), groupRows: 100 });
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.ok(afterwards instanceof ConfigError, `a ConfigError (${String(afterwards)})`);
  assert.match(afterwards.message, /kept on disk, and ctx\.materialize\(\) removed them once the lake was written/);
  assert.match(afterwards.hint ?? "", /before ctx\.materialize\(\)/);
  assert.equal(existsSync(path.join(dataDir, "spill")), false, "the spill tree is removed");
});

test("a released spill store removes its files in the background, remove() waits for that, and no output can be spilled into it any more", async (t) => {
  const dataDir = await tempDataDir(t);
  const store = SpillStore.forRun(dataDir, "events", DAYS[0] as string, "run-1");
  const dir = await store.dir("valid");
  await writeFile(path.join(dir, "g00000-p0000000.ipc"), "rows");
  assert.equal(store.released, false);
  store.release();
  store.release();
  assert.equal(store.released, true);
  await assert.rejects(store.dir("later"), (e: unknown) => e instanceof ConfigError);
  await store.remove();
  assert.equal(existsSync(path.join(dataDir, "spill")), false, "the run's directory and the empty ones above it are gone");
});

test("keys matched chunk by chunk as they land name exactly the rows whose key repeats in the whole stream, first copies included, null keys and hash collisions never", async () => {
  // keys repeat within a chunk, across chunks, three times over; some are null
  const keys = Array.from({ length: 1000 }, (_, i) => (i % 97 === 0 ? null : `k${(i * 7919) % 640}`));
  const whole = pl.DataFrame({ key: keys, _page: keys.map((_, i) => Math.floor(i / 50) + 1), _row: keys.map((_, i) => i % 50) });
  const expected = whole.filter(pl.col("key").isNotNull().and(pl.len().over("key").gt(1)));
  assert.ok(expected.height > 0 && expected.height < whole.height - 10, "the stream has repeated and lone keys");
  // the real hash, and one where every key of the same length collides
  for (const repeats of [new RepeatedKeys("key"), new RepeatedKeys("key", (key) => key.str.lengths())]) {
    for (let offset = 0; offset < whole.height; offset += 300) await repeats.add(whole.slice(offset, 300));
    assertFramesEqual(repeats.failing().sort(["_page", "_row"]), expected);
    assert.equal(repeats.rows, 1000, "every row counts toward the check's rate, null keys too");
  }
  const none = new RepeatedKeys("key");
  await none.add(whole.head(3));
  assert.deepEqual(none.failing().columns, ["key", "_page", "_row"], "no repeats: no rows, the same columns");
  assert.equal(none.failing().height, 0);
});

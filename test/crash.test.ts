/**
 * Crash safety and concurrency with real processes: a run SIGKILLed at any stage leaves nothing
 * partial visible, the next run heals it, and readers are never refused during loads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import pl from "nodejs-polars";
import { startDemoApi } from "../src/demo-api/index.ts";
import { makeEventDays, makeUsers, startContractServer } from "./fixtures/contract-server.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runSluice, tempDataDir } from "./helpers.ts";

const D0 = "2026-11-18";
const D1 = "2026-11-19";
const sluice = runSluice;

/** Every row of every data table, without columns that name a run. */
async function snapshot(dataDir: string): Promise<Record<string, unknown[][]>> {
  return withWarehouse(dataDir, "read", async (conn) => {
    const out: Record<string, unknown[][]> = {};
    out["events"] = (await query(conn, "select * from events order by all")).rows;
    out["sessions"] = (await query(conn, "select * from sessions order by all")).rows;
    out["quarantine"] = (await query(conn, "select job, dt, table_name, record, reason from sluice.quarantine order by all")).rows;
    return out;
  });
}

/** Lake files: every visible Parquet file must be whole (readable), and no temp file may look like one. */
async function assertLakeWhole(dataDir: string): Promise<void> {
  const lake = path.join(dataDir, "lake");
  for (const table of await readdir(lake).catch(() => [] as string[])) {
    for (const part of await readdir(path.join(lake, table))) {
      const files = await readdir(path.join(lake, table, part));
      const visible = files.filter((f) => f.endsWith(".parquet") && !f.startsWith("."));
      assert.ok(visible.length <= 1, `${table}/${part} has ${visible.length} visible files: ${files.join(", ")}`);
      for (const f of visible) pl.readParquet(path.join(lake, table, part, f)); // throws if torn
    }
  }
}

const POINTS = ["extract.page-2", "transform", "lake.partial", "lake.write", "lake.written", "warehouse.merge", "warehouse.bookkeeping", "warehouse.committed"];

test("a run killed at any stage leaves nothing partial, and the next run heals it to a clean run's tables", async (t) => {
  // An independent, flaky server of the contract: every fifth request misbehaves.
  const api = await startContractServer({ days: makeEventDays(9, [D0, D1], 400), users: makeUsers(9, 60), failEvery: 5, pageSize: 100 });
  t.after(() => api.close());
  const args = (dataDir: string, dt: string) => ["run", "events", "--date", dt, "--api-url", api.url, "--data-dir", dataDir];

  // The reference: a clean run of D0 then D1.
  const clean = await tempDataDir(t);
  for (const dt of [D0, D1]) assert.equal((await sluice(args(clean, dt))).code, 0);
  const expected = await snapshot(clean);

  for (const point of POINTS) {
    const dataDir = await tempDataDir(t);
    assert.equal((await sluice(args(dataDir, D0))).code, 0);
    const before = await snapshot(dataDir);

    const killed = await sluice(args(dataDir, D1), { SLUICE_FAILPOINT: point });
    assert.equal(killed.signal, "SIGKILL", `${point}: the run should have been killed (exit ${killed.code}, ${killed.stderr})`);
    await assertLakeWhole(dataDir);
    const after = await snapshot(dataDir);
    if (point === "warehouse.committed") assert.deepEqual(after, expected, `${point}: the committed load is complete`);
    else assert.deepEqual(after, before, `${point}: the warehouse shows nothing of the killed run`);
    const runs = await withWarehouse(dataDir, "read", (c) => query(c, `select status from sluice.runs where dt = '${D1}'`));
    assert.deepEqual(runs.rows.map((r) => r[0]), point === "warehouse.committed" ? ["succeeded"] : ["running"], `${point}: runs before healing`);

    const eventRequests = () => api.requests().filter((r) => r.path === "/v1/events").length;
    const requestsBefore = eventRequests();
    const healed = await sluice(args(dataDir, D1));
    if (point !== "extract.page-2") {
      // The killed run had landed every page: the rerun resumes from them without a request.
      assert.equal(eventRequests(), requestsBefore, `${point}: the rerun refetched landed pages`);
    }
    assert.equal(healed.code, 0, `${point}: rerun failed: ${healed.stderr}`);
    await assertLakeWhole(dataDir);
    assert.deepEqual(await snapshot(dataDir), expected, `${point}: the rerun equals a clean run`);
    const statuses = await withWarehouse(dataDir, "read", (c) => query(c, `select status from sluice.runs where dt = '${D1}' order by started_at`));
    assert.deepEqual(statuses.rows.map((r) => r[0]), point === "warehouse.committed" ? ["succeeded", "succeeded"] : ["abandoned", "succeeded"], `${point}: runs after healing`);
  }
});

test("two runs of the same partition at once: the second fails with a clear message and nothing is corrupted", async (t) => {
  // A slow source keeps the first run busy long enough for the second to collide with it.
  let firstRequest: () => void = () => {};
  const started = new Promise<void>((r) => (firstRequest = r));
  const server = createServer((req, res) => {
    firstRequest();
    const url = new URL(req.url ?? "/", "http://x");
    const page = Number(url.searchParams.get("cursor") ?? "0");
    const data = Array.from({ length: 50 }, (_, i) => ({ event_id: `e-${page}-${i}`, user_id: 1 + (i % 7), ts: `${D1}T${String(10 + (page % 10)).padStart(2, "0")}:00:${String(i % 60).padStart(2, "0")}Z`, event_type: "view_page" }));
    setTimeout(() => res.setHeader("content-type", "application/json").end(JSON.stringify({ data, next_cursor: page < 9 ? String(page + 1) : null })), 250);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dataDir = await tempDataDir(t);
  const args = ["run", "events", "--date", D1, "--api-url", apiUrl, "--data-dir", dataDir];

  const first = sluice(args);
  await started;
  const second = await sluice(args);
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stdout + second.stderr, /another run of events for 2026-11-19 is in progress/);
  const done = await first;
  assert.equal(done.code, 0, done.stderr);
  const rows = await withWarehouse(dataDir, "read", (c) => query(c, "select count(*), count(distinct event_id) from events"));
  assert.deepEqual(rows.rows[0]?.map(Number), [500, 500], "every event exactly once");
  const runs = await withWarehouse(dataDir, "read", (c) => query(c, "select status from sluice.runs order by status"));
  assert.deepEqual(runs.rows.map((r) => r[0]), ["succeeded"], "the refused run never touched the bookkeeping");
});

test("queries issued in a loop while a backfill loads all succeed", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 3000, seed: 8 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  // The warehouse must exist before the first query.
  assert.equal((await sluice(["run", "users", "--date", D0, "--api-url", api.url, "--data-dir", dataDir])).code, 0);
  const backfill = sluice(["backfill", "events", "--from", "2026-11-14", "--to", D1, "--concurrency", "2", "--api-url", api.url, "--data-dir", dataDir]);
  let running = true;
  void backfill.then(() => (running = false));
  const failures: string[] = [];
  let queries = 0;
  while (running) {
    const q = await sluice(["query", "select count(*) from sluice.runs", "--data-dir", dataDir]);
    queries++;
    if (q.code !== 0) failures.push(q.stderr);
  }
  const done = await backfill;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(queries >= 2, `only ${queries} queries ran during the backfill`);
  assert.deepEqual(failures, []);
});

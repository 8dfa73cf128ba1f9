/**
 * Concurrency with real processes: a second run of a partition in progress is refused cleanly, and
 * readers are never refused during loads. (Runs killed mid-way: crash-*.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startDemoApi } from "../src/demo-api/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import users from "../jobs/users.ts";
import { tempDataDir } from "./support/dirs.ts";
import { serveHttp } from "./support/net.ts";
import { testRunSettings } from "./support/settings.ts";
import { runSluice as sluice } from "./support/sluice.ts";

const D0 = "2026-11-18";
const D1 = "2026-11-19";

test("two runs of the same partition at once: the second fails with a clear message and nothing is corrupted", async (t) => {
  // The source holds its answers until the second run has ended, so the first run is surely in
  // the middle of its partition when the second starts, however slowly processes start on a busy
  // machine. (A generous bound opens the gate anyway, so a broken lock fails rather than hangs.)
  let firstRequest: () => void = () => {};
  const started = new Promise<void>((r) => (firstRequest = r));
  let secondEnded: () => void = () => {};
  const gate = Promise.race([new Promise<void>((r) => (secondEnded = r)), sleep(120_000, undefined, { ref: false })]);
  const server = await serveHttp((req, res) => {
    firstRequest();
    const url = new URL(req.url ?? "/", "http://x");
    const page = Number(url.searchParams.get("cursor") ?? "0");
    const data = Array.from({ length: 50 }, (_, i) => ({ event_id: `e-${page}-${i}`, user_id: 1 + (i % 7), ts: `${D1}T${String(10 + (page % 10)).padStart(2, "0")}:00:${String(i % 60).padStart(2, "0")}Z`, event_type: "view_page" }));
    void gate.then(() => res.setHeader("content-type", "application/json").end(JSON.stringify({ data, next_cursor: page < 9 ? String(page + 1) : null })));
  });
  t.after(() => server.close());
  const apiUrl = server.url;
  const dataDir = await tempDataDir(t);
  const args = ["run", "events", "--date", D1, "--api-url", apiUrl, "--data-dir", dataDir];

  const first = sluice(args);
  await started;
  const second = await sluice(args);
  secondEnded();
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
  // The warehouse must exist before the first query (set up in-process: the processes under test are below).
  assert.equal((await runPartition(users, D0, testRunSettings(dataDir, api.url))).status, "succeeded");
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

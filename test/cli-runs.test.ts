/** The CLI's runs as scripts use them: real `sluice` processes loading real data dirs, with their exit codes. (test/cli.test.ts has help, usage errors and flags.) */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startDemoApi } from "../src/demo-api/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const sluice = runSluice;

test("run loads a day from the demo API and query, status answer from the warehouse", async (t) => {
  const dataDir = await tempDataDir(t);
  const api = await startDemoApi({ eventsPerDay: 3000, seed: 5 });
  t.after(() => api.close());
  const run = await sluice(["run", "events", "--date", "2026-11-19", "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /events\s+2026-11-19\s+succeeded/);

  const q = await sluice(["query", "select count(*) as n, count(distinct event_id) as d, min(dt)::varchar as lo, max(dt)::varchar as hi from events", "--format", "json"], { SLUICE_DATA_DIR: dataDir });
  assert.equal(q.code, 0, q.stderr);
  const [row] = JSON.parse(q.stdout) as Array<{ n: number; d: number; lo: string; hi: string }>;
  assert.ok(row && row.n > 2000, `about 3000 events expected, got ${row?.n}`);
  assert.equal(row.n, row.d, "one row per event_id");
  assert.deepEqual([row.lo, row.hi], ["2026-11-19", "2026-11-19"]);

  const csv = await sluice(["query", "select 'a,b' as x, 1 as y", "--format", "csv", "--data-dir", dataDir]);
  assert.equal(csv.stdout.trim(), 'x,y\n"a,b",1');

  const status = await sluice(["status", "events", "--data-dir", dataDir]);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /events\s+2026-11-19\s+succeeded/);

  const bad = await sluice(["query", "select * from no_such_table", "--data-dir", dataDir]);
  assert.equal(bad.code, 2, "a bad query is the user's mistake");
  assert.match(bad.stderr, /no_such_table/);
});

test("a backfill with one failing partition runs the others, exits 1 and --retry-failed reruns only that one", async (t) => {
  const dataDir = await tempDataDir(t);
  let failDay: string | null = "2026-11-19";
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/v1/users") {
      res.setHeader("content-type", "application/json").end(JSON.stringify({ users: [], total: 0 }));
      return;
    }
    if (failDay && url.searchParams.get("start")?.startsWith(failDay)) {
      res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ error: "forbidden for this day" }));
      return;
    }
    const start = url.searchParams.get("start") ?? "";
    const record = { event_id: `e-${start.slice(0, 10)}`, user_id: 1, ts: start.replace("00:00:00", "12:00:00"), event_type: "login" };
    res.setHeader("content-type", "application/json").end(JSON.stringify({ data: [record], next_cursor: null }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const first = await sluice(["backfill", "events", "--from", "2026-11-18", "--to", "2026-11-20", "--api-url", apiUrl, "--data-dir", dataDir]);
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stdout, /2026-11-18\s+succeeded/);
  assert.match(first.stdout, /2026-11-19\s+failed.*403/);
  assert.match(first.stdout, /2026-11-20\s+succeeded/);
  assert.match(first.stdout, /--retry-failed/);

  failDay = null;
  const retry = await sluice(["backfill", "events", "--from", "2026-11-18", "--to", "2026-11-20", "--retry-failed", "--api-url", apiUrl, "--data-dir", dataDir]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /2026-11-18\s+skipped/);
  assert.match(retry.stdout, /2026-11-19\s+succeeded/);
  assert.match(retry.stdout, /2026-11-20\s+skipped/);
});

/** Operating Sluice from the command line: logs, secrets, preview, reports, metrics, Ctrl-C, alerts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { resolveSettings } from "../src/core/config.ts";
import { UsageError } from "../src/core/errors.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { startMeteredApi } from "./fixtures/metered-api.ts";
import { tempDataDir } from "./support/dirs.ts";
import { freePort, serveHttp, webhookReceiver } from "./support/net.ts";
import { runSluice as sluice, startSluice as start } from "./support/sluice.ts";

/** Every file below dir, recursively. */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesBelow(p)));
    else out.push(p);
  }
  return out;
}

test("JSON log lines carry run_id, job and dt, stage lines their stage, and the token appears nowhere", async (t) => {
  const token = "tok-3c1f9e77b2a84d5e";
  const api = await startDemoApi({ eventsPerDay: 1500, seed: 12, token, faultRate: 0.1, retryAfterSeconds: 0 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const result = await sluice(["run", "events", "--date", "2026-11-19", "--api-url", api.url, "--data-dir", dataDir, "--log-level", "debug"], { SLUICE_API_TOKEN: token });
  assert.equal(result.code, 0, result.stderr);

  const lines = result.stderr.split("\n").filter((l) => l.startsWith("{"));
  assert.ok(lines.length >= 6, `expected JSON log lines, got:\n${result.stderr}`);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const r of records) {
    assert.equal(typeof r["run_id"], "string", `run_id missing: ${JSON.stringify(r)}`);
    assert.equal(r["job"], "events");
    assert.equal(r["dt"], "2026-11-19");
  }
  const stages = new Set(records.filter((r) => typeof r["msg"] === "string" && /finished|started/.test(r["msg"] as string)).map((r) => r["stage"]));
  for (const stage of ["run", "extract", "validate", "transform", "load"]) assert.ok(stages.has(stage), `a ${stage} stage line`);

  // The secret: not in any output, not in any file Sluice wrote (Parquet, DuckDB, reports, metrics).
  assert.equal((result.stdout + result.stderr).includes(token), false, "token in the output");
  for (const file of await filesBelow(dataDir)) {
    const bytes = await readFile(file);
    assert.equal(bytes.includes(token), false, `token found in ${path.relative(dataDir, file)}`);
  }
});

test("--preview prints each step's cells and loads nothing", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 800, seed: 2 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const result = await sluice(["run", "events", "--date", "2026-11-19", "--preview", "--api-url", api.url, "--data-dir", dataDir, "--log-level", "warn"]);
  assert.equal(result.code, 0, result.stderr);
  for (const cell of ["[extract] extract events", "[validate] validate events", "[transform] sessionize: sessions", "[validate] validate sessions"]) {
    assert.ok(result.stdout.includes(cell), `cell "${cell}" in:\n${result.stdout}`);
  }
  // Each cell is a frame as Polars prints one: names, then dtypes by their short names.
  assert.match(result.stdout, /shape: \([\d_]+, \d+\)\n┌[─┬]+┐\n│ event_id\s+┆ user_id\s+┆ ts\s+┆/);
  assert.match(result.stdout, /│ str\s+┆ i64\s+┆ datetime\[μs, UTC\]\s+┆/);
  assert.doesNotMatch(result.stdout, /DataType\(/);
  assert.match(result.stdout, /preview: nothing was loaded/);
  assert.equal(existsSync(path.join(dataDir, "warehouse.duckdb")), false, "no warehouse");
  assert.equal(existsSync(path.join(dataDir, "lake")), false, "no lake");
});

test("a run writes its HTML report and the metrics textfile, and `sluice report` finds it", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 1000, seed: 3 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const result = await sluice(["run", "events", "--date", "2026-11-19", "--api-url", api.url, "--data-dir", dataDir, "--log-level", "warn"]);
  assert.equal(result.code, 0, result.stderr);
  const reportFile = path.join(dataDir, "reports", "events", "2026-11-19.html");
  const html = await readFile(reportFile, "utf8");
  assert.match(html, /sessions per hour/i);
  assert.match(html, /validate events/);
  const prom = await readFile(path.join(dataDir, "metrics", "events.prom"), "utf8");
  assert.match(prom, /pipeline_records_processed_total\{job="events",partition="2026-11-19",status="loaded"\} \d+/);
  const report = await sluice(["report", "events", "--data-dir", dataDir]);
  assert.equal(report.code, 0);
  assert.equal(report.stdout.trim(), reportFile);
  assert.ok((await stat(reportFile)).size > 10_000);
});

test("SIGINT during a backfill starts no new partition, rolls back the running one and records it as cancelled", async (t) => {
  // A slow source: each page takes 300 ms, so the first partition is still extracting when we interrupt.
  let firstRequest: () => void = () => {};
  const started = new Promise<void>((r) => (firstRequest = r));
  const server = await serveHttp((req, res) => {
    firstRequest();
    const url = new URL(req.url ?? "/", "http://x");
    const page = Number(url.searchParams.get("cursor") ?? "0");
    const day = (url.searchParams.get("start") ?? "").slice(0, 10);
    const data = Array.from({ length: 20 }, (_, i) => ({ event_id: `${day}-${page}-${i}`, user_id: 1 + i, ts: `${day}T10:00:${String(i).padStart(2, "0")}Z`, event_type: "login" }));
    setTimeout(() => res.setHeader("content-type", "application/json").end(JSON.stringify({ data, next_cursor: page < 19 ? String(page + 1) : null })), 300);
  });
  t.after(() => server.close());
  const apiUrl = server.url;
  const dataDir = await tempDataDir(t);

  const run = start(["backfill", "events", "--from", "2026-11-10", "--to", "2026-11-14", "--concurrency", "1", "--api-url", apiUrl, "--data-dir", dataDir, "--log-level", "warn"]);
  await started;
  await new Promise((r) => setTimeout(r, 800));
  run.child.kill("SIGINT");
  const result = await run.done;
  assert.equal(result.code, 1, `a cancelled backfill is not a success:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stderr, /SIGINT: stopping/);
  assert.match(result.stdout, /2026-11-10\s+cancelled/);
  assert.match(result.stdout, /2026-11-14\s+cancelled.*not started/);

  const runs = await withWarehouse(dataDir, "read", (conn) => query(conn, "select dt::varchar, status from sluice.runs order by dt"));
  assert.deepEqual(runs.rows, [["2026-11-10", "cancelled"]], "only the running partition was recorded, as cancelled");
  const events = await withWarehouse(dataDir, "read", (conn) => query(conn, "select count(*) from events"));
  assert.equal(Number(events.rows[0]?.[0]), 0, "nothing of the cancelled partition was loaded");
  assert.equal(existsSync(path.join(dataDir, "lake", "events")), false);
});

const TEST_JOBS = path.resolve(import.meta.dirname, "fixtures", "jobs");

test("a backfill that ends with failures posts one summary to SLUICE_ALERT_WEBHOOK, with no secret anywhere; a run that succeeds posts none", async (t) => {
  const key = "sk_live_9f3c2a7b1e55d0c4";
  const token = "tok-5d9e0c3a7f21b846";
  const [good, forbidden] = ["2026-11-18", "2026-11-19"];
  const api = await startMeteredApi({ key, pages: 1, forbiddenDays: [forbidden as string] });
  t.after(() => api.close());
  const hook = await webhookReceiver(t);
  const dataDir = await tempDataDir(t);
  const env = { METERED_API_URL: api.url, METERED_API_KEY: key, SLUICE_API_TOKEN: token, SLUICE_ALERT_WEBHOOK: hook.url, SLUICE_LOG_LEVEL: "info" };

  const backfill = await sluice(["backfill", "metered", "--from", good as string, "--to", forbidden as string, "--jobs-dir", TEST_JOBS, "--data-dir", dataDir], env);
  assert.equal(backfill.code, 1, backfill.stderr);
  assert.equal(hook.bodies.length, 1, "one summary per command");
  const payload = JSON.parse(hook.bodies[0] as string) as { text: string; job: string; command: string; counts: Record<string, number>; failed: Array<{ partition: string; error: string }> };
  assert.deepEqual([payload.job, payload.command, payload.counts["failed"], payload.counts["succeeded"], payload.counts["total"]], ["metered", "backfill", 1, 1, 2]);
  assert.deepEqual(payload.failed.map((f) => f.partition), [forbidden]);
  assert.match(payload.failed[0]?.error ?? "", /403/);
  assert.match(payload.text, new RegExp(`sluice backfill metered: 1 of 2 partition\\(s\\) failed \\(${forbidden}: .*403`));
  assert.match(backfill.stderr, /alert posted to the webhook/);
  for (const secret of [key, token, "hook-path-secret"]) {
    assert.equal(hook.bodies[0]?.includes(secret), false, `${secret} in the alert`);
    assert.equal((backfill.stdout + backfill.stderr).includes(secret), false, `${secret} in the output`);
  }

  const run = await sluice(["run", "metered", "--date", good as string, "--jobs-dir", TEST_JOBS, "--data-dir", dataDir], env);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(hook.bodies.length, 1, "a command without failures posts nothing");
});

test("an alert that cannot be delivered is a logged warning and leaves the exit code alone", async (t) => {
  const key = "sk_live_0b7e4c1d2a99f3e6";
  const api = await startMeteredApi({ key, pages: 1, forbiddenDays: ["2026-11-19"] });
  t.after(() => api.close());
  // A port nothing listens on: every attempt is refused, then the command gives up on the alert.
  const deadUrl = `http://127.0.0.1:${await freePort()}/hook`;
  const dataDir = await tempDataDir(t);
  const result = await sluice(["run", "metered", "--date", "2026-11-19", "--jobs-dir", TEST_JOBS, "--data-dir", dataDir], { METERED_API_URL: api.url, METERED_API_KEY: key, SLUICE_ALERT_WEBHOOK: deadUrl });
  assert.equal(result.code, 1, "the run failed; the alert's own failure changes nothing");
  assert.match(result.stderr, /could not post the alert to SLUICE_ALERT_WEBHOOK/);
  assert.match(result.stderr, /gave up after 4 attempt\(s\)/);
  assert.match(result.stdout, /metered\s+2026-11-19\s+failed/);

  // A malformed webhook is a usage error at start, and the message does not quote it (it may carry a token).
  for (const url of ["not a url", "ftp://hooks.example/T0/secret-path"]) {
    assert.throws(() => resolveSettings({ flags: {}, env: { SLUICE_ALERT_WEBHOOK: url } }), (e: unknown) => e instanceof UsageError && e.message === "SLUICE_ALERT_WEBHOOK is not an http(s) URL");
  }
});

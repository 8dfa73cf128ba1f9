/** Prometheus metrics: values from outcomes, the atomic textfile, promtool, and a real Pushgateway. */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { register as globalRegistry } from "prom-client";
import { SluiceError } from "../src/core/errors.ts";
import { RunMetrics, metricsTextfilePath, pushMetrics, writeMetricsTextfile } from "../src/metrics/index.ts";
import type { PartitionOutcome, StepRecord } from "../src/pipeline/index.ts";
import type { CheckResult } from "../src/validate/types.ts";
import { tempDataDir } from "./support/dirs.ts";
import { freePort } from "./support/net.ts";
import { hasCommand } from "./support/tools.ts";

function step(kind: StepRecord["kind"], name: string, ms: number, details: Record<string, unknown> = {}): StepRecord {
  return { name, kind, ms, rows: 0, schema: [], head: [], details };
}

function check(table: string, name: string, passed: boolean, failingRows: number, severity: CheckResult["severity"] = "error", action: CheckResult["action"] = "quarantine"): CheckResult & { dt: string } {
  return { check: name, table, columns: ["x"], severity, action, passed, failingRows, sample: [], dt: "2026-11-03" };
}

function outcome(over: Partial<PartitionOutcome>): PartitionOutcome {
  return { job: "events", dt: "2026-11-03", runId: "r", status: "succeeded", rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error: null, ...over };
}

/** A succeeded day with retries and quarantined rows, a failed day, and a skipped day. */
function syntheticOutcomes(): PartitionOutcome[] {
  const checksA = [check("events", "not_null(user_id)", false, 7), check("events", "unique(event_id)", true, 0), check("sessions", "range(duration_s)", false, 2, "warn")];
  const a = outcome({
    dt: "2026-11-03",
    rowsIn: 1000,
    rowsLoaded: 990,
    rowsQuarantined: 10,
    failedChecks: 2,
    checks: checksA,
    durationMs: 4000,
    steps: [
      step("extract", "extract events", 1500, { pages: 10, requests: 13, retries: 3, resumed: false, drift: [], statusCounts: { "200": 10, "429": 2, "503": 1 } }),
      step("validate", "validate events", 200, { results: checksA.slice(0, 2), quarantined: 7 }),
      step("transform", "deduplicate events", 100),
      step("transform", "sessionize: events", 300),
      step("transform", "sessionize: sessions", 300),
      step("validate", "validate sessions", 50, { results: checksA.slice(2), quarantined: 3 }),
      step("load", "load", 900, { lakeMs: 400, warehouseMs: 500, partitions: ["events/dt=2026-11-03"], inserted: 990, updated: 0, deleted: 0 }),
    ],
  });
  const b = outcome({
    dt: "2026-11-04",
    status: "failed",
    rowsIn: 0,
    durationMs: 30_000,
    error: "HTTP 503",
    steps: [],
  });
  // A failed extract still reports its requests through its step when it got that far.
  const c = outcome({
    dt: "2026-11-05",
    status: "failed",
    rowsIn: 500,
    durationMs: 2000,
    error: "validation blocked",
    checks: [check("events", "freshness", false, 500, "error", "block")],
    steps: [step("extract", "extract events", 700, { pages: 5, requests: 6, retries: 1, resumed: true, drift: ["new_field"], statusCounts: { "200": 5, "500": 1 } })],
  });
  const d = outcome({ dt: "2026-11-06", status: "skipped", runId: "" });
  return [a, b, c, d];
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** An independent parser of the text exposition format (enough for our label values). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] as string] = (lm[2] as string).replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hit.length === 0) return undefined;
  assert.equal(hit.length, 1, `${name}${JSON.stringify(labels)} matches ${hit.length} series`);
  return hit[0]?.value;
}

test("observed outcomes become the documented counters, histograms and gauge", async (t) => {
  const dataDir = await tempDataDir(t);
  const metrics = new RunMetrics();
  const before = Date.now() / 1000;
  for (const o of syntheticOutcomes()) metrics.observe(o);
  const file = await writeMetricsTextfile(dataDir, "events", metrics);
  assert.equal(file, path.join(dataDir, "metrics", "events.prom"));
  const s = parseExposition(await readFile(file, "utf8"));

  const rec = "pipeline_records_processed_total";
  assert.equal(value(s, rec, { job: "events", partition: "2026-11-03", status: "extracted" }), 1000);
  assert.equal(value(s, rec, { job: "events", partition: "2026-11-03", status: "loaded" }), 990);
  assert.equal(value(s, rec, { job: "events", partition: "2026-11-03", status: "quarantined" }), 10);
  assert.equal(value(s, rec, { job: "events", partition: "2026-11-05", status: "extracted" }), 500);
  assert.equal(value(s, rec, { job: "events", partition: "2026-11-06", status: "extracted" }), undefined, "skipped days add no record series");

  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "succeeded" }), 1);
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "failed" }), 2);
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "skipped" }), 1);

  assert.equal(value(s, "pipeline_http_requests_total", { job: "events", status: "200" }), 15);
  assert.equal(value(s, "pipeline_http_requests_total", { job: "events", status: "429" }), 2);
  assert.equal(value(s, "pipeline_http_requests_total", { job: "events", status: "503" }), 1);
  assert.equal(value(s, "pipeline_http_requests_total", { job: "events", status: "500" }), 1);
  assert.equal(value(s, "pipeline_http_retries_total", { job: "events" }), 4);

  assert.equal(value(s, "pipeline_rows_quarantined_total", { job: "events", table: "events" }), 7);
  assert.equal(value(s, "pipeline_rows_quarantined_total", { job: "events", table: "sessions" }), 3);

  const cf = "pipeline_check_failures_total";
  assert.equal(value(s, cf, { job: "events", table: "events", check: "not_null(user_id)", severity: "error" }), 1);
  assert.equal(value(s, cf, { job: "events", table: "sessions", check: "range(duration_s)", severity: "warn" }), 1);
  assert.equal(value(s, cf, { job: "events", table: "events", check: "freshness", severity: "error" }), 1);
  // The action that applied tells a blocked partition (the alert rules' PipelineCheckBlocked) from quarantined rows.
  assert.equal(value(s, cf, { job: "events", table: "events", check: "freshness", action: "block" }), 1);
  assert.equal(value(s, cf, { job: "events", table: "events", check: "not_null(user_id)", action: "quarantine" }), 1);
  assert.equal(value(s, cf, { job: "events", table: "events", check: "unique(event_id)", severity: "error" }), undefined, "passed checks are not failures");

  // Histograms: one observation per non-skipped partition for run; stages only where steps ran.
  const h = "pipeline_processing_seconds";
  assert.equal(value(s, `${h}_count`, { job: "events", stage: "run" }), 3);
  assert.equal(value(s, `${h}_sum`, { job: "events", stage: "run" }), 36);
  assert.equal(value(s, `${h}_count`, { job: "events", stage: "extract" }), 2);
  assert.ok(Math.abs((value(s, `${h}_sum`, { job: "events", stage: "extract" }) ?? NaN) - 2.2) < 1e-9);
  // sessionize's two outputs share one timing: 100 + 300 ms, not 700.
  assert.ok(Math.abs((value(s, `${h}_sum`, { job: "events", stage: "transform" }) ?? NaN) - 0.4) < 1e-9);
  assert.ok(Math.abs((value(s, `${h}_sum`, { job: "events", stage: "validate" }) ?? NaN) - 0.25) < 1e-9);
  assert.equal(value(s, `${h}_bucket`, { job: "events", stage: "run", le: "1" }), 0);
  assert.equal(value(s, `${h}_bucket`, { job: "events", stage: "run", le: "5" }), 2);
  assert.equal(value(s, `${h}_bucket`, { job: "events", stage: "run", le: "30" }), 3);
  assert.equal(value(s, `${h}_bucket`, { job: "events", stage: "run", le: "+Inf" }), 3);

  const last = value(s, "pipeline_last_success_timestamp_seconds", { job: "events" });
  assert.ok(last !== undefined && last >= before - 1 && last <= Date.now() / 1000 + 1, `last success ${last}`);
});

test("each RunMetrics has its own registry and leaves the global one empty", async () => {
  const a = new RunMetrics();
  const b = new RunMetrics();
  a.observe(outcome({ rowsIn: 5 }));
  const sb = parseExposition(await b.text());
  assert.equal(value(sb, "pipeline_records_processed_total", { status: "extracted" }), undefined);
  assert.equal((await globalRegistry.metrics()).includes("pipeline_"), false);
});

test("the textfile is replaced atomically, leaves no temp file, and keeps the last success of a failing run", async (t) => {
  const dataDir = await tempDataDir(t);
  const first = new RunMetrics();
  first.observe(outcome({ rowsIn: 1, rowsLoaded: 1 }));
  const file = await writeMetricsTextfile(dataDir, "events", first);
  const inodeBefore = (await stat(file)).ino;
  const lastBefore = value(parseExposition(await readFile(file, "utf8")), "pipeline_last_success_timestamp_seconds", { job: "events" });
  assert.ok(lastBefore !== undefined);

  const second = new RunMetrics();
  second.observe(outcome({ status: "failed", error: "boom", durationMs: 10 }));
  await writeMetricsTextfile(dataDir, "events", second);
  // rename() puts a new inode in place; an in-place rewrite would keep the old one.
  assert.notEqual((await stat(file)).ino, inodeBefore);
  assert.deepEqual(await readdir(path.dirname(file)), ["events.prom"]);
  const s = parseExposition(await readFile(file, "utf8"));
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "failed" }), 1);
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "succeeded" }), undefined);
  assert.equal(value(s, "pipeline_last_success_timestamp_seconds", { job: "events" }), lastBefore);
});

test("a job name that is not a safe file name is refused", () => {
  assert.throws(() => metricsTextfilePath("/tmp", "../etc/passwd"), SluiceError);
});

test("promtool accepts the textfile", async (t) => {
  if (!hasCommand("promtool")) {
    t.skip("promtool not installed (Debian package prometheus)");
    return;
  }
  const dataDir = await tempDataDir(t);
  const metrics = new RunMetrics();
  for (const o of syntheticOutcomes()) metrics.observe(o);
  const file = await writeMetricsTextfile(dataDir, "events", metrics);
  const res = spawnSync("promtool", ["check", "metrics"], { input: await readFile(file), encoding: "utf8", timeout: 20_000 });
  assert.equal(res.status, 0, `promtool check metrics failed:\n${res.stdout}${res.stderr}`);

  // And promtool can fail: a counter without _total is a lint problem it reports.
  const bad = "# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n";
  const res2 = spawnSync("promtool", ["check", "metrics"], { input: bad, encoding: "utf8", timeout: 20_000 });
  assert.notEqual(res2.status, 0);
});

test("metrics pushed to a real Pushgateway come back from its /metrics, and a failing run keeps the last success", async (t) => {
  if (!hasCommand("prometheus-pushgateway")) {
    t.skip("prometheus-pushgateway not installed (Debian package prometheus-pushgateway)");
    return;
  }
  const url = await startPushgateway(t);
  const metrics = new RunMetrics();
  for (const o of syntheticOutcomes()) metrics.observe(o);
  await pushMetrics(url, "events", metrics);
  let s = parseExposition(await (await fetch(`${url}/metrics`)).text());
  assert.equal(value(s, "pipeline_records_processed_total", { job: "events", partition: "2026-11-03", status: "loaded" }), 990);
  assert.equal(value(s, "pipeline_http_retries_total", { job: "events" }), 4);
  assert.equal(value(s, "pipeline_processing_seconds_count", { job: "events", stage: "run" }), 3);
  const last = value(s, "pipeline_last_success_timestamp_seconds", { job: "events" });
  assert.ok(last !== undefined && last > 1e9);

  // A later run where nothing succeeded replaces the counters but not the last-success gauge.
  const failing = new RunMetrics();
  failing.observe(outcome({ dt: "2026-11-07", status: "failed", error: "x", durationMs: 5 }));
  await pushMetrics(`${url}/`, "events", failing);
  s = parseExposition(await (await fetch(`${url}/metrics`)).text());
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "failed" }), 1);
  assert.equal(value(s, "pipeline_partitions_total", { job: "events", outcome: "succeeded" }), undefined);
  assert.equal(value(s, "pipeline_last_success_timestamp_seconds", { job: "events" }), last);
});

test("a push to a gateway that is down or refuses fails with a SluiceError naming the URL", async (t) => {
  const port = await freePort();
  await assert.rejects(pushMetrics(`http://127.0.0.1:${port}`, "events", new RunMetrics()), (error: unknown) => {
    assert.ok(error instanceof SluiceError);
    assert.equal(error.context.url, `http://127.0.0.1:${port}/metrics/job/events`);
    assert.equal(error.transient, true);
    return true;
  });
  if (!hasCommand("prometheus-pushgateway")) return;
  // A gateway that answers with an error status: the real one answers 404 under an unknown path prefix.
  const url = await startPushgateway(t);
  await assert.rejects(pushMetrics(`${url}/nonexistent-prefix`, "events", new RunMetrics()), (error: unknown) => {
    assert.ok(error instanceof SluiceError);
    assert.match(error.message, /answered 404/);
    assert.match(String(error.context.url), /nonexistent-prefix\/metrics\/job\/events$/);
    return true;
  });
});

/** Starts prometheus-pushgateway on a free loopback port; killed when the test ends. */
async function startPushgateway(t: TestContext): Promise<string> {
  const port = await freePort();
  const child: ChildProcess = spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  t.after(() => {
    child.kill("SIGKILL");
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pushgateway exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) return url;
    if (Date.now() > deadline) throw new Error(`pushgateway did not answer on ${url} within 15 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The HTML run report: notebook cells, escaping, self-containment, lake charts, and real rendering in Chromium. */
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import pl from "nodejs-polars";
import { SluiceError } from "../src/core/errors.ts";
import { lakePartitionPath } from "../src/load/lake.ts";
import type { PartitionOutcome, StepRecord } from "../src/pipeline/index.ts";
import { eventsCharts } from "../jobs/events-charts.ts";
import eventsJob from "../jobs/events.ts";
import usersJob from "../jobs/users.ts";
import { RunObserver } from "../src/cli/observe.ts";
import { createLogger, silentLogger } from "../src/core/log.ts";
import type { JobDefinition } from "../src/pipeline/job.ts";
import { chartAssetPath, chartJs, jobCharts, lakeFiles, latestReport, renderRunReport, reportPath, shortDtype, writeRunReport, type ReportCharts } from "../src/report/index.ts";
import type { CheckResult } from "../src/validate/types.ts";
import { chromiumBinary, dumpDom } from "./support/chromium.ts";
import { tempDataDir } from "./support/dirs.ts";
import { eventStepSchema } from "./support/events.ts";

const EVIL = "<script>alert(1)</script>";

function checks(): Array<CheckResult & { dt: string }> {
  return [
    { check: "not_null", table: "events", columns: ["user_id"], severity: "error", action: "quarantine", passed: false, failingRows: 3, sample: [{ key: { event_id: "e-7" }, value: null }, { key: { event_id: EVIL }, value: EVIL }], dt: "2026-11-19" },
    { check: "unique", table: "events", columns: ["event_id"], severity: "error", action: "quarantine", passed: true, failingRows: 0, sample: [], dt: "2026-11-19" },
    { check: "accepted_values", table: "events", columns: ["event_type"], severity: "warn", action: "quarantine", passed: false, failingRows: 1, sample: [{ key: { event_id: "e-9" }, value: "teleport" }], dt: "2026-11-19" },
  ];
}

/** A realistic events run, with a malicious value in the first rows. */
function sampleOutcome(over: Partial<PartitionOutcome> = {}): PartitionOutcome {
  const eventSchema = eventStepSchema();
  const head = [
    { event_id: "e-1", user_id: 17, ts: "2026-11-19T00:00:03.000Z", event_type: "page_view", page: "/home", amount: null },
    { event_id: "e-2", user_id: 17, ts: "2026-11-19T00:00:09.000Z", event_type: "purchase", page: EVIL, amount: 19.99 },
  ];
  const cs = checks();
  const steps: StepRecord[] = [
    { name: "extract events", kind: "extract", ms: 1834.2, rows: 20004, schema: eventSchema, head, details: { pages: 21, requests: 24, retries: 3, resumed: false, drift: ["referrer"], statusCounts: { "200": 21, "429": 2, "503": 1 } } },
    { name: "validate events", kind: "validate", ms: 210, rows: 20000, schema: eventSchema, head, details: { results: cs, quarantined: 4 } },
    { name: "deduplicate events", kind: "transform", ms: 35, rows: 19990, schema: eventSchema, head, details: {} },
    {
      name: "sessionize: sessions",
      kind: "transform",
      ms: 410,
      rows: 2,
      schema: [["session_id", "DataType(String)"], ["duration_s", "DataType(Float64)"]],
      head: [{ session_id: "s-1", duration_s: 6 }, { session_id: "s-2", duration_s: 1830.5 }],
      details: {},
    },
    { name: "load", kind: "load", ms: 950, rows: 0, schema: [], head: [], details: { lakeMs: 120, warehouseMs: 830, partitions: ["events/dt=2026-11-19", "sessions/dt=2026-11-19"], inserted: 21990, updated: 12, deleted: 3 } },
  ];
  return {
    job: "events",
    dt: "2026-11-19",
    runId: "events-2026-11-19-abcd1234",
    status: "succeeded",
    rowsIn: 20004,
    rowsLoaded: 19990,
    rowsQuarantined: 4,
    failedChecks: 2,
    checks: cs,
    steps,
    durationMs: 3712,
    error: null,
    ...over,
  };
}

const CHARTS: ReportCharts = [{ title: "Events by event_type", kind: "hbar", labels: ["page_view", "</script><script>alert(2)</script>"], values: [15000, 4990] }];

interface Cell {
  index: number;
  kind: string;
  name: string;
  rows: number;
  html: string;
}

function cells(html: string): Cell[] {
  return [...html.matchAll(/<section class="cell" id="step-(\d+)" data-step-index="\d+" data-kind="([^"]+)" data-name="([^"]*)" data-rows="(\d+)">([\s\S]*?)<\/section>/g)].map((m) => ({
    index: Number(m[1]),
    kind: m[2] as string,
    name: unescape(m[3] as string),
    rows: Number(m[4]),
    html: m[5] as string,
  }));
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

function field(html: string, name: string): string | undefined {
  const m = new RegExp(`data-field="${name}">([\\s\\S]*?)</(?:dd|span|div)>`).exec(html);
  return m ? unescape(m[1] as string).trim() : undefined;
}

/** Rows of the first table with the given class, as arrays of cell text (tags stripped). */
function tableRows(html: string, cls: string): string[][] {
  const table = new RegExp(`<table class="${cls}">([\\s\\S]*?)</table>`).exec(html);
  assert.ok(table, `no table.${cls}`);
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table[1] as string)?.[1] ?? "";
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((r) => [...(r[1] as string).matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((c) => unescape((c[1] as string).replace(/<[^>]+>/g, "")).trim()));
}

function reportData(html: string): { charts: ReportCharts; job: string; dt: string } {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, "no report-data script");
  return JSON.parse(m[1] as string) as { charts: ReportCharts; job: string; dt: string };
}

test("the report has a header, then one cell per step in order with its counts, schema, first rows and facts", () => {
  const o = sampleOutcome();
  const html = renderRunReport(o, CHARTS, new Date("2026-11-20T06:00:00Z"));

  const header = /<header class="run"[\s\S]*?<\/header>/.exec(html)?.[0] ?? "";
  assert.match(header, /data-job="events" data-dt="2026-11-19" data-status="succeeded"/);
  assert.equal(field(header, "status"), "succeeded");
  assert.equal(field(header, "run-id"), "events-2026-11-19-abcd1234");
  assert.equal(field(header, "duration"), "3.7 s");
  assert.equal(field(header, "rows-in"), "20,004");
  assert.equal(field(header, "rows-loaded"), "19,990");
  assert.equal(field(header, "rows-quarantined"), "4");
  assert.equal(field(header, "failed-checks"), "2 of 3");
  assert.equal(field(header, "error"), undefined, "no error box on success");

  const cs = cells(html);
  assert.deepEqual(
    cs.map((c) => [c.index, c.kind, c.name, c.rows]),
    o.steps.map((s, i) => [i + 1, s.kind, s.name, s.rows]),
  );
  const [extract, validate, dedup, sessions, load] = cs as [Cell, Cell, Cell, Cell, Cell];
  assert.equal(field(extract.html, "rows"), "20,004 rows");
  assert.equal(field(extract.html, "ms"), "1.8 s");
  assert.equal(field(extract.html, "pages"), "21");
  assert.equal(field(extract.html, "requests"), "24");
  assert.equal(field(extract.html, "retries"), "3");
  assert.equal(field(extract.html, "resumed"), "no");
  assert.deepEqual([...extract.html.matchAll(/data-status="(\d+)">([^<]*)</g)].map((m) => m[2]), ["200: 21", "429: 2", "503: 1"]);
  assert.match(extract.html, /1 unknown field: <code>referrer<\/code>/);

  // dtypes read as Polars prints them; the full name stays in the title.
  assert.deepEqual(tableRows(extract.html, "schema-table"), [
    ["event_id", "str"],
    ["user_id", "i64"],
    ["ts", "datetime[μs, UTC]"],
    ["event_type", "str"],
    ["page", "str"],
    ["amount", "f64"],
  ]);
  assert.match(extract.html, /title="DataType\(Datetime\(us,UTC\)\)">datetime\[μs, UTC\]</);
  const head = tableRows(extract.html, "rows");
  assert.equal(head.length, 2);
  assert.deepEqual(head[0], ["e-1", "17", "2026-11-19T00:00:03.000Z", "page_view", "/home", "null"]);
  assert.deepEqual(head[1], ["e-2", "17", "2026-11-19T00:00:09.000Z", "purchase", EVIL, "19.99"]);

  // Validate: the check results table, failed checks marked, samples with their keys.
  assert.equal(field(validate.html, "quarantined"), "4");
  assert.equal(field(validate.html, "checks"), "1 passed, 2 failed");
  const checkRows = tableRows(validate.html, "checks");
  assert.deepEqual(
    checkRows.map((r) => r.slice(0, 6)),
    [
      ["not_null", "user_id", "error", "quarantine", "✗", "3"],
      ["unique", "event_id", "error", "quarantine", "✓", "0"],
      ["accepted_values", "event_type", "warn", "quarantine", "✗", "1"],
    ],
  );
  assert.equal(checkRows[2]?.[6], "teleport (event_id=e-9)");
  assert.match(checkRows[0]?.[6] ?? "", /^null \(event_id=e-7\)/);

  // Steps whose schema and first rows did not change fold them, pointing at the step they equal.
  assert.equal(/<details class="unchanged"/.test(extract.html), false);
  assert.match(validate.html, /<details class="unchanged" data-same-as="1"><summary>Schema \(6 columns\) and first rows unchanged from \[1\]/);
  assert.match(dedup.html, /data-same-as="2"/);
  assert.equal(tableRows(dedup.html, "schema-table").length, 6, "folded, not dropped");
  assert.equal(/<details class="unchanged"/.test(sessions.html), false);
  assert.deepEqual(tableRows(sessions.html, "rows"), [["s-1", "6"], ["s-2", "1830.5"]]);

  assert.equal(field(load.html, "inserted"), "21,990");
  assert.equal(field(load.html, "updated"), "12");
  assert.equal(field(load.html, "deleted"), "3");
  assert.deepEqual([...load.html.matchAll(/<li><code>([^<]*)<\/code><\/li>/g)].map((m) => m[1]), ["events/dt=2026-11-19", "sessions/dt=2026-11-19"]);

  // Charts: the step timings first, then the given charts; one canvas per chart, after the steps.
  const data = reportData(html);
  assert.equal(data.charts.length, 2);
  assert.deepEqual(data.charts[0]?.labels, o.steps.map((s, i) => `[${i + 1}] ${s.name}`));
  assert.deepEqual(data.charts[0]?.values, [1.834, 0.21, 0.035, 0.41, 0.95]);
  assert.deepEqual(data.charts[1], CHARTS[0]);
  assert.deepEqual([...html.matchAll(/<canvas id="chart-(\d+)"/g)].map((m) => m[1]), ["0", "1"]);
  assert.ok(html.indexOf('id="charts"') > html.indexOf('id="step-5"'));
});

test("dtypes are shortened the way Polars prints them", () => {
  assert.equal(shortDtype("DataType(Int64)"), "i64");
  assert.equal(shortDtype("DataType(Bool)"), "bool");
  assert.equal(shortDtype("DataType(Date)"), "date");
  assert.equal(shortDtype("DataType(Datetime(ms))"), "datetime[ms]");
  assert.equal(shortDtype('Datetime(Microseconds, Some("Europe/Paris"))'), "datetime[μs, Europe/Paris]");
  assert.equal(shortDtype("DataType(List(DataType(String)))"), "list[str]");
  assert.equal(shortDtype("Something(new)"), "Something(new)");
});

test("values from the data are HTML-escaped in rows, names, samples, errors and chart data", () => {
  const o = sampleOutcome({ status: "failed", error: `boom ${EVIL}`, steps: [{ ...(sampleOutcome().steps[0] as StepRecord), name: `extract ${EVIL}` }] });
  const html = renderRunReport(o, CHARTS);
  // The only <script> elements are the report's own three: data, Chart.js, the renderer.
  assert.equal([...html.matchAll(/<script[\s>]/gi)].length, 3);
  assert.equal(html.includes("alert(1)</script>"), false);
  assert.equal(html.includes("</script><script>alert(2)"), false, "chart labels cannot close the JSON script element");
  assert.ok(html.includes("\\u003c/script\\u003e\\u003cscript\\u003ealert(2)"), "chart labels are escaped inside the JSON");
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /<pre>boom &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/pre>/);
  assert.equal(cells(html)[0]?.name, `extract ${EVIL}`);
  // The JSON still round-trips to the original label.
  assert.equal(reportData(html).charts[1]?.labels[1], "</script><script>alert(2)</script>");
});

test("the report needs no network: its one script file is the data dir's Chart.js, by a relative path", () => {
  const html = renderRunReport(sampleOutcome(), CHARTS);
  assert.equal(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(html), false, "no src/href to a remote URL");
  assert.equal(/<link\b/i.test(html), false, "no <link> elements");
  assert.equal(/@import|url\(\s*["']?(?:https?:)?\/\//i.test(html), false, "no CSS imports of remote files");
  assert.deepEqual([...html.matchAll(/<script[^>]+\bsrc="([^"]*)"/gi)].map((m) => m[1]), ["../_assets/chart.umd.js"]);
  assert.equal(html.includes("sourceMappingURL"), false, "no source map to fetch");
  assert.ok(html.length < 60_000, `Chart.js is not inlined: ${html.length} bytes`);
  const asset = chartJs().toString("utf8");
  assert.ok(asset.length > 150_000 && asset.includes("Chart.js v4"), "the asset is Chart.js's UMD build");
  assert.equal(asset.includes("sourceMappingURL"), false, "the asset names no source map to fetch");
});

test("a run without steps or charts still renders its header, error and an empty charts cell, without Chart.js", () => {
  const html = renderRunReport(sampleOutcome({ status: "failed", steps: [], error: "could not reach the API", rowsIn: 0, rowsLoaded: 0 }), []);
  assert.equal(cells(html).length, 0);
  assert.match(html, /No step ran\./);
  assert.match(html, /No charts for this run\./);
  assert.match(html, /class="status status-failed" data-field="status">failed</);
  assert.ok(html.length < 50_000, "Chart.js is not inlined when nothing is drawn");
  assert.equal(/<script[^>]+\bsrc=/i.test(html), false, "nor loaded");
});

test("writeRunReport writes <dataDir>/reports/<job>/<dt>.html atomically and latestReport finds it", async (t) => {
  const dataDir = await tempDataDir(t);
  assert.equal(await latestReport(dataDir, "events"), null);
  const p1 = await writeRunReport(sampleOutcome({ dt: "2026-11-18" }), { dataDir });
  assert.equal(p1, path.join(dataDir, "reports", "events", "2026-11-18.html"));
  const p2 = await writeRunReport(sampleOutcome(), { dataDir, charts: CHARTS });
  const inode = (await stat(p2)).ino;
  const again = await writeRunReport(sampleOutcome({ status: "failed", error: "second run" }), { dataDir });
  assert.equal(again, p2);
  assert.notEqual((await stat(p2)).ino, inode, "replaced by rename, not rewritten in place");
  assert.match(await readFile(p2, "utf8"), /second run/);
  assert.deepEqual((await readdir(path.dirname(p2))).sort(), ["2026-11-18.html", "2026-11-19.html"], "no temp files left");
  assert.equal(await latestReport(dataDir, "events"), p2);
  assert.equal(await latestReport(dataDir, "events", "2026-11-18"), p1);
  assert.equal(await latestReport(dataDir, "events", "2026-11-17"), null);
  assert.equal(await latestReport(dataDir, "users"), null);
  assert.throws(() => reportPath(dataDir, "../x", "2026-11-18"));
  assert.throws(() => reportPath(dataDir, "events", "../../etc"));
});

test("two reports share one Chart.js in <dataDir>/reports/_assets, each report much smaller than Chart.js", async (t) => {
  const dataDir = await tempDataDir(t);
  const a = await writeRunReport(sampleOutcome(), { dataDir, charts: CHARTS });
  const asset = chartAssetPath(dataDir);
  assert.equal(asset, path.join(dataDir, "reports", "_assets", "chart.umd.js"));
  const written = await stat(asset);
  const b = await writeRunReport(sampleOutcome({ job: "users", dt: "2026-11-20" }), { dataDir, charts: CHARTS });
  assert.deepEqual((await readdir(path.join(dataDir, "reports"))).sort(), ["_assets", "events", "users"]);
  assert.deepEqual(await readdir(path.join(dataDir, "reports", "_assets")), ["chart.umd.js"], "one asset, no temp files");
  assert.deepEqual(await readFile(asset), chartJs());
  const again = await stat(asset);
  assert.equal(again.ino, written.ino, "an asset that matches is not rewritten");
  assert.equal(again.mtimeMs, written.mtimeMs);
  for (const file of [a, b]) {
    const html = await readFile(file, "utf8");
    const src = /<script src="([^"]+)"><\/script>/.exec(html)?.[1];
    assert.equal(src && path.resolve(path.dirname(file), src), asset, `${file} loads the shared asset`);
    assert.ok(html.length * 5 < written.size, `${file}: ${html.length} bytes vs Chart.js ${written.size}`);
  }
});

test("a Chart.js asset that differs (outdated or damaged) is replaced atomically by the next report", async (t) => {
  const dataDir = await tempDataDir(t);
  await writeRunReport(sampleOutcome(), { dataDir, charts: CHARTS });
  const asset = chartAssetPath(dataDir);
  await writeFile(asset, "/* Chart.js v3, truncated */");
  const damaged = (await stat(asset)).ino;
  await writeRunReport(sampleOutcome({ dt: "2026-11-20" }), { dataDir });
  assert.deepEqual(await readFile(asset), chartJs());
  assert.notEqual((await stat(asset)).ino, damaged, "replaced by rename, not rewritten in place");
  await rm(asset);
  await writeRunReport(sampleOutcome({ dt: "2026-11-21" }), { dataDir });
  assert.deepEqual(await readFile(asset), chartJs(), "a missing asset is written again");
});

test("the run observer draws the charts of the job it runs through the job's hook; a failing hook costs only those charts", async (t) => {
  const dataDir = await tempDataDir(t);
  const eventsFile = lakePartitionPath(dataDir, "events", "2026-11-19");
  await mkdir(path.dirname(eventsFile), { recursive: true });
  pl.DataFrame({ event_type: ["a"] }).writeParquet(eventsFile);
  const seen: string[] = [];
  const job = (charts: JobDefinition["charts"]): JobDefinition => ({ name: "events", description: "test", tables: [], run: async () => {}, ...(charts ? { charts } : {}) });
  const drawing = job(async ({ dt, lake }) => {
    seen.push(`${dt} ${await lake.partitionFile("events", dt)} ${await lake.partitionFile("sessions", dt)}`);
    return [{ title: "from the hook", kind: "line", labels: ["x", "y"], values: [1, 2] }];
  });
  const report = await new RunObserver(dataDir, drawing, silentLogger(), undefined).partition(sampleOutcome());
  assert.ok(report);
  assert.deepEqual(seen, [`2026-11-19 ${eventsFile} null`]);
  assert.deepEqual(reportData(await readFile(report, "utf8")).charts.map((c) => c.title), ["Time per step (seconds)", "from the hook"]);

  await new RunObserver(dataDir, drawing, silentLogger(), undefined).partition(sampleOutcome({ status: "failed", error: "boom" }));
  assert.equal(seen.length, 1, "no job charts for a run that did not succeed");

  const failing = job(async () => {
    throw new Error("no such column: nope");
  });
  const observer = new RunObserver(dataDir, failing, silentLogger(), undefined);
  const still = await observer.partition(sampleOutcome({ dt: "2026-11-20" }));
  assert.ok(still, "the report is written anyway");
  assert.deepEqual(reportData(await readFile(still, "utf8")).charts.map((c) => c.title), ["Time per step (seconds)"]);
  await observer.finish();
  assert.ok((await stat(path.join(dataDir, "metrics", "events.prom"))).isFile(), "metrics are named after the job");
});

test("charts started while the warehouse commits are the report's, drawn once; started ones that failed are drawn again, with the warning", async (t) => {
  const dataDir = await tempDataDir(t);
  let calls = 0;
  let failFirst = false;
  const job: JobDefinition = {
    name: "events",
    description: "test",
    tables: [],
    run: async () => {},
    charts: async ({ dt }) => {
      calls++;
      if (failFirst && calls === 1) throw new Error("the lake moved");
      return [{ title: `drawn for ${dt} (call ${calls})`, kind: "line", labels: ["x"], values: [1] }];
    },
  };
  const early = new RunObserver(dataDir, job, silentLogger(), undefined);
  early.startCharts("2026-11-19");
  const report = await early.partition(sampleOutcome());
  assert.ok(report);
  assert.equal(calls, 1, "the started charts are used, not drawn again");
  assert.deepEqual(reportData(await readFile(report, "utf8")).charts.map((c) => c.title), ["Time per step (seconds)", "drawn for 2026-11-19 (call 1)"]);

  calls = 0;
  failFirst = true;
  const warnings: string[] = [];
  const log = createLogger({ level: "warn", destination: { write: (line: string) => warnings.push(line) } });
  const retried = new RunObserver(dataDir, job, log, undefined);
  retried.startCharts("2026-11-19");
  const again = await retried.partition(sampleOutcome());
  assert.ok(again);
  assert.equal(calls, 2);
  assert.deepEqual(reportData(await readFile(again, "utf8")).charts.map((c) => c.title), ["Time per step (seconds)", "drawn for 2026-11-19 (call 2)"]);
  assert.deepEqual(warnings, [], "the early failure is not reported: the second drawing succeeded");
});

/** A small deterministic day of sessions and events, with values on the bucket edges. */
function lakeDay(dt: string): { starts: Date[]; durations: Array<number | null>; types: Array<string | null> } {
  const starts: Date[] = [];
  const durations: Array<number | null> = [];
  const edges = [0, 59.9, 60, 119.99, 120, 299, 300, 600, 899, 900, 1799, 1800, 3599, 3600, 7199.9, 7200, 86_000];
  for (let i = 0; i < 97; i++) {
    const hour = (i * 7) % 24;
    starts.push(new Date(`${dt}T${String(hour).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}:00Z`));
    durations.push(i === 13 ? null : (edges[i % edges.length] as number));
  }
  const kinds = ["page_view", "click", "add_to_cart", "purchase"];
  const types: Array<string | null> = [];
  for (let i = 0; i < 250; i++) types.push(i % 50 === 49 ? null : (kinds[(i * i) % 4] as string));
  return { starts, durations, types };
}

test("eventsCharts counts sessions per hour, durations and event types exactly like an independent count", async (t) => {
  const dataDir = await tempDataDir(t);
  const dt = "2026-11-19";
  const lake = lakeFiles(dataDir);
  assert.deepEqual(await eventsCharts({ dt, lake }), [], "no lake partitions: no charts");

  const { starts, durations, types } = lakeDay(dt);
  const sessionsFile = lakePartitionPath(dataDir, "sessions", dt);
  await mkdir(path.dirname(sessionsFile), { recursive: true });
  pl.DataFrame({ session_id: starts.map((_, i) => `s-${i}`), session_start: starts, duration_s: pl.Series("duration_s", durations, pl.Float64) })
    .withColumns(pl.col("session_start").cast(pl.Datetime("us", "UTC")))
    .writeParquet(sessionsFile);
  const eventsFile = lakePartitionPath(dataDir, "events", dt);
  await mkdir(path.dirname(eventsFile), { recursive: true });
  pl.DataFrame({ event_id: types.map((_, i) => `e-${i}`), event_type: pl.Series("event_type", types, pl.Utf8) }).writeParquet(eventsFile);

  const charts = await eventsCharts({ dt, lake });
  assert.deepEqual(charts.map((c) => c.kind), ["bar", "histogram", "hbar"]);
  const [perHour, duration, byType] = charts as [ReportCharts[number], ReportCharts[number], ReportCharts[number]];

  const expectedHours = new Array<number>(24).fill(0);
  for (const s of starts) expectedHours[s.getUTCHours()] = (expectedHours[s.getUTCHours()] ?? 0) + 1;
  assert.equal(perHour.labels.length, 24);
  assert.equal(perHour.labels[0], "00");
  assert.deepEqual(perHour.values, expectedHours);

  const upper = [1, 2, 5, 10, 15, 30, 60, 120, Infinity];
  const expectedDur = new Array<number>(upper.length).fill(0);
  for (const d of durations) {
    if (d === null) continue;
    const b = upper.findIndex((u) => d / 60 < u);
    expectedDur[b] = (expectedDur[b] ?? 0) + 1;
  }
  assert.deepEqual(duration.labels, ["<1", "1–2", "2–5", "5–10", "10–15", "15–30", "30–60", "60–120", "≥120"]);
  assert.deepEqual(duration.values, expectedDur);
  assert.equal(duration.values.reduce((a, b) => a + b, 0), 96, "the null duration is left out");

  const counts = new Map<string, number>();
  for (const ty of types) counts.set(ty ?? "(null)", (counts.get(ty ?? "(null)") ?? 0) + 1);
  const expectedTypes = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] === "(null)" ? 1 : b[0] === "(null)" ? -1 : a[0].localeCompare(b[0])));
  assert.deepEqual(byType.labels, expectedTypes.map(([k]) => k));
  assert.deepEqual(byType.values, expectedTypes.map(([, v]) => v));
});

test("the events job's charts hook draws what the lake has, and names the partition when a file is not what it expects", async (t) => {
  const dataDir = await tempDataDir(t);
  const dt = "2026-11-19";
  const eventsFile = lakePartitionPath(dataDir, "events", dt);
  await mkdir(path.dirname(eventsFile), { recursive: true });
  pl.DataFrame({ event_type: ["a", "b", "b"] }).writeParquet(eventsFile);
  assert.equal(await lakeFiles(dataDir).partitionFile("events", dt), eventsFile);
  assert.equal(await lakeFiles(dataDir).partitionFile("sessions", dt), null);
  const only = await jobCharts(eventsJob, dataDir, dt);
  assert.deepEqual(only.map((c) => [c.kind, c.labels, c.values]), [["hbar", ["b", "a"], [2, 1]]]);
  assert.deepEqual(await jobCharts(usersJob, dataDir, dt), [], "a job without a charts hook has no charts of its own");

  const sessionsFile = lakePartitionPath(dataDir, "sessions", dt);
  await mkdir(path.dirname(sessionsFile), { recursive: true });
  pl.DataFrame({ session_id: ["s"] }).writeParquet(sessionsFile);
  await assert.rejects(jobCharts(eventsJob, dataDir, dt), (error: unknown) => {
    assert.ok(error instanceof SluiceError);
    assert.equal(error.context.partition, dt);
    assert.match(error.message, /report charts of events 2026-11-19/);
    return true;
  });
});

test("headless Chromium draws every chart of the report", async (t) => {
  const bin = chromiumBinary();
  if (!bin) {
    t.skip("chromium not installed (Debian package chromium)");
    return;
  }
  const dataDir = await tempDataDir(t);
  const charts: ReportCharts = [
    ...CHARTS,
    { title: "Sessions per hour", kind: "bar", labels: Array.from({ length: 24 }, (_, h) => String(h)), values: Array.from({ length: 24 }, (_, h) => h * 3) },
    { title: "Duration", kind: "histogram", labels: ["<1", "1–2", "≥2"], values: [5, 3, 1] },
    { title: "Trend", kind: "line", labels: ["a", "b", "c", "d"], values: [1, 4, 2, 8] },
    { title: "events: volume (history)", kind: "history", labels: ["2026-11-17", "2026-11-18", "2026-11-19"], values: [2000, 2100, 1100], lower: 1400, upper: 2600, passed: false, skipped: false },
  ];
  const file = await writeRunReport(sampleOutcome(), { dataDir, charts });
  const dom = await dumpDom(bin, file);
  const canvases = [...dom.matchAll(/<canvas\b([^>]*)>/g)].map((m) => {
    const attrs: Record<string, string> = {};
    for (const a of (m[1] as string).matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1] as string] = a[2] as string;
    return attrs;
  });
  const expected = reportData(await readFile(file, "utf8")).charts;
  assert.equal(canvases.length, expected.length);
  canvases.forEach((c, i) => {
    assert.equal(c["id"], `chart-${i}`);
    assert.equal(c["data-rendered"], "true", `chart ${i} (${expected[i]?.title}) was not drawn: ${JSON.stringify(c)}`);
    assert.equal(Number(c["data-points"]), expected[i]?.labels.length, `chart ${i} drew one element per label`);
    assert.ok(Number(c["width"]) > 100 && Number(c["height"]) > 100, `chart ${i} has a real size: ${c["width"]}x${c["height"]}`);
  });
  // The injected script in the data never ran: it is still escaped text in the DOM.
  assert.equal(dom.includes("<script>alert(1)</script>"), false);
});

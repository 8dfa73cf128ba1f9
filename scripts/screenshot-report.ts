/**
 * Renders a realistic run report in headless Chromium and saves a screenshot (docs/report-screenshot.png).
 *
 *   npx tsx scripts/screenshot-report.ts [--out docs/report-screenshot.png] [--date 2026-11-19] [--height 2400] [--synthetic] [--keep]
 *
 * By default it runs the real pipeline (users, then events) against the in-process demo API into a
 * fresh data dir; when that cannot run or does not succeed, it falls back to a hand-built outcome
 * with realistic numbers and a synthetic lake day (say --synthetic to go there directly).
 */
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { lakePartitionPath } from "../src/load/lake.ts";
import type { PartitionOutcome, StepRecord } from "../src/pipeline/index.ts";
import { eventsCharts } from "../jobs/events-charts.ts";
import { lakeFiles, writeRunReport } from "../src/report/index.ts";
import type { CheckResult } from "../src/validate/types.ts";
import { seededRandom } from "../src/core/random.ts";
import { chromiumBinary, dumpDom, runChromium } from "../test/support/chromium.ts";
import { tempDir } from "../test/support/dirs.ts";
import { eventStepSchema, weightedEventTypes } from "../test/support/events.ts";
import { testRunSettings } from "../test/support/settings.ts";

interface Args {
  out: string;
  /** Minimum window height; the page's own height when taller. */
  height: number;
  dt: string;
  synthetic: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { out: "docs/report-screenshot.png", height: 2400, dt: "2026-11-19", synthetic: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") args.out = argv[++i] ?? args.out;
    else if (a === "--height") args.height = Number(argv[++i] ?? args.height);
    else if (a === "--date") args.dt = argv[++i] ?? args.dt;
    else if (a === "--synthetic") args.synthetic = true;
    else if (a === "--keep") args.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** Runs users then events for `dt` with the real pipeline and the demo API; null when it cannot. */
async function pipelineOutcome(dataDir: string, dt: string): Promise<PartitionOutcome | null> {
  try {
    const [{ get: getJob }, { runPartition }, { startDemoApi }, { createLogger }] = await Promise.all([
      Promise.all([import("../src/pipeline/job-catalog.ts"), import("../src/core/config.ts")]).then(([{ JobCatalog }, { BUILTIN_JOBS_DIR }]) => JobCatalog.load(BUILTIN_JOBS_DIR)),
      import("../src/pipeline/index.ts"),
      import("../src/demo-api/index.ts"),
      import("../src/core/log.ts"),
    ]);
    const api = await startDemoApi({});
    try {
      const settings = testRunSettings(dataDir, api.url, {}, { log: createLogger({ level: "warn", pretty: false }), env: { ...process.env, SLUICE_API_URL: api.url } });
      const users = await runPartition(getJob("users"), dt, settings);
      if (users.status !== "succeeded") console.error(`users ${dt}: ${users.status} ${users.error ?? ""}`);
      const events = await runPartition(getJob("events"), dt, settings);
      if (events.status !== "succeeded") {
        console.error(`events ${dt}: ${events.status}: ${events.error ?? ""}`);
        return null;
      }
      return events;
    } finally {
      await api.close();
    }
  } catch (error) {
    console.error(`the pipeline could not run: ${(error as Error).message}`);
    return null;
  }
}


/** A hand-built events outcome with realistic numbers, and a matching synthetic lake day for the charts. */
async function syntheticOutcome(dataDir: string, dt: string): Promise<PartitionOutcome> {
  const rand = seededRandom(42);
  const types = weightedEventTypes({ view_page: 4, add_to_cart: 1, login: 1, logout: 1, purchase: 1 });
  const pages = ["/", "/search", "/product/1842", "/product/77", "/cart", "/checkout", "/account"];
  const nEvents = 19_141;
  const eventTypes: string[] = [];
  for (let i = 0; i < nEvents; i++) eventTypes.push(types[Math.floor(rand() * types.length)] as string);
  // Sessions: a diurnal curve peaking in the evening (UTC), log-normal-ish durations.
  const starts: Date[] = [];
  const durations: number[] = [];
  const day = Date.parse(`${dt}T00:00:00Z`);
  for (let i = 0; i < 3_412; i++) {
    let hour: number;
    do hour = Math.floor(rand() * 24);
    while (rand() > 0.25 + 0.75 * Math.sin((Math.PI * Math.max(0, hour - 5)) / 19) ** 2);
    starts.push(new Date(day + hour * 3_600_000 + Math.floor(rand() * 3_600_000)));
    durations.push(rand() < 0.22 ? 0 : Math.round(Math.exp(4 + rand() * 4.2)));
  }
  const sessionsFile = lakePartitionPath(dataDir, "sessions", dt);
  await mkdir(path.dirname(sessionsFile), { recursive: true });
  pl.DataFrame({ session_start: starts, duration_s: durations }).withColumns(pl.col("session_start").cast(pl.Datetime("us", "UTC"))).writeParquet(sessionsFile);
  const eventsFile = lakePartitionPath(dataDir, "events", dt);
  await mkdir(path.dirname(eventsFile), { recursive: true });
  pl.DataFrame({ event_type: eventTypes }).writeParquet(eventsFile);

  const eventSchema = eventStepSchema();
  const head = Array.from({ length: 5 }, (_, i) => ({
    event_id: `evt_${dt.replaceAll("-", "")}_${String(i + 1).padStart(6, "0")}`,
    user_id: 1000 + Math.floor(rand() * 4000),
    ts: new Date(day + 4_000 * (i + 1) + Math.floor(rand() * 1000)).toISOString(),
    event_type: eventTypes[i] ?? "view_page",
    page: pages[Math.floor(rand() * pages.length)] ?? "/",
    amount: eventTypes[i] === "purchase" ? 49.9 : null,
  }));
  const eventChecks: CheckResult[] = [
    { check: "decodes", table: "events", columns: ["*"], severity: "error", action: "quarantine", passed: false, failingRows: 7, sample: [{ key: { _page: 4, _row: 311 }, value: '{"event_id": "evt_2026111…' }] },
    { check: "event_id: not_null", table: "events", columns: ["event_id"], severity: "error", action: "quarantine", passed: false, failingRows: 4, sample: [{ key: { _page: 9, _row: 12 }, value: null }] },
    { check: "event_id: unique", table: "events", columns: ["event_id"], severity: "warn", action: "quarantine", passed: true, failingRows: 0, sample: [] },
    { check: "user_id: greater than 0", table: "events", columns: ["user_id"], severity: "error", action: "quarantine", passed: false, failingRows: 2, sample: [{ key: { event_id: "evt_20261119_004417" }, value: -1 }, { key: { event_id: "evt_20261119_017002" }, value: 0 }] },
    { check: "ts: within the partition day", table: "events", columns: ["ts"], severity: "error", action: "quarantine", passed: false, failingRows: 1, sample: [{ key: { event_id: "evt_20261119_000031" }, value: "2026-11-18T23:59:58.120Z" }] },
    { check: "event_type: in login|view_page|add_to_cart|purchase|logout", table: "events", columns: ["event_type"], severity: "error", action: "quarantine", passed: false, failingRows: 1, sample: [{ key: { event_id: "evt_20261119_011930" }, value: "teleport" }] },
    { check: "events.user_id present in users", table: "events", columns: ["user_id"], severity: "warn", action: "quarantine", passed: true, failingRows: 0, sample: [] },
  ];
  const sessionChecks: CheckResult[] = [
    { check: "session_id: unique", table: "sessions", columns: ["session_id"], severity: "error", action: "block", passed: true, failingRows: 0, sample: [] },
    { check: "duration_s: between 0 and 86400", table: "sessions", columns: ["duration_s"], severity: "error", action: "quarantine", passed: true, failingRows: 0, sample: [] },
  ];
  const sessionSchema: Array<[string, string]> = [
    ["session_id", "DataType(String)"],
    ["user_id", "DataType(Int64)"],
    ["session_start", "DataType(Datetime(us,UTC))"],
    ["session_end", "DataType(Datetime(us,UTC))"],
    ["duration_s", "DataType(Float64)"],
    ["event_count", "DataType(Int32)"],
    ["primary_action", "DataType(String)"],
    ["has_purchase", "DataType(Bool)"],
    ["revenue", "DataType(Float64)"],
  ];
  const sessionHead = Array.from({ length: 5 }, (_, i) => {
    const start = starts[i] as Date;
    const d = durations[i] as number;
    return {
      session_id: `${1000 + i}-${start.getTime()}`,
      user_id: 1000 + i,
      session_start: start.toISOString(),
      session_end: new Date(start.getTime() + d * 1000).toISOString(),
      duration_s: d,
      event_count: 1 + Math.floor(d / 90),
      primary_action: i === 2 ? "purchase" : "view_page",
      has_purchase: i === 2,
      revenue: i === 2 ? 49.9 : 0,
    };
  });
  const steps: StepRecord[] = [
    { name: "extract events", kind: "extract", ms: 1199, rows: 19_159, schema: eventSchema, head, details: { pages: 20, requests: 22, retries: 2, resumed: false, drift: ["properties.coupon", "properties.referrer", "properties.utm"], statusCounts: { "200": 20, "429": 1, "503": 1 } } },
    { name: "validate events", kind: "validate", ms: 388, rows: nEvents, schema: eventSchema, head, details: { results: eventChecks, quarantined: 18 } },
    { name: "deduplicate events", kind: "transform", ms: 21, rows: nEvents - 12, schema: eventSchema, head, details: {} },
    { name: "sessionize: events", kind: "transform", ms: 164, rows: nEvents - 12, schema: [...eventSchema, ["session_id", "DataType(String)"], ["dt", "DataType(Date)"]], head: head.map((r) => ({ ...r, session_id: `${r.user_id}-${Date.parse(r.ts)}`, dt })), details: {} },
    { name: "sessionize: sessions", kind: "transform", ms: 164, rows: starts.length, schema: sessionSchema, head: sessionHead, details: {} },
    { name: "validate sessions", kind: "validate", ms: 42, rows: starts.length, schema: sessionSchema, head: sessionHead, details: { results: sessionChecks, quarantined: 0 } },
    { name: "load", kind: "load", ms: 611, rows: 0, schema: [], head: [], details: { lakeMs: 97, warehouseMs: 514, partitions: [`events/dt=${dt}`, `sessions/dt=${dt}`], inserted: nEvents - 12 + starts.length, updated: 0, deleted: 0 } },
  ];
  const checks = [...eventChecks, ...sessionChecks].map((c) => ({ ...c, dt }));
  return {
    job: "events",
    dt,
    runId: `events-${dt}-7ca0e795`,
    status: "succeeded",
    rowsIn: 19_159,
    rowsLoaded: nEvents - 12,
    rowsQuarantined: 18,
    failedChecks: checks.filter((c) => !c.passed).length,
    checks,
    steps,
    durationMs: 2_734,
    error: null,
  };
}

function chromium(): string {
  const bin = chromiumBinary();
  if (!bin) throw new Error("chromium is not installed (apt-get install -y chromium)");
  return bin;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dataDir = await tempDir("sluice-shot-");
  try {
    let outcome = args.synthetic ? null : await pipelineOutcome(dataDir, args.dt);
    let source = "the pipeline (demo API)";
    if (!outcome) {
      source = "a hand-built outcome";
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(dataDir, { recursive: true });
      outcome = await syntheticOutcome(dataDir, args.dt);
    }
    const charts = await eventsCharts({ dt: args.dt, lake: lakeFiles(dataDir) });
    const report = await writeRunReport(outcome, { dataDir, charts });
    const out = path.resolve(args.out);
    await mkdir(path.dirname(out), { recursive: true });
    const t0 = performance.now();
    // --screenshot captures the window only: size it to the whole page (at least 1280x2400), as
    // measured by the report's own script (data-height) in a --dump-dom pass.
    const dom = await dumpDom(chromium(), report, { height: 2400, flags: ["--hide-scrollbars"] });
    const measured = Number(/<html[^>]*\bdata-height="(\d+)"/.exec(dom)?.[1] ?? 0);
    const height = Math.max(args.height, Math.min(measured, 16_000));
    const res = await runChromium(chromium(), ["--hide-scrollbars", `--screenshot=${out}`, `--window-size=1280,${height}`, `file://${report}`]);
    if (res.code !== 0) throw new Error(`chromium failed (${res.code}): ${res.stderr}`);
    const size = (await stat(out)).size;
    console.log(`report from ${source}: ${report}`);
    console.log(`screenshot: ${out} (1280x${height}, page ${measured || "?"} px high, ${Math.round(size / 1024)} KiB, chromium ${Math.round(performance.now() - t0)} ms for both passes)`);
  } finally {
    if (!args.keep) await rm(dataDir, { recursive: true, force: true });
    else console.log(`data dir kept: ${dataDir}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});

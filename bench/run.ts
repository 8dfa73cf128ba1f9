/**
 * The benchmark: Sluice against what users would otherwise do, measured in ONE run on the same
 * machine (a shared, noisy one: approaches alternate, repeat, and ratios are taken per repeat).
 *
 *   (1) sluice   `sluice run events` end to end, its own process, fresh data dir
 *   (2) duckdb   the same day with DuckDB alone (bench/reference-duckdb.ts)
 *   (3) tutorial zod safeParse + one upsert per row (bench/tutorial.ts) on the first M records
 *   (4) sluice at 4N events, once (cost should grow linearly, memory stay nearly flat)
 *   (5) with --ten-x: sluice and duckdb at 10N events, once each (memory flat, time linear, same work)
 *   (6) with --latency-ms L: sluice against an API answering each page after L ms, and the plain
 *       sequential download of the same pages to files (processing should overlap the fetching),
 *       in R back-to-back pairs
 *
 * Run: npm run bench [-- --events N --repeat R --sample M --skip-4x --ten-x --latency-ms L --port P]
 * See bench/README.md for what is measured and how to read bench/results/*.json.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { warehousePath } from "../src/load/warehouse.ts";
import { tempDir } from "../test/support/dirs.ts";
import { freePort } from "../test/support/net.ts";
import { cleanEnv } from "../test/support/sluice.ts";
import {
  formatTable,
  gitShortSha,
  hasGnuTime,
  machineInfo,
  median,
  medianOrNull,
  parseLogLines,
  ratio,
  rssByPhase,
  round,
  runMeasured,
  stageTimings,
  waitForHttp,
  type Measured,
  type PhaseRss,
  type StageTimings,
} from "./lib.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DATE = "2026-11-20";
const GIB_MIB = 1024;
const PROCESS_TIMEOUT_MS = 60 * 60_000;

/** Targets printed next to the ratios. */
const TARGETS = {
  sluiceVsDuckdbTime: 1.0,
  sluiceVsDuckdbTimeStretch: 0.8,
  sluiceVsTutorialRowsPerSec: 30,
  peakRssMiB: GIB_MIB,
  fourXTime: 4.5,
  tenXTime: 10.5,
  tenXRss: 1.3,
  latency: 1.15,
};

interface Options {
  events: number;
  repeat: number;
  sample: number;
  skip4x: boolean;
  tenX: boolean;
  latencyMs: number;
  port: number;
  tutorialSeconds: number;
  profile: boolean;
  keep: boolean;
  only: ReadonlySet<Approach>;
}

type Approach = "sluice" | "duckdb" | "tutorial";
const APPROACHES: readonly Approach[] = ["sluice", "duckdb", "tutorial"];

/** Equivalence facts of a warehouse (computed by the same SQL on both warehouses). */
interface Fingerprint {
  events: number;
  distinctEventIds: number;
  sessions: number;
  quarantined: number;
  eventsHash: string;
  sessionsHash: string;
  revenue: number;
}

interface SluiceRun {
  wallMs: number;
  peakRssMiB: number | null;
  stages: StageTimings;
  rowsIn: number | null;
  fingerprint: Fingerprint;
  /** Max RSS per phase of the run (from /proc samples split by the log lines). */
  rssPhases: PhaseRss[];
}

interface ReferenceRun {
  wallMs: number;
  peakRssMiB: number | null;
  phases: Record<string, number>;
  records: number;
  fingerprint: Fingerprint;
}

interface TutorialRun {
  wallMs: number;
  /** The script's own time from first request to last upsert (no process start-up). */
  workMs: number;
  peakRssMiB: number | null;
  records: number;
  valid: number;
  budgetHit: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: "string", default: "1000000" },
      repeat: { type: "string", default: "3" },
      sample: { type: "string", default: "100000" },
      "skip-4x": { type: "boolean", default: false },
      "ten-x": { type: "boolean", default: false },
      "latency-ms": { type: "string", default: "0" },
      port: { type: "string", default: "0" },
      "tutorial-seconds": { type: "string", default: "20" },
      profile: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      only: { type: "string", default: APPROACHES.join(",") },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      [
        "npm run bench -- [options]",
        "  --events N            events per day (default 1000000)",
        "  --repeat R            alternating repeats of (1) (2) (3) (default 3)",
        "  --sample M            records for the tutorial approach (default 100000)",
        "  --tutorial-seconds S  time budget of one tutorial run, 0 = none (default 20)",
        "  --skip-4x             skip the 4N run",
        "  --ten-x               add the 10N point: sluice and duckdb once each at 10N events",
        "  --latency-ms L        add the latency point: sluice vs the plain download against an API answering after L ms",
        "  --port P              demo API port (default: a free one)",
        "  --profile             one extra --cpu-prof run of (1), prints the top functions",
        "  --keep                keep the work directories",
        "  --only LIST           approaches to run, comma-separated (default sluice,duckdb,tutorial)",
        "",
      ].join("\n"),
    );
    process.exit(0);
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v.replaceAll("_", "").replaceAll(",", ""));
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got "${v}"`);
    return n;
  };
  return {
    events: int("events", values.events, 1),
    repeat: int("repeat", values.repeat, 1),
    sample: int("sample", values.sample, 1),
    skip4x: values["skip-4x"],
    tenX: values["ten-x"],
    latencyMs: int("latency-ms", values["latency-ms"], 0),
    port: int("port", values.port, 0),
    tutorialSeconds: int("tutorial-seconds", values["tutorial-seconds"], 0),
    profile: values.profile,
    keep: values.keep,
    only: new Set(
      values.only.split(",").map((a) => {
        const name = a.trim() as Approach;
        if (!APPROACHES.includes(name)) throw new Error(`--only: unknown approach "${a}" (known: ${APPROACHES.join(", ")})`);
        return name;
      }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Demo API

interface Api {
  url: string;
  records: number;
  pages: number;
  child: ChildProcess;
}

/** Starts the demo API as its own process and fetches the whole day once (generation is not timed). */
async function startApi(eventsPerDay: number, port: number, latencyMs = 0): Promise<Api> {
  const p = port || (await freePort());
  const args = ["demo-api", "--port", String(p), "--events-per-day", String(eventsPerDay), "--seed", "1", "--latency-ms", String(latencyMs)];
  const child = spawn(process.execPath, [path.join(ROOT, "bin/sluice.mjs"), ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(-4000)));
  const url = `http://127.0.0.1:${p}`;
  try {
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`demo API exited (${code}): ${stderr}`))));
    await Promise.race([waitForHttp(`${url}/v1/users?offset=0&limit=1`, 60_000), exited]);
    const t0 = performance.now();
    const { records, pages } = await fetchDay(url);
    const latency = latencyMs > 0 ? `, ${latencyMs} ms latency` : "";
    process.stderr.write(`demo API ${url}: ${eventsPerDay} events/day${latency}, ${DATE} served as ${records} records in ${pages} pages (warm-up ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    return { url, records, pages, child };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/** Fetches every page of the day once; counts records and pages. */
async function fetchDay(url: string): Promise<{ records: number; pages: number }> {
  let cursor: string | null = null;
  let records = 0;
  let pages = 0;
  do {
    const u = new URL("/v1/events", url);
    u.searchParams.set("start", `${DATE}T00:00:00Z`);
    u.searchParams.set("end", `${nextDay(DATE)}T00:00:00Z`);
    u.searchParams.set("limit", "1000");
    if (cursor) u.searchParams.set("cursor", cursor);
    const res = await fetch(u);
    if (!res.ok) throw new Error(`warm-up GET ${u} -> ${res.status}`);
    const body = (await res.json()) as { data: unknown[]; next_cursor: string | null };
    records += body.data.length;
    pages++;
    cursor = body.next_cursor;
  } while (cursor);
  return { records, pages };
}

async function stopApi(api: Api): Promise<void> {
  if (api.child.exitCode !== null || api.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => api.child.once("exit", () => resolve()));
  api.child.kill("SIGTERM");
  const timer = setTimeout(() => api.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function nextDay(dt: string): string {
  return new Date(Date.parse(`${dt}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// The approaches

function failure(what: string, m: Measured): Error {
  const tail = m.stderr.split("\n").filter(Boolean).slice(-15).join("\n");
  return new Error(`${what} failed (exit ${m.exitCode ?? m.signal}):\n${tail}\n${m.stdout.slice(-2000)}`);
}

async function runSluice(api: Api, workRoot: string, label: string, extraNodeArgs: string[] = []): Promise<SluiceRun & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(workRoot, `sluice-${label}-`));
  const m = await runMeasured(
    process.execPath,
    [...extraNodeArgs, path.join(ROOT, "bin/sluice.mjs"), "run", "events", "--date", DATE, "--api-url", api.url, "--data-dir", dataDir, "--log-level", "info"],
    { cwd: ROOT, env: cleanEnv(), timeoutMs: PROCESS_TIMEOUT_MS, rssTimeline: true },
  );
  if (m.exitCode !== 0) throw failure(`sluice run (${label})`, m);
  const lines = parseLogLines(m.stderr);
  const stages = stageTimings(lines);
  const done = lines.find((l) => l.stage === "run" && typeof l.msg === "string" && l.msg.startsWith("run succeeded"));
  const rowsIn = typeof done?.["rows_in"] === "number" ? done["rows_in"] : null;
  const fingerprint = await fingerprintOf(warehousePath(dataDir), "sluice.quarantine WHERE job = 'events' AND table_name = 'events'");
  return { wallMs: m.wallMs, peakRssMiB: m.peakRssMiB, stages, rowsIn, fingerprint, dataDir, rssPhases: rssByPhase(lines, m.rssSamples) };
}

async function runReference(api: Api, workRoot: string, label: string): Promise<ReferenceRun> {
  const workDir = await mkdtemp(path.join(workRoot, `duckdb-${label}-`));
  const m = await runMeasured(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "bench/reference-duckdb.ts"), "--api-url", api.url, "--date", DATE, "--work-dir", workDir],
    { cwd: ROOT, env: cleanEnv(), timeoutMs: PROCESS_TIMEOUT_MS },
  );
  if (m.exitCode !== 0) throw failure(`DuckDB reference (${label})`, m);
  const summary = lastJsonLine(m.stdout) as { records: number; ms: Record<string, number> };
  const fingerprint = await fingerprintOf(path.join(workDir, "warehouse.duckdb"), "quarantine");
  await cleanup(workDir);
  return { wallMs: m.wallMs, peakRssMiB: m.peakRssMiB, phases: summary.ms, records: summary.records, fingerprint };
}

async function runTutorial(api: Api, workRoot: string, label: string, opts: Options): Promise<TutorialRun> {
  const workDir = await mkdtemp(path.join(workRoot, `tutorial-${label}-`));
  const m = await runMeasured(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(ROOT, "bench/tutorial.ts"),
      "--api-url",
      api.url,
      "--date",
      DATE,
      "--work-dir",
      workDir,
      "--sample",
      String(opts.sample),
      "--max-seconds",
      String(opts.tutorialSeconds),
    ],
    { cwd: ROOT, env: cleanEnv(), timeoutMs: PROCESS_TIMEOUT_MS },
  );
  if (m.exitCode !== 0) throw failure(`tutorial (${label})`, m);
  const s = lastJsonLine(m.stdout) as { records: number; valid: number; budgetHit: boolean; ms: { total: number } };
  await cleanup(workDir);
  return { wallMs: m.wallMs, workMs: s.ms.total, peakRssMiB: m.peakRssMiB, records: s.records, valid: s.valid, budgetHit: s.budgetHit };
}

function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as unknown;
}

let keepDirs = false;
async function cleanup(dir: string): Promise<void> {
  if (!keepDirs) await rm(dir, { recursive: true, force: true });
}

/** The same SQL on both warehouses: counts and order-independent hashes of every loaded value. */
async function fingerprintOf(dbFile: string, quarantineFrom: string): Promise<Fingerprint> {
  const instance = await DuckDBInstance.create(dbFile, { access_mode: "READ_ONLY" });
  const conn = await instance.connect();
  try {
    const r = await conn.runAndReadAll(`
      SELECT
        (SELECT count(*) FROM events),
        (SELECT count(DISTINCT event_id) FROM events),
        (SELECT CAST(bit_xor(hash(event_id, session_id, user_id, epoch_us(ts), event_type, page, amount, dt)) AS VARCHAR) FROM events),
        (SELECT count(*) FROM sessions),
        (SELECT CAST(bit_xor(hash(session_id, user_id, epoch_us(session_start), epoch_us(session_end), event_count,
           first_event_type, last_event_type, primary_action, has_purchase, round(revenue, 2), dt)) AS VARCHAR) FROM sessions),
        (SELECT round(sum(revenue), 2) FROM sessions),
        (SELECT count(*) FROM ${quarantineFrom})`);
    const row = r.getRows()[0] ?? [];
    return {
      events: Number(row[0]),
      distinctEventIds: Number(row[1]),
      eventsHash: String(row[2]),
      sessions: Number(row[3]),
      sessionsHash: String(row[4]),
      revenue: Number(row[5]),
      quarantined: Number(row[6]),
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function sameWork(a: Fingerprint, b: Fingerprint): string[] {
  const diffs: string[] = [];
  for (const k of Object.keys(a) as Array<keyof Fingerprint>) if (a[k] !== b[k]) diffs.push(`${k}: sluice ${a[k]} vs duckdb ${b[k]}`);
  return diffs;
}

// ---------------------------------------------------------------------------------------------
// CPU profile

/** Top functions by self time of a .cpuprofile (Chrome DevTools format written by --cpu-prof). */
async function topFunctions(profileFile: string, n: number): Promise<Array<{ fn: string; selfMs: number; pct: number }>> {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  const prof = JSON.parse(await readFile(profileFile, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const cf = byId.get(id)?.callFrame;
    const key = cf ? `${cf.functionName || "(anonymous)"} ${cf.url.replace(`file://${ROOT}/`, "").replace(/^.*node_modules\//, "")}:${cf.lineNumber + 1}` : "?";
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, ms]) => ({ fn, selfMs: round(ms, 0), pct: round((100 * ms) / total, 1) }));
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  keepDirs = opts.keep;
  const machine = machineInfo();
  const sha = gitShortSha(ROOT);
  if (!hasGnuTime()) process.stderr.write("note: /usr/bin/time not found; peak RSS is polled from /proc/<pid>/status VmHWM (apt-get install -y time for GNU time)\n");
  process.stderr.write(`bench: ${opts.events} events, ${opts.repeat} repeat(s), tutorial sample ${opts.sample}; ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}\n`);
  const workRoot = await tempDir("sluice-bench-");
  const apis: Api[] = [];
  const onSignal = () => {
    for (const a of apis) a.child.kill("SIGKILL");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    // The first command after the engine's sources change builds its bundle (bin/engine-bundle.mjs, ~0.5 s once): not a run's cost.
    await runMeasured(process.execPath, [path.join(ROOT, "bin/sluice.mjs"), "--help"], { cwd: ROOT, env: cleanEnv(), timeoutMs: PROCESS_TIMEOUT_MS });
    const api = await startApi(opts.events, opts.port);
    apis.push(api);
    const sluice: SluiceRun[] = [];
    const duckdb: ReferenceRun[] = [];
    const tutorial: TutorialRun[] = [];
    const order = APPROACHES.filter((a) => opts.only.has(a));
    for (let r = 0; r < opts.repeat; r++) {
      // Rotate the order every repeat so no approach always runs first (or right after another).
      for (let k = 0; k < order.length; k++) {
        const which = order[(k + r) % order.length]!;
        const label = `r${r + 1}`;
        if (which === "sluice") {
          const run = await runSluice(api, workRoot, label);
          await cleanup(run.dataDir);
          sluice.push(run);
          process.stderr.write(`  [${label}] sluice   ${(run.wallMs / 1000).toFixed(2)} s, peak RSS ${run.peakRssMiB?.toFixed(0)} MiB\n`);
        } else if (which === "duckdb") {
          const run = await runReference(api, workRoot, label);
          duckdb.push(run);
          process.stderr.write(`  [${label}] duckdb   ${(run.wallMs / 1000).toFixed(2)} s, peak RSS ${run.peakRssMiB?.toFixed(0)} MiB\n`);
        } else {
          const run = await runTutorial(api, workRoot, label, opts);
          tutorial.push(run);
          process.stderr.write(`  [${label}] tutorial ${(run.wallMs / 1000).toFixed(2)} s for ${run.records} records${run.budgetHit ? " (time budget hit)" : ""}\n`);
        }
      }
    }

    let profile: Array<{ fn: string; selfMs: number; pct: number }> | null = null;
    if (opts.profile && opts.only.has("sluice")) {
      const profDir = path.join(workRoot, "cpu-prof");
      await mkdir(profDir, { recursive: true });
      const run = await runSluice(api, workRoot, "profile", ["--cpu-prof", "--cpu-prof-dir", profDir]);
      await cleanup(run.dataDir);
      const files = (await readdir(profDir)).filter((f) => f.endsWith(".cpuprofile"));
      // The main thread's profile is the largest (tsx's loader thread writes a small one).
      let best: { file: string; size: number } | null = null;
      for (const f of files) {
        const size = (await readFile(path.join(profDir, f))).length;
        if (!best || size > best.size) best = { file: f, size };
      }
      if (best) profile = await topFunctions(path.join(profDir, best.file), 20);
    }

    await stopApi(api);
    let fourX: (SluiceRun & { records: number }) | null = null;
    if (!opts.skip4x && opts.only.has("sluice")) {
      const api4 = await startApi(opts.events * 4, opts.port);
      apis.push(api4);
      const run = await runSluice(api4, workRoot, "4x");
      await cleanup(run.dataDir);
      fourX = { ...run, records: api4.records };
      process.stderr.write(`  [4x] sluice   ${(run.wallMs / 1000).toFixed(2)} s, peak RSS ${run.peakRssMiB?.toFixed(0)} MiB\n`);
      await stopApi(api4);
    }
    const tenX = opts.tenX && opts.only.has("sluice") ? await runTenX(opts, workRoot, apis) : null;
    const latency = opts.latencyMs > 0 && opts.only.has("sluice") ? await runLatency(opts, workRoot, apis) : null;

    await report({ opts, machine, sha, api, sluice, duckdb, tutorial, fourX, tenX, latency, profile });
  } finally {
    for (const a of apis) await stopApi(a);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (!opts.keep) await rm(workRoot, { recursive: true, force: true });
    else process.stderr.write(`work directories kept in ${workRoot}\n`);
  }
}

/** The 10N point: one run of (1) and one of (2) against a demo API serving 10N events a day. */
interface TenXPoint {
  records: number;
  pages: number;
  sluice: SluiceRun;
  duckdb: ReferenceRun | null;
}

async function runTenX(opts: Options, workRoot: string, apis: Api[]): Promise<TenXPoint> {
  const api = await startApi(opts.events * 10, opts.port);
  apis.push(api);
  try {
    const sluice = await runSluice(api, workRoot, "10x");
    await cleanup(sluice.dataDir);
    process.stderr.write(`  [10x] sluice  ${(sluice.wallMs / 1000).toFixed(2)} s, peak RSS ${sluice.peakRssMiB?.toFixed(0)} MiB\n`);
    const duckdb = opts.only.has("duckdb") ? await runReference(api, workRoot, "10x") : null;
    if (duckdb) process.stderr.write(`  [10x] duckdb  ${(duckdb.wallMs / 1000).toFixed(2)} s, peak RSS ${duckdb.peakRssMiB?.toFixed(0)} MiB\n`);
    return { records: api.records, pages: api.pages, sluice, duckdb };
  } finally {
    await stopApi(api);
  }
}

/**
 * The latency point: (1) and the plain sequential download of the same pages, against a demo API
 * with latency, in --repeat back-to-back pairs (a pair's ratio is taken in one stretch of the
 * machine's speed; the point is their median).
 */
interface LatencyPoint {
  latencyMs: number;
  pages: number;
  pairs: Array<{ sluice: SluiceRun; download: { wallMs: number; workMs: number } }>;
  /** The pair of the median ratio. */
  sluice: SluiceRun;
  download: { wallMs: number; workMs: number };
  ratio: number;
}

async function runLatency(opts: Options, workRoot: string, apis: Api[]): Promise<LatencyPoint> {
  const api = await startApi(opts.events, opts.port, opts.latencyMs);
  apis.push(api);
  try {
    const pairs: LatencyPoint["pairs"] = [];
    for (let i = 0; i < opts.repeat; i++) {
      const download = await runDownload(api, workRoot);
      process.stderr.write(`  [latency ${i + 1}/${opts.repeat}] download ${(download.wallMs / 1000).toFixed(2)} s\n`);
      const sluice = await runSluice(api, workRoot, "latency");
      await cleanup(sluice.dataDir);
      process.stderr.write(`  [latency ${i + 1}/${opts.repeat}] sluice   ${(sluice.wallMs / 1000).toFixed(2)} s, peak RSS ${sluice.peakRssMiB?.toFixed(0)} MiB\n`);
      pairs.push({ sluice, download });
    }
    const byRatio = [...pairs].sort((a, b) => a.sluice.wallMs / a.download.wallMs - b.sluice.wallMs / b.download.wallMs);
    const mid = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
    return { latencyMs: opts.latencyMs, pages: api.pages, pairs, ...mid, ratio: median(pairs.map((p) => p.sluice.wallMs / p.download.wallMs)) };
  } finally {
    await stopApi(api);
  }
}

async function runDownload(api: Api, workRoot: string): Promise<{ wallMs: number; workMs: number }> {
  const workDir = await mkdtemp(path.join(workRoot, "download-"));
  const m = await runMeasured(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/download.ts"), "--api-url", api.url, "--date", DATE, "--work-dir", workDir], { cwd: ROOT, env: cleanEnv(), timeoutMs: PROCESS_TIMEOUT_MS });
  if (m.exitCode !== 0) throw failure("plain download", m);
  const summary = lastJsonLine(m.stdout) as { ms: number };
  await cleanup(workDir);
  return { wallMs: m.wallMs, workMs: summary.ms };
}

interface ReportInput {
  opts: Options;
  machine: ReturnType<typeof machineInfo>;
  sha: string;
  api: Api;
  sluice: SluiceRun[];
  duckdb: ReferenceRun[];
  tutorial: TutorialRun[];
  fourX: (SluiceRun & { records: number }) | null;
  tenX: TenXPoint | null;
  latency: LatencyPoint | null;
  profile: Array<{ fn: string; selfMs: number; pct: number }> | null;
}

function passMiss(ok: boolean | null): string {
  return ok === null ? "n/a" : ok ? "PASS" : "MISS";
}

async function report(x: ReportInput): Promise<void> {
  const records = x.api.records;
  const s = (ms: number) => round(ms / 1000, 2);
  const sluiceWall = median(x.sluice.map((r) => r.wallMs));
  const duckdbWall = median(x.duckdb.map((r) => r.wallMs));
  // (3) gets its best case: rows over its own working time, without process start-up.
  const tutorialRps = median(x.tutorial.map((r) => r.records / (r.workMs / 1000)));
  const sluiceRps = records / (sluiceWall / 1000);
  const duckdbRps = x.duckdb.length ? median(x.duckdb.map((r) => r.records)) / (duckdbWall / 1000) : Number.NaN;
  const sluiceRss = medianOrNull(x.sluice.map((r) => r.peakRssMiB));
  const duckdbRss = medianOrNull(x.duckdb.map((r) => r.peakRssMiB));
  const tutorialRss = medianOrNull(x.tutorial.map((r) => r.peakRssMiB));

  // Ratios per repeat (the runs of one repeat ran back to back), then the median.
  const timeRatio = median(x.sluice.map((r, i) => r.wallMs / (x.duckdb[i]?.wallMs ?? Number.NaN)).filter(Number.isFinite));
  const rpsRatio = median(
    x.sluice.map((r, i) => {
      const t = x.tutorial[i];
      return t ? records / (r.wallMs / 1000) / (t.records / (t.workMs / 1000)) : Number.NaN;
    }).filter(Number.isFinite),
  );
  const fourXRatio = x.fourX ? x.fourX.wallMs / sluiceWall : null;
  const tenXRss = x.tenX?.sluice.peakRssMiB ?? null;
  const rssOk = sluiceRss === null ? null : [sluiceRss, x.fourX?.peakRssMiB ?? 0, tenXRss ?? 0].every((v) => v <= TARGETS.peakRssMiB);
  const tenXTime = x.tenX ? x.tenX.sluice.wallMs / sluiceWall : null;
  const tenXRssRatio = tenXRss !== null && sluiceRss !== null ? tenXRss / sluiceRss : null;
  const latencyRatio = x.latency ? x.latency.ratio : null;

  const rows: Array<Array<string | number | null>> = [];
  const mib = (v: number | null) => (v === null ? null : Math.round(v));
  if (x.sluice.length) rows.push(["(1) sluice run events", x.sluice.length, s(sluiceWall), records, Math.round(sluiceRps), mib(sluiceRss)]);
  if (x.duckdb.length) rows.push(["(2) duckdb script", x.duckdb.length, s(duckdbWall), median(x.duckdb.map((r) => r.records)), Math.round(duckdbRps), mib(duckdbRss)]);
  if (x.tutorial.length) {
    rows.push(["(3) tutorial (zod + upsert/row)", x.tutorial.length, s(median(x.tutorial.map((r) => r.wallMs))), median(x.tutorial.map((r) => r.records)), Math.round(tutorialRps), mib(tutorialRss)]);
  }
  if (x.fourX) rows.push(["(1) sluice at 4N", 1, s(x.fourX.wallMs), x.fourX.records, Math.round(x.fourX.records / (x.fourX.wallMs / 1000)), x.fourX.peakRssMiB === null ? null : Math.round(x.fourX.peakRssMiB)]);
  if (x.tenX) {
    const t = x.tenX;
    rows.push(["(1) sluice at 10N", 1, s(t.sluice.wallMs), t.records, Math.round(t.records / (t.sluice.wallMs / 1000)), mib(t.sluice.peakRssMiB)]);
    if (t.duckdb) rows.push(["(2) duckdb script at 10N", 1, s(t.duckdb.wallMs), t.duckdb.records, Math.round(t.duckdb.records / (t.duckdb.wallMs / 1000)), mib(t.duckdb.peakRssMiB)]);
  }
  if (x.latency) {
    const l = x.latency;
    const sluiceMs = median(l.pairs.map((p) => p.sluice.wallMs));
    const downloadMs = median(l.pairs.map((p) => p.download.wallMs));
    rows.push([`(1) sluice, API latency ${l.latencyMs} ms/page`, l.pairs.length, s(sluiceMs), records, Math.round(records / (sluiceMs / 1000)), mib(medianOrNull(l.pairs.map((p) => p.sluice.peakRssMiB)))]);
    rows.push([`plain download, latency ${l.latencyMs} ms/page`, l.pairs.length, s(downloadMs), records, Math.round(records / (downloadMs / 1000)), null]);
  }

  const out: string[] = [];
  out.push("");
  out.push(`Sluice bench ${new Date().toISOString()} @ ${x.sha}: ${records} records/day (${x.opts.events} events), ${x.api.pages} pages, ${x.opts.repeat} repeat(s)`);
  out.push(`${x.machine.cpuModel}, ${x.machine.cores} cores, ${x.machine.memoryGiB} GiB, node ${x.machine.node}, load ${x.machine.loadAvg.join(" ")}`);
  out.push("");
  out.push(formatTable(["approach", "runs", "wall median (s)", "records", "rows/s", "peak RSS (MiB)"], rows));
  if (x.tutorial.length) out.push("rows/s of (1) and (2): records / process wall time; of (3): records / its own working time (no start-up), its best case.");
  if (x.tutorial.some((t) => t.budgetHit)) out.push(`(3) stopped at its ${x.opts.tutorialSeconds} s budget before ${x.opts.sample} records; rows/s is over what it did (--tutorial-seconds 0 for all).`);

  // Equivalence: every (1) and (2) warehouse must hold the same rows.
  const fp1 = x.sluice[0]?.fingerprint;
  const fp2 = x.duckdb[0]?.fingerprint;
  const diffs: string[] = [];
  if (fp1 && fp2) {
    diffs.push(...sameWork(fp1, fp2));
    for (const r of x.sluice.slice(1)) if (sameWork(r.fingerprint, fp1).length) diffs.push("sluice runs disagree with each other");
    for (const r of x.duckdb.slice(1)) if (sameWork(r.fingerprint, fp2).length) diffs.push("duckdb runs disagree with each other");
  }
  const equivalent = fp1 !== undefined && fp2 !== undefined && diffs.length === 0;
  out.push("");
  out.push(
    fp1 && fp2
      ? `same work (1) vs (2): ${equivalent ? "YES" : "NO"}: events ${fp1.events} vs ${fp2.events}, sessions ${fp1.sessions} vs ${fp2.sessions}, quarantined ${fp1.quarantined} vs ${fp2.quarantined}, revenue ${fp1.revenue} vs ${fp2.revenue}, row hashes ${fp1.eventsHash === fp2.eventsHash && fp1.sessionsHash === fp2.sessionsHash ? "equal" : "differ"}`
      : "same work (1) vs (2): not checked",
  );
  for (const d of diffs) out.push(`  ${d}`);
  const tenXDiffs = x.tenX?.duckdb ? sameWork(x.tenX.sluice.fingerprint, x.tenX.duckdb.fingerprint) : null;
  if (x.tenX) out.push(tenXDiffs === null ? "same work at 10N: not checked (no duckdb run)" : `same work (1) vs (2) at 10N: ${tenXDiffs.length === 0 ? "YES" : "NO"}: events ${x.tenX.sluice.fingerprint.events}, sessions ${x.tenX.sluice.fingerprint.sessions}, quarantined ${x.tenX.sluice.fingerprint.quarantined}`);
  for (const d of tenXDiffs ?? []) out.push(`  10N: ${d}`);

  const targets: Array<Array<string | number | null>> = [
    ["(1)/(2) wall time", ratio(timeRatio), `<= ${TARGETS.sluiceVsDuckdbTime}x (stretch ${TARGETS.sluiceVsDuckdbTimeStretch}x)`, passMiss(Number.isFinite(timeRatio) ? timeRatio <= TARGETS.sluiceVsDuckdbTime : null)],
    ["(1)/(3) rows per second", ratio(rpsRatio), `>= ${TARGETS.sluiceVsTutorialRowsPerSec}x`, passMiss(Number.isFinite(rpsRatio) ? rpsRatio >= TARGETS.sluiceVsTutorialRowsPerSec : null)],
    ["(1) peak RSS at N / 4N / 10N (MiB)", [sluiceRss, x.fourX?.peakRssMiB ?? null, tenXRss].map((v) => (v === null ? "-" : Math.round(v))).join(" / "), `<= ${TARGETS.peakRssMiB}`, passMiss(rssOk)],
    ["(1) 4N/N wall time", ratio(fourXRatio), `<= ${TARGETS.fourXTime}x`, passMiss(fourXRatio === null ? null : fourXRatio <= TARGETS.fourXTime)],
    ["(1) 10N/N wall time", ratio(tenXTime), `<= ${TARGETS.tenXTime}x`, passMiss(tenXTime === null ? null : tenXTime <= TARGETS.tenXTime)],
    ["(1) 10N/N peak RSS", ratio(tenXRssRatio), `<= ${TARGETS.tenXRss}x`, passMiss(tenXRssRatio === null ? null : tenXRssRatio <= TARGETS.tenXRss)],
    [`(1)/plain download wall, ${x.latency?.latencyMs ?? "-"} ms latency`, ratio(latencyRatio), `<= ${TARGETS.latency}x`, passMiss(latencyRatio === null ? null : latencyRatio <= TARGETS.latency)],
  ];
  out.push("");
  out.push(formatTable(["ratio", "measured", "target", ""], targets));

  // Per-stage medians of (1); "other" is process start-up, warehouse open/bookkeeping and exit.
  const stageNames = ["extract", "validate", "transform", "load"] as const;
  const stageMed = Object.fromEntries(stageNames.map((k) => [k, median(x.sluice.map((r) => r.stages[k]))])) as Record<(typeof stageNames)[number], number>;
  const stepNames = [...new Set(x.sluice.flatMap((r) => Object.keys(r.stages.steps)))];
  const stepMed = Object.fromEntries(stepNames.map((k) => [k, median(x.sluice.map((r) => r.stages.steps[k] ?? 0))]));
  // Medians do not add up; "other" is what the wall-time median leaves after the stage medians.
  const other = sluiceWall - stageNames.reduce((a, k) => a + stageMed[k], 0);
  const stageRows: Array<Array<string | number | null>> = [
    ...stageNames.map((k) => [k, s(stageMed[k]), `${round((100 * stageMed[k]) / sluiceWall, 1)}%`]),
    ...stepNames.map((k) => [`  transform: ${k}`, s(stepMed[k] ?? 0), `${round((100 * (stepMed[k] ?? 0)) / sluiceWall, 1)}%`]),
    ["other (start-up, bookkeeping, exit)", s(other), `${round((100 * other) / sluiceWall, 1)}%`],
    ["wall", s(sluiceWall), "100%"],
  ];
  if (x.fourX) stageRows.push(["4N: extract / validate / transform / load", stageNames.map((k) => s(x.fourX!.stages[k])).join(" / "), ""]);
  if (x.sluice.length) {
    out.push("");
    out.push("per-stage medians of (1):");
    out.push(formatTable(["stage", "s", "share"], stageRows));
  }
  // Where the memory goes: max RSS per phase of the median-time run of (1), and of the 4N run.
  const medianRun = [...x.sluice].sort((a, b) => a.wallMs - b.wallMs)[Math.floor((x.sluice.length - 1) / 2)];
  if (medianRun && medianRun.rssPhases.length) {
    const others = [["4N", x.fourX], ["10N", x.tenX?.sluice ?? null], ["latency", x.latency?.sluice ?? null]].filter((o): o is [string, SluiceRun] => o[1] !== null);
    out.push("");
    out.push(`max RSS by phase of (1) (MiB; sampled every 100 ms; median-time run${others.map(([k]) => `, the ${k} run`).join("")}):`);
    out.push(formatTable(["phase", "s", "RSS at N", ...others.flatMap(([k]) => [`s ${k}`, `RSS ${k}`])], phaseRows(medianRun.rssPhases, others.map(([, r]) => r.rssPhases), s)));
  }
  const duckPhases = x.duckdb.length ? Object.keys(x.duckdb[0]!.phases) : [];
  if (duckPhases.length) {
    out.push("");
    out.push(`phases of (2), medians (s): ${duckPhases.map((k) => `${k} ${s(median(x.duckdb.map((r) => r.phases[k] ?? 0)))}`).join(", ")}`);
  }
  if (x.profile) {
    out.push("");
    out.push("top functions by self time, one --cpu-prof run of (1) (main thread):");
    out.push(formatTable(["function", "self ms", "%"], x.profile.map((p) => [p.fn, p.selfMs, p.pct])));
  }
  process.stdout.write(out.join("\n") + "\n");

  const result = {
    timestamp: new Date().toISOString(),
    git: x.sha,
    machine: x.machine,
    options: x.opts,
    rssSource: hasGnuTime() ? "gnu-time %M" : "/proc VmHWM polling",
    input: { date: DATE, events: x.opts.events, records, pages: x.api.pages },
    approaches: {
      sluice: { runs: x.sluice.map(({ wallMs, peakRssMiB, stages, rowsIn, rssPhases }) => ({ wallMs: round(wallMs, 0), peakRssMiB: peakRssMiB && round(peakRssMiB, 1), stages, rowsIn, rssPhases: roundPhases(rssPhases) })), wallMsMedian: round(sluiceWall, 0), rowsPerSec: round(sluiceRps, 0), peakRssMiBMedian: sluiceRss && round(sluiceRss, 1) },
      duckdb: { runs: x.duckdb.map(({ wallMs, peakRssMiB, phases, records: n }) => ({ wallMs: round(wallMs, 0), peakRssMiB: peakRssMiB && round(peakRssMiB, 1), phases, records: n })), wallMsMedian: round(duckdbWall, 0), rowsPerSec: round(duckdbRps, 0), peakRssMiBMedian: duckdbRss && round(duckdbRss, 1) },
      tutorial: { runs: x.tutorial.map((t) => ({ ...t, wallMs: round(t.wallMs, 0), peakRssMiB: t.peakRssMiB && round(t.peakRssMiB, 1) })), rowsPerSec: round(tutorialRps, 0), peakRssMiBMedian: tutorialRss && round(tutorialRss, 1) },
      sluice4x: x.fourX && { wallMs: round(x.fourX.wallMs, 0), records: x.fourX.records, peakRssMiB: x.fourX.peakRssMiB && round(x.fourX.peakRssMiB, 1), stages: x.fourX.stages, rssPhases: roundPhases(x.fourX.rssPhases) },
      sluice10x: x.tenX && { wallMs: round(x.tenX.sluice.wallMs, 0), records: x.tenX.records, pages: x.tenX.pages, peakRssMiB: x.tenX.sluice.peakRssMiB && round(x.tenX.sluice.peakRssMiB, 1), stages: x.tenX.sluice.stages, rssPhases: roundPhases(x.tenX.sluice.rssPhases) },
      duckdb10x: x.tenX?.duckdb ? { wallMs: round(x.tenX.duckdb.wallMs, 0), peakRssMiB: x.tenX.duckdb.peakRssMiB && round(x.tenX.duckdb.peakRssMiB, 1), phases: x.tenX.duckdb.phases, records: x.tenX.duckdb.records } : null,
      latency: x.latency && {
        latencyMs: x.latency.latencyMs,
        pages: x.latency.pages,
        // the pair of the median ratio
        sluiceWallMs: round(x.latency.sluice.wallMs, 0),
        sluicePeakRssMiB: x.latency.sluice.peakRssMiB && round(x.latency.sluice.peakRssMiB, 1),
        sluiceStages: x.latency.sluice.stages,
        downloadWallMs: round(x.latency.download.wallMs, 0),
        downloadWorkMs: x.latency.download.workMs,
        pairs: x.latency.pairs.map((p) => ({ sluiceWallMs: round(p.sluice.wallMs, 0), downloadWallMs: round(p.download.wallMs, 0), ratio: round(p.sluice.wallMs / p.download.wallMs, 3) })),
      },
    },
    stagesMedianMs: { ...Object.fromEntries(stageNames.map((k) => [k, round(stageMed[k], 0)])), other: round(other, 0), steps: Object.fromEntries(stepNames.map((k) => [k, round(stepMed[k] ?? 0, 0)])) },
    equivalence: { equivalent, sluice: fp1 ?? null, duckdb: fp2 ?? null, differences: diffs, tenX: x.tenX?.duckdb ? { equivalent: tenXDiffs?.length === 0, sluice: x.tenX.sluice.fingerprint, duckdb: x.tenX.duckdb.fingerprint, differences: tenXDiffs } : null },
    ratios: {
      sluiceOverDuckdbTime: { value: round(timeRatio, 3), target: `<= ${TARGETS.sluiceVsDuckdbTime}`, pass: timeRatio <= TARGETS.sluiceVsDuckdbTime },
      sluiceOverTutorialRowsPerSec: { value: round(rpsRatio, 1), target: `>= ${TARGETS.sluiceVsTutorialRowsPerSec}`, pass: rpsRatio >= TARGETS.sluiceVsTutorialRowsPerSec },
      peakRssMiB: { n: sluiceRss && round(sluiceRss, 1), fourN: x.fourX?.peakRssMiB == null ? null : round(x.fourX.peakRssMiB, 1), target: `< ${TARGETS.peakRssMiB}`, pass: rssOk },
      fourXOverNTime: { value: fourXRatio === null ? null : round(fourXRatio, 3), target: `<= ${TARGETS.fourXTime}`, pass: fourXRatio === null ? null : fourXRatio <= TARGETS.fourXTime },
      tenXOverNTime: { value: tenXTime === null ? null : round(tenXTime, 3), target: `<= ${TARGETS.tenXTime}`, pass: tenXTime === null ? null : tenXTime <= TARGETS.tenXTime },
      tenXOverNPeakRss: { value: tenXRssRatio === null ? null : round(tenXRssRatio, 3), tenN: tenXRss && round(tenXRss, 1), target: `<= ${TARGETS.tenXRss}`, pass: tenXRssRatio === null ? null : tenXRssRatio <= TARGETS.tenXRss },
      latencyOverDownload: { value: latencyRatio === null ? null : round(latencyRatio, 3), latencyMs: x.latency?.latencyMs ?? null, target: `<= ${TARGETS.latency}`, pass: latencyRatio === null ? null : latencyRatio <= TARGETS.latency },
    },
    profile: x.profile,
  };
  await writeResult(result);
  if (!equivalent || (tenXDiffs !== null && tenXDiffs.length > 0)) process.exitCode = 1;
}

/** Rows of the RSS-by-phase table: the median run's phases, with the same phase of each other run beside it. */
function phaseRows(base: PhaseRss[], others: PhaseRss[][], s: (ms: number) => number): Array<Array<string | number | null>> {
  const maps = others.map((phases) => new Map(phases.map((p) => [p.phase, p])));
  return base.map((p) => [
    p.phase,
    s(p.ms),
    p.maxRssMiB === null ? null : Math.round(p.maxRssMiB),
    ...maps.flatMap((m) => {
      const o = m.get(p.phase);
      return [o ? s(o.ms) : null, o?.maxRssMiB == null ? null : Math.round(o.maxRssMiB)];
    }),
  ]);
}

function roundPhases(phases: PhaseRss[]): PhaseRss[] {
  return phases.map((p) => ({ phase: p.phase, maxRssMiB: p.maxRssMiB === null ? null : round(p.maxRssMiB, 0), ms: round(p.ms, 0) }));
}

async function writeResult(result: { timestamp: string; git: string }): Promise<void> {
  const dir = path.join(ROOT, "bench/results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${result.timestamp.replace(/\.\d+Z$/, "Z").replaceAll(":", "-")}-${result.git}.json`);
  await writeFile(file, JSON.stringify(result, null, 2) + "\n");
  process.stdout.write(`\nresults: ${path.relative(ROOT, file)}\n`);
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

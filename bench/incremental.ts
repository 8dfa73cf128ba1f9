/**
 * Benchmark: an incremental rerun against an unchanged source. The users job pulls a 100k-user
 * snapshot from the demo API (the first run: everything), then runs again with nothing changed
 * (it asks from its mark minus the lookback). Targets (issue 13): the rerun makes at most 2
 * requests per listing and takes under 10% of the full pull's time. Measured in one run against
 * the in-process demo API answering each 1,000-record page at once (loopback, no network: the
 * rerun's fixed costs weigh most), after 20 ms (a fast API) and after 100 ms (a typical page time
 * of a real API for a page that size).
 * In-process runs after an unmeasured warm-up, so start-up and JIT do not hide the difference.
 * Each figure is the median of several runs, each after a garbage collection (with --expose-gc).
 * Run: npm run bench:incremental -- [users=100000] [latencies=0,20,100]
 */
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { startDemoApi, type DemoApi } from "../src/demo-api/index.ts";
import { runPartition } from "../src/pipeline/index.ts";
import users from "../jobs/users.ts";
import { tempDir } from "../test/support/dirs.ts";
import { testRunSettings } from "../test/support/settings.ts";

const count = Number(process.argv[2] ?? 100_000);
const latencies = (process.argv[3] ?? "0,20,100").split(",").map(Number);

interface Timed {
  ms: number;
  requests: number;
  rows: number;
}

const FULL_PULLS = 5;
const RERUNS = 9;

/**
 * Collects the garbage of earlier runs when the bench runs with --expose-gc, so no run pays for
 * another's (a real rerun is a fresh process), and lets the finalizers that free their native
 * frames run before the clock starts (~2.5 ms of the next run's start otherwise).
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  await sleep(50);
}

/** One run of the users job for day `dt`: wall time and the requests the server saw. */
async function timed(api: DemoApi, dataDir: string, dt: string): Promise<Timed> {
  const settings = testRunSettings(dataDir, api.url);
  await collectGarbage();
  const before = api.stats().requests;
  const t0 = performance.now();
  const outcome = await runPartition(users, dt, settings);
  if (outcome.status !== "succeeded") throw new Error(`run ${dt} ${outcome.status}: ${outcome.error}`);
  if (process.env["BENCH_STEPS"]) for (const step of outcome.steps) console.log(`  ${dt} ${step.name}: ${step.ms.toFixed(0)} ms`);
  return { ms: performance.now() - t0, requests: api.stats().requests - before, rows: outcome.rowsIn };
}

/** The run of median wall time (the machine is shared: one slow run says little). */
function median(runs: Timed[]): Timed {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)] as Timed;
}

/** The day `n` days after `dt`. */
function dayAfter(dt: string, n: number): string {
  return new Date(Date.parse(`${dt}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Full pulls into fresh data directories, then reruns on the following days with nothing changed,
 * against a demo API of `users` answering after `latencyMs`; the median of each.
 */
async function point(latencyMs: number, users = count, fulls = FULL_PULLS, reruns = RERUNS): Promise<{ full: Timed; rerun: Timed; requests: number }> {
  const api = await startDemoApi({ users, seed: 7, usersAsOf: "2026-12-06T00:00:00Z", latencyMs });
  const dirs: string[] = [];
  try {
    const full: Timed[] = [];
    for (let i = 0; i < fulls; i++) {
      dirs.push(await tempDir("sluice-bench-incremental-"));
      full.push(await timed(api, dirs[i] as string, "2026-12-05"));
    }
    const again: Timed[] = [];
    for (let i = 1; i <= reruns; i++) again.push(await timed(api, dirs[0] as string, dayAfter("2026-12-05", i)));
    return { full: median(full), rerun: median(again), requests: Math.max(...again.map((r) => r.requests)) };
  } finally {
    await api.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

// Unmeasured warm-up (JIT, DuckDB, Polars), so every point compares warm runs.
await point(0, 10_000, 1, 1);
console.log(`users: ${count}; median of ${FULL_PULLS} full pulls and of ${RERUNS} reruns${(globalThis as { gc?: unknown }).gc ? "; garbage collected before each run" : " (run with --expose-gc to collect garbage between runs)"}`);
console.log("| API latency | full pull | requests | incremental rerun | requests | records | rerun / full |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
const verdicts: string[] = [];
for (const latencyMs of latencies) {
  const { full, rerun, requests } = await point(latencyMs);
  const ratio = rerun.ms / full.ms;
  console.log(`| ${latencyMs} ms/page | ${full.ms.toFixed(0)} ms | ${full.requests} | ${rerun.ms.toFixed(0)} ms | ${requests} | ${rerun.rows} | ${(ratio * 100).toFixed(1)}% |`);
  verdicts.push(`${latencyMs} ms/page: rerun/full ${(ratio * 100).toFixed(1)}% (target < 10%) ${ratio < 0.1 ? "MET" : "MISS"}; requests per listing ${requests} (target <= 2) ${requests <= 2 ? "MET" : "MISS"}`);
}
for (const v of verdicts) console.log(v);

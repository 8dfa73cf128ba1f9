/**
 * Benchmark: an incremental rerun against an unchanged source. The users job pulls a 100k-user
 * snapshot from the demo API (the first run: everything), then runs again with nothing changed
 * (it asks from its mark minus the lookback). Targets (issue 13): the rerun makes at most 2
 * requests per listing and takes under 10% of the full pull's time. Measured twice in one run:
 * against the in-process demo API answering at once (loopback, no network: the rerun's fixed
 * costs weigh most) and answering each page after 20 ms (`--latency-ms`, a fast real API).
 * In-process runs after an unmeasured warm-up, so start-up and JIT do not hide the difference.
 * Run: npx tsx bench/incremental.ts [users=100000] [latencies=0,20]
 */
import { rm } from "node:fs/promises";
import { startDemoApi, type DemoApi } from "../src/demo-api/index.ts";
import { runPartition } from "../src/pipeline/index.ts";
import users from "../jobs/users.ts";
import { tempDir } from "../test/support/dirs.ts";
import { testRunSettings } from "../test/support/settings.ts";

const count = Number(process.argv[2] ?? 100_000);
const latencies = (process.argv[3] ?? "0,20").split(",").map(Number);

interface Timed {
  ms: number;
  requests: number;
  rows: number;
}

/** One run of the users job for day `dt`: wall time and the requests the server saw. */
async function timed(api: DemoApi, dataDir: string, dt: string): Promise<Timed> {
  const settings = testRunSettings(dataDir, api.url);
  const before = api.stats().requests;
  const t0 = performance.now();
  const outcome = await runPartition(users, dt, settings);
  if (outcome.status !== "succeeded") throw new Error(`run ${dt} ${outcome.status}: ${outcome.error}`);
  if (process.env["BENCH_STEPS"]) for (const step of outcome.steps) console.log(`  ${dt} ${step.name}: ${step.ms.toFixed(0)} ms`);
  return { ms: performance.now() - t0, requests: api.stats().requests - before, rows: outcome.rowsIn };
}

/** A full pull, then a rerun with nothing changed, against a demo API of `users` answering after `latencyMs`. */
async function point(latencyMs: number, users = count): Promise<{ full: Timed; rerun: Timed }> {
  const api = await startDemoApi({ users, seed: 7, usersAsOf: "2026-12-06T00:00:00Z", latencyMs });
  const dataDir = await tempDir("sluice-bench-incremental-");
  try {
    return { full: await timed(api, dataDir, "2026-12-05"), rerun: await timed(api, dataDir, "2026-12-06") };
  } finally {
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// Unmeasured warm-up (JIT, DuckDB, Polars), so every point compares warm runs.
await point(0, 10_000);
console.log(`users: ${count}`);
console.log("| API latency | full pull | requests | incremental rerun | requests | records | rerun / full |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
const verdicts: string[] = [];
for (const latencyMs of latencies) {
  const { full, rerun } = await point(latencyMs);
  const ratio = rerun.ms / full.ms;
  console.log(`| ${latencyMs} ms/page | ${full.ms.toFixed(0)} ms | ${full.requests} | ${rerun.ms.toFixed(0)} ms | ${rerun.requests} | ${rerun.rows} | ${(ratio * 100).toFixed(1)}% |`);
  verdicts.push(`${latencyMs} ms/page: rerun/full ${(ratio * 100).toFixed(1)}% (target < 10%) ${ratio < 0.1 ? "MET" : "MISS"}; requests per listing ${rerun.requests} (target <= 2) ${rerun.requests <= 2 ? "MET" : "MISS"}`);
}
for (const v of verdicts) console.log(v);

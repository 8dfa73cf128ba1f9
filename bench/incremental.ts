/**
 * Benchmark: an incremental rerun against an unchanged source. The users job pulls a 100k-user
 * snapshot from the demo API (the first run: everything), then runs again with nothing changed
 * (it asks from its mark minus the lookback). Targets (issue 13): the rerun makes at most 2
 * requests per listing and takes under 10% of the full pull's time. In-process runs, so process
 * start-up does not hide the difference; ratios from one run.
 * Run: npx tsx bench/incremental.ts [users=100000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { silentLogger } from "../src/core/log.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { runPartition } from "../src/pipeline/index.ts";
import users from "../jobs/users.ts";

const count = Number(process.argv[2] ?? 100_000);
const api = await startDemoApi({ users: count, seed: 7, usersAsOf: "2026-12-06T00:00:00Z" });
const dataDir = await mkdtemp(path.join(tmpdir(), "sluice-bench-incremental-"));
const settings = { dataDir, signal: new AbortController().signal, log: silentLogger(), env: { SLUICE_API_URL: api.url }, refetch: false, keepRaw: false, preview: false };

/** One run of the users job: wall time and the requests the server saw. */
async function timed(dt: string): Promise<{ ms: number; requests: number; rows: number }> {
  const before = api.stats().requests;
  const t0 = performance.now();
  const outcome = await runPartition(users, dt, settings);
  if (outcome.status !== "succeeded") throw new Error(`run ${dt} ${outcome.status}: ${outcome.error}`);
  if (process.env["BENCH_STEPS"]) for (const step of outcome.steps) console.log(`  ${dt} ${step.name}: ${step.ms.toFixed(0)} ms`);
  return { ms: performance.now() - t0, requests: api.stats().requests - before, rows: outcome.rowsIn };
}

try {
  const full = await timed("2026-12-05");
  const rerun = await timed("2026-12-06");
  const ratio = rerun.ms / full.ms;
  console.log(`users: ${count}`);
  console.log(`full pull:          ${full.ms.toFixed(0).padStart(6)} ms, ${full.requests} requests, ${full.rows} records`);
  console.log(`incremental rerun:  ${rerun.ms.toFixed(0).padStart(6)} ms, ${rerun.requests} requests, ${rerun.rows} records`);
  console.log(`rerun / full: ${(ratio * 100).toFixed(1)}% (target < 10%): ${ratio < 0.1 ? "MET" : "MISS"}`);
  console.log(`requests per listing: ${rerun.requests} (target <= 2): ${rerun.requests <= 2 ? "MET" : "MISS"}`);
} finally {
  await api.close();
  await rm(dataDir, { recursive: true, force: true });
}

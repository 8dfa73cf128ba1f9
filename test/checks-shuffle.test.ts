/**
 * The 30 demo days of checks-backfill.test.ts run in a shuffled order (one at a time, so the
 * order is exactly the shuffle): the history is the loaded days before each day by date, whatever
 * ran first, so the verdicts are the same.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { seededRandom } from "../src/core/random.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { anomalyResults, assertVerdicts, DAYS, DEMO } from "./checks-demo-days.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);

/** A Fisher-Yates shuffle of the days from a fixed seed. */
function shuffled(days: readonly string[], seed: number): string[] {
  const random = seededRandom(seed);
  const order = [...days];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  return order;
}

test("running the 30 days in a shuffled order gives the same verdicts, each day judged by the days before it by date", async (t) => {
  const order = shuffled(DAYS, 8);
  const ranBefore = (dt: string) => order.slice(0, order.indexOf(dt));
  // The shuffle is real: later days run before the anomalous ones. And a day with fewer than 7
  // earlier days loaded is skipped by design, so the order gives both at least that many.
  for (const dt of ["2026-11-24", "2026-11-27"]) {
    assert.ok(ranBefore(dt).some((d) => d > dt), `a later day runs before ${dt}`);
    assert.ok(ranBefore(dt).filter((d) => d < dt).length >= 7, `${dt} has enough history`);
  }
  assert.notDeepEqual(order, DAYS);

  const api = await startDemoApi(DEMO);
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  // Concurrency 1 runs the days exactly in the given order.
  const outcomes = await runBackfill(getJob("events"), order, { concurrency: 1, force: false, retryFailed: false }, testRunSettings(dataDir, api.url));
  assertVerdicts(outcomes);

  // Each judged day was compared only with days before it that had loaded when it ran.
  for (const outcome of outcomes) {
    const loadedBefore = new Set(ranBefore(outcome.dt).filter((d) => d < outcome.dt && d !== "2026-11-24"));
    for (const check of anomalyResults(outcome)) {
      const history = (check as { history?: Array<{ dt: string }> }).history ?? [];
      assert.ok(history.every((p) => loadedBefore.has(p.dt)), `${outcome.dt} ${check.check}: ${history.map((p) => p.dt).join(" ")}`);
      assert.equal(history.length, Math.min(14, loadedBefore.size), `${outcome.dt} ${check.check} compares with the latest 14 loaded days before it`);
      assert.equal(check.skipped === true, loadedBefore.size < 7, `${outcome.dt} ${check.check} is skipped exactly when fewer than 7 days are loaded before it`);
    }
  }
});

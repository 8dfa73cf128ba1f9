/**
 * A day kept on disk in small groups (SLUICE_GROUP_ROWS) and SIGKILLed mid-run: nothing partial is
 * left, and the next run heals the partition to exactly what a clean run loads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { assertLakesEqual, warehouseSnapshot } from "./support/snapshots.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";
import { testRunSettings } from "./support/settings.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";

const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"];
const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);

test("a run kept on disk and killed at any stage leaves nothing partial, and the next run heals it to a clean run's tables", async (t) => {
  const api = await startContractServer({ days: makeEventDays(45, DAYS.slice(0, 2), 250), failEvery: 7 });
  t.after(() => api.close());
  const env = { SLUICE_GROUP_ROWS: "120" };
  const args = (dataDir: string, dt: string) => ["run", "events", "--date", dt, "--api-url", api.url, "--data-dir", dataDir];
  // the clean reference runs in this process (fewer process start-ups keep the file far from its time budget)
  const clean = await tempDataDir(t);
  for (const dt of DAYS.slice(0, 2)) assert.equal((await runPartition(getJob("events"), dt as string, { ...testRunSettings(clean, api.url), groupRows: 120 })).status, "succeeded");
  const expected = await warehouseSnapshot(clean);
  for (const point of ["transform", "lake.partial"]) {
    const dataDir = await tempDataDir(t);
    assert.equal((await runPartition(getJob("events"), DAYS[0] as string, { ...testRunSettings(dataDir, api.url), groupRows: 120 })).status, "succeeded");
    const killed = await runSluice(args(dataDir, DAYS[1] as string), { ...env, SLUICE_FAILPOINT: point });
    assert.equal(killed.signal, "SIGKILL", `${point}: the run should have been killed (exit ${killed.code}, ${killed.stderr})`);
    const healed = await runSluice(args(dataDir, DAYS[1] as string), env);
    assert.equal(healed.code, 0, `${point}: ${healed.stderr}`);
    assert.deepEqual(await warehouseSnapshot(dataDir), expected, `${point}: the healed run equals a clean one`);
    await assertLakesEqual(dataDir, clean);
    assert.equal(existsSync(path.join(dataDir, "spill")), false, `${point}: the killed run's spill is gone after the healing run`);
  }
});

/**
 * A day kept on disk in small groups (SLUICE_GROUP_ROWS) and SIGKILLed mid-run: nothing partial is
 * left, and the next run heals the partition to exactly what a clean run loads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { assertLakesEqual, warehouseSnapshot } from "./chunked-snapshots.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"];

test("a run kept on disk and killed at any stage leaves nothing partial, and the next run heals it to a clean run's tables", async (t) => {
  const api = await startContractServer({ days: makeEventDays(45, DAYS.slice(0, 2), 250), failEvery: 7 });
  t.after(() => api.close());
  const env = { SLUICE_GROUP_ROWS: "120" };
  const args = (dataDir: string, dt: string) => ["run", "events", "--date", dt, "--api-url", api.url, "--data-dir", dataDir];
  const clean = await tempDataDir(t);
  for (const dt of DAYS.slice(0, 2)) assert.equal((await runSluice(args(clean, dt), env)).code, 0);
  const expected = await warehouseSnapshot(clean);
  for (const point of ["transform", "lake.partial"]) {
    const dataDir = await tempDataDir(t);
    assert.equal((await runSluice(args(dataDir, DAYS[0] as string), env)).code, 0);
    const killed = await runSluice(args(dataDir, DAYS[1] as string), { ...env, SLUICE_FAILPOINT: point });
    assert.equal(killed.signal, "SIGKILL", `${point}: the run should have been killed (exit ${killed.code}, ${killed.stderr})`);
    const healed = await runSluice(args(dataDir, DAYS[1] as string), env);
    assert.equal(healed.code, 0, `${point}: ${healed.stderr}`);
    assert.deepEqual(await warehouseSnapshot(dataDir), expected, `${point}: the healed run equals a clean one`);
    await assertLakesEqual(dataDir, clean);
    assert.equal(existsSync(path.join(dataDir, "spill")), false, `${point}: the killed run's spill is gone after the healing run`);
  }
});

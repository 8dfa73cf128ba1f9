/** sluice.runs tells the truth about failed runs (a run that could not get the warehouse is recorded once it can, and a failed run loaded nothing), and how a run uses the warehouse while it extracts. */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { StorageError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { localWarehouse, type WarehouseGateway } from "../src/pipeline/warehouse-gateway.ts";
import events from "../jobs/events.ts";
import { spawnChild } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

/** A child process that opens the warehouse read-write (as a long query or a DuckDB session would) until killed. */
const HOLD_WAREHOUSE = `(async () => {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const inst = await DuckDBInstance.create(process.env.WAREHOUSE);
  await inst.connect();
  process.stdout.write("ready\\n");
  setInterval(() => undefined, 1000);
})()`;

async function runRow(dataDir: string, runId: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, `select status, rows_in, rows_loaded, error from sluice.runs where run_id = '${runId}'`)).rows);
}

test("a run that could not get the warehouse is recorded in sluice.runs by the next run, with nothing loaded", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 300, seed: 4 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const settings = testRunSettings(dataDir, api.url);
  assert.equal((await runPartition(events, "2026-11-18", settings)).status, "succeeded");

  // Another process holds the warehouse (a long query, an open DuckDB session) past the run's wait.
  const holder = await spawnChild(HOLD_WAREHOUSE, { WAREHOUSE: warehousePath(dataDir) });
  t.after(() => holder.child.kill("SIGKILL"));
  const impatient = localWarehouse(dataDir, { signal: settings.signal, log: silentLogger(), waitMs: 300 });
  const busy = await runPartition(events, "2026-11-19", { ...settings, warehouse: impatient });
  assert.equal(busy.status, "failed");
  assert.match(busy.error ?? "", /stayed busy/);
  assert.deepEqual(await readdir(path.join(dataDir, "runs-pending")), [`${busy.runId}.json`], "kept for sluice.runs");
  holder.child.kill("SIGKILL");
  await holder.exited;
  assert.deepEqual(await runRow(dataDir, busy.runId), [], "not recorded yet: the warehouse was busy");

  // The next run that opens the warehouse writes the kept row.
  assert.equal((await runPartition(events, "2026-11-20", settings)).status, "succeeded");
  const [row] = await runRow(dataDir, busy.runId);
  assert.deepEqual(row?.slice(0, 3), ["failed", 0, 0]);
  assert.match(String(row?.[3]), /stayed busy/);
  assert.deepEqual(await readdir(path.join(dataDir, "runs-pending")), []);
});

/** A demo API serving `eventsPerDay` events a day, a fresh data dir, its run settings and its warehouse. */
async function demoRun(t: TestContext, eventsPerDay: number, seed: number) {
  const api = await startDemoApi({ eventsPerDay, seed });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const settings = testRunSettings(dataDir, api.url);
  return { api, dataDir, settings, local: localWarehouse(dataDir, { signal: settings.signal, log: silentLogger() }) };
}

test("a run whose load failed records rows_loaded 0 in sluice.runs and in its outcome, though it had rows to load", async (t) => {
  const { dataDir, settings, local } = await demoRun(t, 300, 5);
  const failing = { ...local, commit: async () => Promise.reject(new StorageError("no space left on device (injected)")) };
  const outcome = await runPartition(events, "2026-11-19", { ...settings, warehouse: failing });
  assert.equal(outcome.status, "failed");
  assert.match(outcome.error ?? "", /no space left on device/);
  assert.ok(outcome.rowsIn > 200, `rows were extracted: ${outcome.rowsIn}`);
  assert.equal(outcome.rowsLoaded, 0);
  const [row] = await runRow(dataDir, outcome.runId);
  assert.equal(row?.[0], "failed");
  assert.ok(Number(row?.[1]) > 200, "rows_in as extracted");
  assert.equal(row?.[2], 0, "rows_loaded: nothing was loaded");
});

test("a streamed day's checks read their history from the warehouse while the first pages are fetched, not before", async (t) => {
  const { api, settings, local } = await demoRun(t, 3000, 9);
  const requestsWhenAnswered: number[] = [];
  // The history answers only once a page was asked for: a run that read it before fetching would
  // wait for it here until the deadline, and fail.
  const warehouse: WarehouseGateway = {
    ...local,
    checkHistory: async (query) => {
      const history = await local.checkHistory(query);
      const deadline = Date.now() + 10_000;
      while (api.stats().requests === 0 && Date.now() < deadline) await delay(5);
      requestsWhenAnswered.push(api.stats().requests);
      if (api.stats().requests === 0) throw new Error("no page was asked for while the history was read");
      return history;
    },
  };
  const outcome = await runPartition(events, "2026-11-20", { ...settings, warehouse });
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.ok(requestsWhenAnswered.length >= 1 && requestsWhenAnswered.every((n) => n > 0), JSON.stringify(requestsWhenAnswered));
});

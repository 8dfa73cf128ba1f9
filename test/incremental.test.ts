/**
 * Incremental sources: the mark in sluice.state, advanced in the same transaction as the load that
 * used it; pulls from the mark minus the lookback; a killed run leaves the old mark; a full refresh
 * starts over and replaces the table; `sluice status` shows the marks. The oracle for "the right
 * table" is a fresh full pull of the same server state into another data dir.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startDemoApi, type DemoApi } from "../src/demo-api/index.ts";
import { query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { WarehouseGate } from "../src/load/warehouse-gate.ts";
import { runPartition } from "../src/pipeline/index.ts";
import users from "../jobs/users.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { runSluice } from "./support/sluice.ts";

const USERS = "select user_id, country, plan, signup_ts, updated_at from users order by user_id";
const AS_OF_1 = "2026-12-02T00:00:00Z";
const AS_OF_2 = "2026-12-06T00:00:00Z";

async function rows(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

async function marks(dataDir: string): Promise<unknown[][]> {
  return rows(dataDir, "select source, key, value from sluice.state order by all");
}

/** Runs the users job in-process for `dt` against `api`. */
async function runUsers(api: DemoApi, dataDir: string, dt: string, over: { fullRefresh?: boolean } = {}): Promise<void> {
  const outcome = await runPartition(users, dt, { ...testRunSettings(dataDir, api.url), ...over });
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  // The run's start keeps the file open for its load, and the load closes it: nothing is left open.
  assert.equal(WarehouseGate.of(warehousePath(dataDir)).lingering, false, "a finished run left the warehouse open");
}

/** The users table a fresh full pull of the server's current state gives. */
async function fullPull(t: { after: (fn: () => unknown) => void }, api: DemoApi): Promise<unknown[][]> {
  const dataDir = await tempDataDir(t);
  await runUsers(api, dataDir, "2026-12-31");
  return rows(dataDir, USERS);
}

/** updated_since of the users requests the server saw since `from` (its request log is counted by stats). */
function usersRequests(api: DemoApi): number {
  return api.stats().requests;
}

test("the users job pulls everything first, then only what changed since its mark minus an hour, and ends with the full pull's table", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 100_000, seed: 31, usersAsOf: AS_OF_1 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  await runUsers(api, dataDir, "2026-12-01");
  const first = await marks(dataDir);
  assert.equal(first.length, 1, "one mark for the users source");
  const [source, key, mark] = first[0] as [string, string, string];
  assert.deepEqual([source, key], ["users", ""]);
  const newest = (await rows(dataDir, "select max(updated_at) from users"))[0]?.[0] as string;
  assert.equal(Date.parse(mark), Date.parse(newest), "the mark is the newest updated_at pulled");

  api.setUsersAsOf(AS_OF_2);
  const before = usersRequests(api);
  await runUsers(api, dataDir, "2026-12-05");
  const second = await runPartition(users, "2026-12-05", { ...testRunSettings(dataDir, api.url), preview: true });
  const pulled = second.steps.find((s) => s.kind === "extract");
  const from = pulled?.details["from"] as { since?: string; cursor?: string };
  assert.equal(Date.parse(from.since ?? ""), Date.parse((await marks(dataDir))[0]?.[2] as string) - 3_600_000, "pulls from the mark minus the lookback");
  assert.ok(usersRequests(api) - before <= 4, "an incremental pull of a few changed users takes a page or two");
  assert.deepEqual(await rows(dataDir, USERS), await fullPull(t, api), "incremental pulls end with the table a full pull gives");
  assert.ok(Date.parse((await marks(dataDir))[0]?.[2] as string) > Date.parse(mark), "the mark advanced");
});

test("against a server that ignores updated_since, incremental runs still end with the right table", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 40_000, seed: 32, usersAsOf: AS_OF_1, ignoreUpdatedSince: true });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  await runUsers(api, dataDir, "2026-12-01");
  api.setUsersAsOf(AS_OF_2);
  await runUsers(api, dataDir, "2026-12-05");
  assert.deepEqual(await rows(dataDir, USERS), await fullPull(t, api));
});

test("a run killed anywhere before its commit leaves the previous mark; after the commit the new one; the rerun ends with the right table", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 100_000, seed: 33, usersAsOf: AS_OF_1 });
  t.after(() => api.close());
  const points = ["extract.page-1", "lake.written", "warehouse.merge", "warehouse.bookkeeping", "warehouse.committed"];
  const expected = { after: [] as unknown[][] };
  for (const point of points) {
    api.setUsersAsOf(AS_OF_1);
    const dataDir = await tempDataDir(t);
    await runUsers(api, dataDir, "2026-12-01");
    const old = await marks(dataDir);
    api.setUsersAsOf(AS_OF_2);
    const killed = await runSluice(["run", "users", "--date", "2026-12-05", "--api-url", api.url, "--data-dir", dataDir], { SLUICE_FAILPOINT: point });
    assert.equal(killed.signal, "SIGKILL", `${point}: killed (${killed.stderr})`);
    const now = await marks(dataDir);
    if (point === "warehouse.committed") assert.notDeepEqual(now, old, `${point}: the committed run advanced the mark`);
    else assert.deepEqual(now, old, `${point}: the mark did not move`);
    await runUsers(api, dataDir, "2026-12-05");
    if (expected.after.length === 0) expected.after = await fullPull(t, api);
    assert.deepEqual(await rows(dataDir, USERS), expected.after, `${point}: the rerun ends with the full pull's table, nothing skipped or doubled`);
    const dup = await rows(dataDir, "select count(*) - count(distinct user_id) from users");
    assert.equal(Number(dup[0]?.[0]), 0, `${point}: no user twice`);
  }
});

test("--full-refresh starts from the initial mark and replaces the table in one transaction; sluice status shows each source's mark", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 40_000, seed: 34, usersAsOf: AS_OF_2 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  await runUsers(api, dataDir, "2026-12-05");
  // A row the source no longer has (deleted upstream): an incremental run keeps it, a full refresh removes it.
  await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run("insert into users (user_id, country, plan) values (999999999, 'ZZ', 'free')");
  });
  await runUsers(api, dataDir, "2026-12-06");
  assert.equal((await rows(dataDir, "select count(*) from users where user_id = 999999999"))[0]?.[0], 1, "an incremental run upserts, it does not delete");
  const preview = await runPartition(users, "2026-12-06", { ...testRunSettings(dataDir, api.url), preview: true, fullRefresh: true });
  assert.deepEqual(preview.steps.find((s) => s.kind === "extract")?.details["from"], { since: undefined, cursor: undefined }, "a full refresh pulls from the start");
  await runUsers(api, dataDir, "2026-12-06", { fullRefresh: true });
  assert.equal((await rows(dataDir, "select count(*) from users where user_id = 999999999"))[0]?.[0], 0, "the full refresh replaced the table");
  assert.deepEqual(await rows(dataDir, USERS), await fullPull(t, api));

  const status = await runSluice(["status", "users", "--data-dir", dataDir]);
  assert.equal(status.code, 0, status.stderr);
  const mark = (await marks(dataDir))[0]?.[2] as string;
  assert.match(status.stdout, /incremental sources continue from:/);
  assert.ok(status.stdout.includes(mark), `the mark ${mark} in:\n${status.stdout}`);
});

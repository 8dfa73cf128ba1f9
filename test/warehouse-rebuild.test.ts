/**
 * The lake is a whole backup: a lost or damaged warehouse is rebuilt from it, data tables and
 * bookkeeping (runs, quarantine, checks, requests) equal to what they were.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rename, rm, truncate } from "node:fs/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { LockError } from "../src/core/errors.ts";
import { lakePartitionPath } from "../src/load/lake.ts";
import { acquireLock } from "../src/load/locks.ts";
import { rebuildWarehouse } from "../src/load/rebuild.ts";
import { query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { WAREHOUSE_BLOCK_SIZE } from "../src/load/warehouse-gate.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { makeEventDays, makeUsers, startContractServer } from "./fixtures/contract-server.ts";
import { warehouseBlockSize as blockSize } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { runSluice } from "./support/sluice.ts";

const catalog = await JobCatalog.load(BUILTIN_JOBS_DIR);
const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19"] as const;
const TABLES = ["events", "sessions", "users", "sluice.runs", "sluice.quarantine", "sluice.checks", "sluice.requests"];

/** Every row of every table (of `tables`), in a stable order. */
async function everything(dataDir: string, tables: readonly string[] = TABLES): Promise<Record<string, unknown[][]>> {
  return withWarehouse(dataDir, "read", async (conn) => {
    const out: Record<string, unknown[][]> = {};
    for (const table of tables) out[table] = (await query(conn, `select * from ${table} order by all`)).rows;
    return out;
  });
}

test("a truncated warehouse is rebuilt from the lake with the same tables, runs, quarantine, checks and requests", async (t) => {
  const days: Record<string, unknown[]> = makeEventDays(51, [...DAYS], 150);
  const api = await startContractServer({ days, users: makeUsers(51, 30) });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const cli = (...args: string[]) => runSluice([...args, "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal((await cli("run", "users", "--date", DAYS[0])).code, 0);
  assert.equal((await cli("backfill", "events", "--from", DAYS[0], "--to", DAYS[2])).code, 0);
  // A failed run too: an empty listing for a loaded day is refused.
  const saved = days[DAYS[1]] ?? [];
  days[DAYS[1]] = [];
  assert.equal((await cli("run", "events", "--date", DAYS[1])).code, 1);
  days[DAYS[1]] = saved;
  const before = await everything(dataDir);
  assert.ok((before["sluice.quarantine"] ?? []).length > 0, "the fixture has quarantined records");
  assert.deepEqual((before["sluice.runs"] ?? []).map((r) => r[3]).sort(), ["failed", "succeeded", "succeeded", "succeeded", "succeeded"]);

  await truncate(warehousePath(dataDir), 4096);
  await rm(`${warehousePath(dataDir)}.wal`, { force: true });
  const broken = await runSluice(["query", "select count(*) from events", "--data-dir", dataDir]);
  assert.notEqual(broken.code, 0, "the damaged warehouse does not answer");

  const rebuilt = await runSluice(["warehouse", "rebuild", "--data-dir", dataDir]);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /events\s+3\s+\d+\s+job declaration/);
  assert.match(rebuilt.stdout, /sluice\.runs\s+5\s+lake\/_sluice/);
  const kept = /kept as (\S+) /.exec(rebuilt.stdout)?.[1];
  assert.ok(kept && existsSync(kept), `the old file is kept: ${rebuilt.stdout}`);
  assert.deepEqual(await everything(dataDir), before);

  // The rebuilt warehouse carries on: a rerun loads (changing nothing) and lake views answer.
  assert.equal((await cli("run", "events", "--date", DAYS[2])).code, 0);
  const lake = await withWarehouse(dataDir, "read", (conn) => query(conn, "select count(*) from lake.events"));
  assert.equal(Number(lake.rows[0]?.[0]), (before["events"] ?? []).length);
});

test("a rebuild skips a lake file it cannot read, naming it, and refuses while a run holds a lock", async (t) => {
  const api = await startContractServer({ days: makeEventDays(52, [DAYS[0], DAYS[1]], 200) });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  for (const dt of [DAYS[0], DAYS[1]]) assert.equal((await runPartition(catalog.get("events"), dt, testRunSettings(dataDir, api.url))).status, "succeeded");
  const tables = catalog.entries.flatMap((e) => e.job.tables);
  const bad = lakePartitionPath(dataDir, "events", DAYS[0]);
  await truncate(bad, 10);

  const lock = await acquireLock(dataDir, `run-events-${DAYS[1]}`, { wait: false, owner: { runId: "busy-run" } });
  await assert.rejects(rebuildWarehouse(dataDir, tables), (e: unknown) => e instanceof LockError && /while run busy-run holds lock run-events-2026-11-18/.test(e.message));
  await lock.release();

  const report = await rebuildWarehouse(dataDir, tables);
  assert.ok(report.problems.some((p) => p.includes(`events dt=${DAYS[0]} skipped`) && p.includes(bad)), report.problems.join("\n"));
  assert.deepEqual(report.tables.find((r) => r.table === "events")?.partitions, 1);
  const days = await withWarehouse(dataDir, "read", (conn) => query(conn, "select distinct dt::varchar from events"));
  assert.deepEqual(days.rows, [[DAYS[1]]]);
});

/** Rewrites the data dir's warehouse as DuckDB's default would have made it (256 KiB blocks), as an earlier Sluice did. */
async function rewriteWithDefaultBlocks(dataDir: string): Promise<void> {
  const file = warehousePath(dataDir);
  const copy = `${file}.default-blocks`;
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    await conn.run(`attach '${file}' as old (read_only)`);
    await conn.run(`attach '${copy}' as copy (block_size 262144)`);
    await conn.run("copy from database old to copy");
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  await rename(copy, file);
}

test("a warehouse with DuckDB's default 256 KiB blocks is rebuilt with 64 KiB ones and the same rows", async (t) => {
  const api = await startContractServer({ days: makeEventDays(53, [DAYS[0]], 120) });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  assert.equal((await runPartition(catalog.get("events"), DAYS[0], testRunSettings(dataDir, api.url))).status, "succeeded");
  assert.equal(await blockSize(dataDir), WAREHOUSE_BLOCK_SIZE);
  const tables = TABLES.filter((table) => table !== "users");
  const before = await everything(dataDir, tables);
  assert.ok((before["events"] ?? []).length > 0 && (before["sluice.runs"] ?? []).length === 1);
  await rewriteWithDefaultBlocks(dataDir);
  assert.equal(await blockSize(dataDir), 262_144);
  assert.deepEqual(await everything(dataDir, tables), before);

  await rebuildWarehouse(dataDir, catalog.entries.flatMap((e) => e.job.tables));
  assert.equal(await blockSize(dataDir), WAREHOUSE_BLOCK_SIZE);
  assert.deepEqual(await everything(dataDir, tables), before);
});

/**
 * The lake under damage and relocation: a corrupt partition file is named, read as missing by its
 * neighbours and healed by a rerun of its day; lake views read the data dir they are opened from,
 * whatever its path holds; a data dir copied or moved reads its own files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, rename, truncate } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { CorruptFileError } from "../src/core/errors.ts";
import { lakePartitionPath, readLakePartitions, writeLakePartition } from "../src/load/lake.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { runSluice } from "./support/sluice.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
const [D0, D1, D2] = ["2026-11-17", "2026-11-18", "2026-11-19"] as const;

async function rowsOf(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

test("a truncated lake file is named, its neighbours run without it, and a rerun of its day heals it", async (t) => {
  const api = await startContractServer({ days: makeEventDays(31, [D0, D1, D2], 120) });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  for (const dt of [D0, D1, D2]) assert.equal((await runPartition(getJob("events"), dt, testRunSettings(dataDir, api.url))).status, "succeeded");
  const d1Rows = await rowsOf(dataDir, `select count(*) from events where dt = '${D1}'`);
  const file = lakePartitionPath(dataDir, "events", D1);
  await truncate(file, 100);

  // A neighbour (D2 reads D0..D4): it runs, says which file is bad, and leaves that day alone.
  const neighbour = await runSluice(["run", "events", "--date", D2, "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal(neighbour.code, 0, neighbour.stderr);
  assert.ok(neighbour.stderr.includes(file), `the warning names ${file}:\n${neighbour.stderr}`);
  assert.match(neighbour.stderr, new RegExp(`sluice run events --date ${D1}`));
  const checks = await rowsOf(dataDir, `select passed, sample from sluice.checks where dt = '${D2}' and check_name = 'lake: neighbouring events partitions readable'`);
  assert.equal(checks.length, 1);
  assert.equal(checks[0]?.[0], false);
  assert.ok(String(checks[0]?.[1]).includes(`dt=${D1}`), String(checks[0]?.[1]));
  assert.deepEqual(await rowsOf(dataDir, `select count(*) from events where dt = '${D1}'`), d1Rows, "the corrupt day's loaded rows are not wiped");
  assert.throws(() => pl.readParquet(file), "the neighbour did not rewrite the corrupt day from a window that lacks it");

  // The day itself: its own partition is rewritten anyway, so its rerun heals the lake.
  const healed = await runSluice(["run", "events", "--date", D1, "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal(healed.code, 0, healed.stderr);
  assert.equal(pl.readParquet(file).height, Number(d1Rows[0]?.[0]));
  const viaView = await runSluice(["query", `select count(*) as n from lake.events where dt = '${D1}'`, "--format", "csv", "--data-dir", dataDir]);
  assert.equal(viaView.code, 0, viaView.stderr);
  assert.equal(viaView.stdout.trim().split("\n")[1], String(d1Rows[0]?.[0]));
});

test("reading a corrupt lake partition throws CorruptFileError naming the file, or reports it and reads it as missing", async (t) => {
  const dataDir = await tempDataDir(t);
  const frame = pl.DataFrame({ event_id: ["a", "b"], dt: [D0, D0] });
  await writeLakePartition(dataDir, "events", D0, frame);
  const bad = await writeLakePartition(dataDir, "events", D1, frame);
  await truncate(bad, 0);
  await assert.rejects(readLakePartitions(dataDir, "events", [D0, D1]), (e: unknown) => e instanceof CorruptFileError && e.file === bad && e.message.includes(bad));
  const seen: string[] = [];
  const read = await readLakePartitions(dataDir, "events", [D0, D1], (error, dt) => seen.push(`${dt} ${error.file}`));
  assert.equal(read?.height, 2);
  assert.deepEqual(seen, [`${D1} ${bad}`]);
});

test("lake views read the data dir they are opened from: glob characters in its path, a copy and a move", async (t) => {
  const api = await startContractServer({ days: makeEventDays(32, [D1], 80) });
  t.after(() => api.close());
  const root = await tempDataDir(t);
  const original = path.join(root, "data [1]*x");
  await mkdir(original);
  const run = await runSluice(["run", "events", "--date", D1, "--api-url", api.url, "--data-dir", original]);
  assert.equal(run.code, 0, run.stderr);
  const [[loaded]] = (await rowsOf(original, "select count(*) from events")) as [[number]];
  assert.deepEqual(await rowsOf(original, "select count(*) from lake.events"), [[loaded]]);

  // A copy reads its own lake: change the original's file, the copy does not see it.
  const copy = path.join(root, "copy [2]");
  await cp(original, copy, { recursive: true });
  await writeLakePartition(original, "events", D1, pl.readParquet(lakePartitionPath(original, "events", D1)).head(3));
  assert.deepEqual(await rowsOf(original, "select count(*) from lake.events"), [[3]]);
  assert.deepEqual(await rowsOf(copy, "select count(*) from lake.events"), [[loaded]]);

  // A moved data dir keeps working, through the CLI too.
  const moved = path.join(root, "moved [3]");
  await rename(copy, moved);
  const q = await runSluice(["query", "select count(*) as n from lake.events", "--format", "csv", "--data-dir", moved]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout.trim().split("\n")[1], String(loaded));
});

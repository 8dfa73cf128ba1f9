/** `sluice query` as users and attackers run it: read-only in fact, big results in bounded memory, a time limit, files it may write. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, readFile, readdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { eventRows, loadEvents, writeEvents, ROOT } from "./fixtures/load.ts";
import { cli } from "./fixtures/cli.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, type SluiceExit } from "./support/sluice.ts";

/** A data dir with a loaded events partition (table, lake view, sluice.runs) and its lake file. */
async function loadedDataDir(t: TestContext): Promise<{ dataDir: string; lakeFile: string }> {
  const dataDir = await tempDataDir(t);
  const lakeFile = await writeEvents(dataDir, "2026-11-20", eventRows([1, 2, 3]));
  await loadEvents(dataDir, "run-1", [["2026-11-20", lakeFile]]);
  return { dataDir, lakeFile };
}

async function sha256(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

test("sluice query is read-only: COPY, EXPORT, ATTACH, SET, INSTALL and files outside the lake are refused, and the lake views still answer", async (t) => {
  const { dataDir, lakeFile } = await loadedDataDir(t);
  const outside = await tempDataDir(t, "sluice-outside-");
  await writeFile(path.join(outside, "secret.txt"), "the-secret-4f1c\n");
  await copyFile(warehousePath(dataDir), path.join(outside, "other.duckdb"));
  const before = { warehouse: await sha256(warehousePath(dataDir)), lake: await sha256(lakeFile), other: await sha256(path.join(outside, "other.duckdb")) };
  const lake = path.join(dataDir, "lake");
  const attacks = [
    `COPY (SELECT 1) TO '${warehousePath(dataDir)}' (FORMAT csv)`,
    `COPY (SELECT 42 AS x) TO '${lakeFile}' (FORMAT parquet)`,
    `EXPORT DATABASE '${path.join(outside, "export")}'`,
    `ATTACH '${path.join(outside, "other.duckdb")}' AS other (READ_WRITE)`,
    `ATTACH '${path.join(outside, "other.duckdb")}' AS other (READ_WRITE); INSERT INTO other.events SELECT * FROM other.events`,
    "select * from read_text('/etc/shadow')",
    `select * from read_text('${path.join(outside, "secret.txt")}')`,
    `select * from read_text('${lake}/${path.relative(lake, path.join(outside, "secret.txt"))}')`,
    // The relative "lake/" the views use is allowed as written; ".." out of it is not.
    `select * from read_text('lake/${path.relative(lake, path.join(outside, "secret.txt"))}')`,
    "select * from read_blob('lake/../warehouse.duckdb')",
    "select * from glob('/root/*')",
    `select * from glob('${outside}/*')`,
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "INSTALL httpfs",
    "PRAGMA enable_profiling",
  ];
  const results: SluiceExit[] = [];
  for (const sql of attacks) results.push(await cli(["query", sql, "--data-dir", dataDir, "--format", "csv"]));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, `refused with a usage error: ${attacks[i]}\n${(r.stdout + r.stderr).slice(0, 300)}`);
    assert.equal(r.stdout, "", `nothing printed: ${attacks[i]}`);
    assert.doesNotMatch(r.stderr, /the-secret-4f1c/);
  });
  assert.match(results[0]?.stderr ?? "", /read-only: COPY statements are not allowed/);
  assert.match(results[5]?.stderr ?? "", /Permission Error[^\n]*\/etc\/shadow/);
  assert.match(results[4]?.stderr ?? "", /2 statements.*ran none of them/);
  assert.deepEqual(
    { warehouse: await sha256(warehousePath(dataDir)), lake: await sha256(lakeFile), other: await sha256(path.join(outside, "other.duckdb")) },
    before,
    "no file changed",
  );
  assert.equal(existsSync(path.join(outside, "export")), false, "nothing exported");

  // What a query is for still works: tables, the lake views over the Parquet files, DESCRIBE, EXPLAIN.
  const views = await cli(["query", "select (select count(*) from lake.events) as lake_rows, (select count(*) from events) as table_rows, (select count(*) from sluice.runs) as runs", "--data-dir", dataDir, "--format", "json"]);
  const describe = await cli(["query", "describe lake.events", "--data-dir", dataDir, "--format", "json"]);
  const explain = await cli(["query", "explain select * from lake.events", "--data-dir", dataDir]);
  assert.equal(views.code, 0, views.stderr);
  assert.deepEqual(JSON.parse(views.stdout), [{ lake_rows: 3, table_rows: 3, runs: 1 }]);
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(describe.stdout, /"column_name":"event_id"/);
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(explain.stdout, /┌─+┐/, "EXPLAIN prints DuckDB's plan itself");
  assert.doesNotMatch(explain.stdout, /shape:|\\n/);

  // The sluice process itself, once: exit code 2, nothing written.
  const real = await runSluice(["query", attacks[0] ?? "", "--data-dir", dataDir]);
  assert.equal(real.code, 2, real.stderr.slice(0, 300));
  assert.equal(await sha256(warehousePath(dataDir)), before.warehouse);
});

test("several statements in one query run none of them and print nothing", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const result = await cli(["query", "select 'first' as a; select 'second' as b", "--data-dir", dataDir]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /query has 2 statements; sluice query runs one at a time and ran none of them/);
  // One statement with a trailing semicolon is one statement.
  const one = await cli(["query", "select 'only' as a;", "--data-dir", dataDir, "--format", "csv"]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, "a\nonly\n");
});

/** Peak resident memory (VmHWM, KiB) of a process, read from /proc until it exits. */
function watchPeakRss(pid: number): { stop: () => number } {
  let peak = 0;
  const read = (): void => {
    readFile(`/proc/${pid}/status`, "utf8").then(
      (status) => (peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
      () => undefined,
    );
  };
  const timer = setInterval(read, 50);
  read();
  return { stop: () => (clearInterval(timer), peak) };
}

test("a 3,000,000-row result streams out as CSV in bounded memory", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  // Consume stdout as it comes (counting lines), as `> file` or a pipe would.
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "sluice.mjs"), "query", "select i, 'row ' || i as label from range(3000000) r(i)", "--format", "csv", "--timeout", "10m", "--data-dir", dataDir], { cwd: ROOT });
  const peak = watchPeakRss(child.pid ?? 0);
  let lines = 0;
  let last = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    const text = d.toString();
    lines += text.split("\n").length - 1;
    last = (last + text).slice(-40);
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const peakKiB = peak.stop();
  assert.equal(code, 0, stderr);
  assert.equal(lines, 3_000_001, "a header and every row");
  assert.match(last, /\n2999999,row 2999999\n$/);
  // Holding the rows (the old way) took over 1 GiB here; streaming stays near the process's base size.
  assert.ok(peakKiB > 0 && peakKiB < 450 * 1024, `peak RSS ${Math.round(peakKiB / 1024)} MiB`);
});

test("the table format shows the first and last rows of 3,000,000 with the shape and a note of what was cut", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const result = await cli(["query", "select i from range(3000000) r(i)", "--max-rows", "6", "--timeout", "10m", "--data-dir", dataDir]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "shape: (3_000_000, 1)");
  const cells = lines.filter((l) => l.startsWith("│")).map((l) => l.replace(/[│\s]/g, ""));
  assert.deepEqual(cells, ["i", "---", "i64", "0", "1", "2", "…", "2999997", "2999998", "2999999"]);
  assert.equal(lines.at(-1), "3,000,000 rows, 6 shown: pass --max-rows N for more, or --format csv, json or parquet (--output FILE) for all of them");
});

test("JSON output is streamed, keeps repeated column names apart and writes any year and the infinities", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const sql = `select 1 as a, 2 as a, 3 as a_1, '290000-01-01 00:00:00+00'::timestamptz as far, '0050-06-01'::date as early, 'infinity'::timestamp as inf, '-infinity'::date as neg_inf`;
  const result = await cli(["query", sql, "--format", "json", "--data-dir", dataDir]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), [{ a: 1, a_2: 2, a_1: 3, far: "+290000-01-01T00:00:00.000Z", early: "0050-06-01", inf: "infinity", neg_inf: "-infinity" }]);
  const table = await cli(["query", sql, "--data-dir", dataDir]);
  assert.match(table.stdout, /\+290000-01-01 00:00:00 .*0050-06-01 .*infinity .*-infinity/);

  const empty = await cli(["query", "select 1 as a where false", "--format", "json", "--data-dir", dataDir]);
  assert.deepEqual(JSON.parse(empty.stdout), []);
});

test("DuckDB values become JSON over DuckDB's whole timestamp range, not through a JS Date", async (t) => {
  const dataDir = await tempDataDir(t);
  const result = await withWarehouse(dataDir, "read", (conn) =>
    query(
      conn,
      `select '294247-01-10 04:00:54.775806'::timestamp as max_ts, '-290000-03-01 12:00:00'::timestamp as bc, '1969-12-31 23:59:59.999999+00'::timestamptz as before_epoch,
              '290000-02-29 00:00:00'::timestamp_ms as ms, '2000-02-29 00:00:00'::timestamp_s as s, 'infinity'::timestamptz as inf, '5881580-07-10'::date as last_day`,
    ),
  );
  assert.deepEqual(result.rows, [["+294247-01-10T04:00:54.775806", "-290000-03-01T12:00:00.000", "1969-12-31T23:59:59.999999Z", "+290000-02-29T00:00:00.000", "2000-02-29T00:00:00.000", "infinity", "+5881580-07-10"]]);
});

test("--format parquet --output writes a new file outside the data dir, whole, and refuses the data dir, an existing file and a missing --output", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const outside = await tempDataDir(t, "sluice-extract-");
  const target = path.join(outside, "extract.parquet");
  const sql = "select i, i * 2 as twice from range(100000) r(i)";
  const run = (...flags: string[]): Promise<SluiceExit> => cli(["query", sql, "--data-dir", dataDir, ...flags]);
  const written = await run("--format", "parquet", "--output", target);
  const csv = await run("--format", "csv", "--output", path.join(outside, "extract.csv"));
  const noOutput = await run("--format", "parquet");
  const inData = await run("--format", "parquet", "--output", path.join(dataDir, "lake", "x.parquet"));
  const tableOut = await run("--output", path.join(outside, "table.txt"));
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stderr ?? "", /wrote 100,000 rows to .*extract\.parquet/);
  assert.equal(written.stdout, "");
  const back = await withWarehouse(outside, "read", (conn) => query(conn, `select count(*), sum(twice) from read_parquet('${target}')`));
  assert.deepEqual(back.rows, [[100000, 9999900000]]);
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal((await readFile(path.join(outside, "extract.csv"), "utf8")).split("\n").length, 100_002);
  assertUsage(noOutput, /--format parquet writes a file: give it --output FILE/);
  assertUsage(inData, /is inside the data directory/);
  assertUsage(tableOut, /--output takes --format csv, json or parquet/);
  assert.equal(existsSync(path.join(dataDir, "lake", "x.parquet")), false);

  const before = await sha256(target);
  assertUsage(await cli(["query", "select 1", "--format", "parquet", "--output", target, "--data-dir", dataDir]), /already exists; sluice query does not overwrite files/);
  assert.equal(await sha256(target), before, "the existing file is untouched");
  // A failing query leaves no partial or temporary file behind.
  const failed = await cli(["query", "select 1/0::int as boom from range(10) where error('stop')", "--format", "parquet", "--output", path.join(outside, "failed.parquet"), "--data-dir", dataDir]);
  assert.equal(failed.code, 2, failed.stderr);
  assert.deepEqual((await readdir(outside)).sort(), ["extract.csv", "extract.parquet"]);
});

function assertUsage(result: SluiceExit | undefined, pattern: RegExp): void {
  assert.equal(result?.code, 2, `exit 2 expected: ${result?.stderr}`);
  assert.match(result?.stderr ?? "", pattern);
}

test("a query longer than --timeout is stopped and says so; --timeout takes durations only", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const slow = await cli(["query", "select count(*) from range(100000000000)", "--timeout", "1s", "--data-dir", dataDir]);
  const bad = await cli(["query", "select 1", "--timeout", "1e1", "--data-dir", dataDir]);
  assert.equal(slow.code, 1, slow.stderr);
  assert.match(slow.stderr, /the query ran longer than --timeout 1s and was stopped/);
  assert.match(slow.stderr, /loads wait while a query holds the warehouse/);
  assertUsage(bad, /--timeout "1e1" must be a duration like 30s/);
  // The warehouse is free again at once: a write session opens without waiting.
  const messages: string[] = [];
  await withWarehouse(dataDir, "write", async () => undefined, { waitMs: 5000, onWait: (m) => messages.push(m) });
  assert.deepEqual(messages, []);
});

test("query and status use only the data directory: a malformed SLUICE_API_URL or pushgateway URL does not stop them", async (t) => {
  const { dataDir } = await loadedDataDir(t);
  const env = { SLUICE_API_URL: "ftp://not-http", SLUICE_PUSHGATEWAY_URL: "not a url", SLUICE_DATA_DIR: dataDir };
  const q = await cli(["query", "select count(*) as n from events", "--format", "csv"], env);
  const status = await cli(["status"], env);
  const run = await cli(["run", "events", "--date", "2026-11-20"], env);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, "n\n3\n");
  assert.equal(status.code, 0, status.stderr);
  // A command that uses the URL still refuses it.
  assertUsage(run, /api-url "ftp:\/\/not-http" is not an http\(s\) URL/);
});

/** Warehouse sessions: waiting on another process's lock, the in-process readers/writer gate, nesting, cancelling, and JSON values out. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LockError } from "../src/core/errors.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ensureWarehouse, query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { sluiceSchemaEnsured, tableExists } from "../src/load/schema.ts";
import { WarehouseGate, WAREHOUSE_BLOCK_SIZE } from "../src/load/warehouse-gate.ts";
import { existsSync } from "node:fs";
import { EVENTS, eventRows, loadEvents, ROOT, rows, spawnChild, warehouseBlockSize as blockSize, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";

const holdWarehouse = `
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const inst = await DuckDBInstance.create(process.env.WAREHOUSE);
  const conn = await inst.connect();
  await conn.run("CREATE TABLE IF NOT EXISTS held (i INTEGER)");
  process.stdout.write("ready\\n");
  await new Promise((r) => setTimeout(r, Number(process.env.HOLD_MS)));
  conn.closeSync();
  inst.closeSync();`;

test("a reader waits while another process holds the warehouse, then succeeds; with a short wait it throws LockError", async (t) => {
  const dataDir = await tempDataDir(t);
  await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
  const env = { WAREHOUSE: warehousePath(dataDir), HOLD_MS: "1500" };

  const holder = await spawnChild(`(async () => { ${holdWarehouse} })()`, env);
  const messages: string[] = [];
  const t0 = Date.now();
  const result = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "SELECT count(*) FROM held")).rows, {
    waitMs: 20_000,
    onWait: (m) => messages.push(m),
  });
  const waited = Date.now() - t0;
  assert.deepEqual(result, [[0]]);
  assert.deepEqual(messages, ["warehouse is busy (a load is running); waiting…"]);
  assert.ok(waited >= 1000, `waited only ${waited} ms`);
  assert.equal(await holder.exited, 0);

  const second = await spawnChild(`(async () => { ${holdWarehouse} })()`, env);
  t.after(() => second.child.kill("SIGKILL"));
  const t1 = Date.now();
  await assert.rejects(withWarehouse(dataDir, "read", async () => 1, { waitMs: 300 }), (e: unknown) => {
    assert.ok(e instanceof LockError, String(e));
    assert.equal(e.transient, true);
    assert.ok(e.hint?.includes("another process"));
    return true;
  });
  assert.ok(Date.now() - t1 < 1400, "gave up after waitMs, not after the holder let go");
  second.child.kill("SIGKILL");
  await second.exited;
});

test("in one process, readers share the warehouse and a writer waits for them without calling its own process busy", async (t) => {
  const dataDir = await tempDataDir(t);
  await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
  const order: string[] = [];
  const slowRead = (name: string) =>
    withWarehouse(dataDir, "read", async (conn) => {
      order.push(`${name} start`);
      await query(conn, "SELECT count(*) FROM events");
      await new Promise((r) => setTimeout(r, 200));
      order.push(`${name} end`);
    });
  const waits: string[] = [];
  const reads = [slowRead("r1"), slowRead("r2")];
  const write = withWarehouse(dataDir, "write", async () => void order.push("write"), { onWait: (m) => waits.push(m) });
  await Promise.all([...reads, write]);
  assert.deepEqual(order.slice(0, 2).sort(), ["r1 start", "r2 start"]);
  assert.equal(order.at(-1), "write");
  // A backfill's partitions take turns on the warehouse by design: "warehouse is busy (a load is
  // running)" is for other processes only.
  assert.deepEqual(waits, []);
});

test("a nested withWarehouse on the same file fails at once instead of waiting on itself", async (t) => {
  const dataDir = await tempDataDir(t);
  const t0 = Date.now();
  await assert.rejects(
    withWarehouse(dataDir, "write", () => withWarehouse(dataDir, "read", async () => 1)),
    /inside another withWarehouse/,
  );
  assert.ok(Date.now() - t0 < 5000);
  // A different data dir is a different warehouse: nesting is fine.
  const other = await tempDataDir(t);
  assert.equal(await withWarehouse(dataDir, "write", () => withWarehouse(other, "write", async () => 7)), 7);
});

test("an aborted signal cancels a wait for the warehouse", async (t) => {
  const dataDir = await tempDataDir(t);
  const controller = new AbortController();
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const held = withWarehouse(dataDir, "write", () => new Promise<void>((r) => ((release = r), entered())));
  await inside; // the writer holds the warehouse now, however slow the machine is
  const waiting = withWarehouse(dataDir, "read", async () => 1, { signal: controller.signal });
  controller.abort();
  await assert.rejects(waiting, (e: unknown) => (e as Error).name === "CancelledError");
  release();
  await held;
});

test("a warehouse query returns JSON-friendly values", async (t) => {
  const dataDir = await tempDataDir(t);
  const result = await withWarehouse(dataDir, "read", (conn) =>
    query(
      conn,
      `SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, TIMESTAMPTZ '2026-11-20 10:00:00.123456+00' AS us,
              TIMESTAMPTZ '2026-11-20 10:00:00+02' AS ms, DATE '2026-11-20' AS d, 1.50::DECIMAL(10,2) AS dec, [1, 2] AS list, NULL AS nothing`,
    ),
  );
  assert.deepEqual(result.columns, ["small", "big", "us", "ms", "d", "dec", "list", "nothing"]);
  assert.equal(result.types[2], "TIMESTAMP WITH TIME ZONE");
  assert.deepEqual(result.rows, [[42, "9007199254740993", "2026-11-20T10:00:00.123456Z", "2026-11-20T08:00:00.000Z", "2026-11-20", "1.50", [1, 2], null]]);
});

test("a warehouse the load creates has 64 KiB blocks, and a file made with DuckDB's default blocks keeps them and still loads", async (t) => {
  const fresh = await tempDataDir(t);
  await loadEvents(fresh, "r1", [["2026-11-20", await writeEvents(fresh, "2026-11-20", eventRows([1, 2, 3]))]]);
  assert.equal(WAREHOUSE_BLOCK_SIZE, 65_536);
  assert.equal(await blockSize(fresh), WAREHOUSE_BLOCK_SIZE);

  // A warehouse an earlier Sluice created (DuckDB's 256 KiB default): opened as it is, never rewritten.
  const older = await tempDataDir(t);
  await changeElsewhere(warehousePath(older), "CREATE TABLE seed AS SELECT 1 AS x");
  assert.equal(await blockSize(older), 262_144);
  await loadEvents(older, "r1", [["2026-11-20", await writeEvents(older, "2026-11-20", eventRows([1, 2, 3]))]]);
  assert.equal(await blockSize(older), 262_144);
  assert.deepEqual(await rows(older, "SELECT count(*) FROM main.events"), [[3]]);
});

/** Runs `body` (an ES module body with DuckDBInstance in scope) in another process with WAREHOUSE=file and `env`; its stdout. */
async function inAnotherProcess(file: string, body: string, env: Record<string, string> = {}): Promise<string> {
  const code = `const { DuckDBInstance } = await import("@duckdb/node-api");\n${body}`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, env: { ...process.env, WAREHOUSE: file, ...env } });
  return stdout;
}

/** Whether another process can open the warehouse file right now (one READ_ONLY attempt, no retry). */
async function openableElsewhere(file: string): Promise<boolean> {
  const stdout = await inAnotherProcess(
    file,
    `try { (await DuckDBInstance.create(process.env.WAREHOUSE, { access_mode: "READ_ONLY" })).closeSync(); process.stdout.write("opened"); }
     catch (e) { if (!/lock/i.test(String(e))) throw e; process.stdout.write("locked"); }`,
  );
  assert.match(stdout, /^(opened|locked)$/);
  return stdout === "opened";
}

/** What another process reads from the warehouse file right now (READ_ONLY). */
async function readElsewhere(file: string, sql: string): Promise<string> {
  return inAnotherProcess(
    file,
    `const inst = await DuckDBInstance.create(process.env.WAREHOUSE, { access_mode: "READ_ONLY" });
     const rows = (await (await inst.connect()).runAndReadAll(process.env.SQL)).getRows();
     process.stdout.write(JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));`,
    { SQL: sql },
  );
}

/** Runs `sql` in another process with the warehouse file open read-write (as a user's DuckDB session would). */
async function changeElsewhere(file: string, sql: string): Promise<void> {
  await inAnotherProcess(file, `const inst = await DuckDBInstance.create(process.env.WAREHOUSE); await (await inst.connect()).run(process.env.SQL); inst.closeSync();`, { SQL: sql });
}

/** True when the connection's instance has the in-memory database `scratch` attached (attachments last until the session lets go of the file). */
async function hasScratch(conn: Parameters<Parameters<typeof withWarehouse>[2]>[0]): Promise<boolean> {
  return (await query(conn, "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'scratch'")).rows[0]?.[0] === 1;
}

test("a write that lingers keeps the file open for this process's next write, which reuses the same instance and closes it", async (t) => {
  const dataDir = await tempDataDir(t);
  const gate = WarehouseGate.of(warehousePath(dataDir));
  await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run("CREATE TABLE marks (i INTEGER)");
    await conn.run("INSERT INTO marks VALUES (1)");
    await conn.run("ATTACH ':memory:' AS scratch");
  }, { lingerMs: 60_000 });
  assert.equal(gate.lingering, true);
  assert.equal(await openableElsewhere(warehousePath(dataDir)), false, "another process waits while the file lingers");
  const reused = await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run("INSERT INTO marks VALUES (2)");
    return hasScratch(conn);
  });
  assert.equal(reused, true, "the second write ran on the lingering instance, not a fresh open");
  assert.equal(gate.lingering, false, "a write without linger closes it");
  assert.equal(await openableElsewhere(warehousePath(dataDir)), true);
  const fresh = await withWarehouse(dataDir, "read", async (conn) => [await hasScratch(conn), (await query(conn, "SELECT sum(i) FROM marks")).rows[0]?.[0]]);
  assert.deepEqual(fresh, [false, 3], "a later open is a new instance that reads both writes");
});

test("a lingering write hands its connection, with what it set up, to this process's next write; a fresh open gets a fresh one", async (t) => {
  const dataDir = await tempDataDir(t);
  const hasMarker = async (conn: Parameters<Parameters<typeof withWarehouse>[2]>[0]): Promise<boolean> =>
    Number((await query(conn, "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'session_marker'")).rows[0]?.[0]) === 1;
  await withWarehouse(dataDir, "write", (conn) => conn.run("CREATE TEMP TABLE session_marker AS SELECT 1 AS x"), { lingerMs: 60_000 });
  assert.equal(await withWarehouse(dataDir, "write", hasMarker), true, "the next write ran on the same connection");
  assert.equal(await withWarehouse(dataDir, "write", hasMarker), false, "after a close, a new connection starts clean");
});

test("a lingering file is closed by its timer, by a read (which reads what was written), and never after a failed write", async (t) => {
  const dataDir = await tempDataDir(t);
  const gate = WarehouseGate.of(warehousePath(dataDir));
  await withWarehouse(dataDir, "write", (conn) => conn.run("CREATE TABLE marks AS SELECT 7 AS i"), { lingerMs: 300 });
  assert.equal(gate.lingering, true);
  const deadline = Date.now() + 10_000;
  while (gate.lingering) {
    assert.ok(Date.now() < deadline, "the linger timer never closed the file");
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await openableElsewhere(warehousePath(dataDir)), true, "closed by the timer");

  await withWarehouse(dataDir, "write", (conn) => conn.run("INSERT INTO marks VALUES (8)"), { lingerMs: 60_000 });
  const read = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "SELECT sum(i) FROM marks")).rows[0]?.[0]);
  assert.equal(read, 15);
  assert.equal(gate.lingering, false, "a read opens READ_ONLY after closing the lingering write instance");

  await assert.rejects(withWarehouse(dataDir, "write", (conn) => conn.run("SELECT * FROM no_such_table"), { lingerMs: 60_000 }), /no_such_table/);
  assert.equal(gate.lingering, false, "a failed write closes at once");
  assert.equal(await openableElsewhere(warehousePath(dataDir)), true);
});

test("readers arriving together while a write lingers wait for its one close, and read the whole file", async (t) => {
  const dataDir = await tempDataDir(t);
  await withWarehouse(dataDir, "write", (conn) => conn.run("CREATE TABLE marks AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(200000)"));
  const read = (): Promise<unknown> => withWarehouse(dataDir, "read", async (conn) => (await query(conn, "SELECT count(*), count(DISTINCT s) FROM marks")).rows[0]);
  for (let round = 1; round <= 4; round++) {
    // A change whose checkpoint at close rewrites the table: a reader must not open the file midway.
    await withWarehouse(dataDir, "write", (conn) => conn.run(`UPDATE marks SET s = md5(s || ${round})`), { lingerMs: 60_000 });
    assert.deepEqual(await Promise.all([read(), read(), read()]), [[200000, 200000], [200000, 200000], [200000, 200000]], `round ${round}`);
    assert.equal(WarehouseGate.of(warehousePath(dataDir)).lingering, false);
  }
});

test("every write session lets go of the file checkpointed: no WAL stays beside it, and another process reads each write", async (t) => {
  const dataDir = await tempDataDir(t);
  const file = warehousePath(dataDir);
  await withWarehouse(dataDir, "write", (conn) => conn.run("CREATE TABLE marks (i INTEGER)"));
  for (const i of [1, 2]) {
    await withWarehouse(dataDir, "write", (conn) => conn.run(`INSERT INTO marks VALUES (${i})`));
    assert.equal(existsSync(`${file}.wal`), false, "a write-ahead log was left beside the file");
    assert.equal(await readElsewhere(file, "SELECT sum(i) FROM marks"), `[[${i === 1 ? 1 : 3}]]`);
  }
});

test("writes share one DuckDB instance per file in a process, each on a fresh connection attached to the file", async (t) => {
  const dataDir = await tempDataDir(t);
  const hostHas = (conn: Parameters<Parameters<typeof withWarehouse>[2]>[0]) => query(conn, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'memory' AND table_name = 'host_marker'");
  await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run("CREATE TEMP TABLE session_marker AS SELECT 1 AS x");
    await conn.run("CREATE TABLE memory.main.host_marker AS SELECT 1 AS x");
  });
  const second = await withWarehouse(dataDir, "write", async (conn) => ({
    host: (await hostHas(conn)).rows[0]?.[0],
    session: (await query(conn, "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'session_marker'")).rows[0]?.[0],
    database: (await query(conn, "SELECT current_database()")).rows[0]?.[0],
  }));
  assert.deepEqual(second, { host: 1, session: 0, database: "warehouse" });
  // The load's settings are the host's: bounded memory, spilling beside the file; rows in any order; UTC.
  const settings = await withWarehouse(dataDir, "write", async (conn) =>
    (await query(conn, "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order'), current_setting('temp_directory'), current_setting('TimeZone')")).rows[0],
  );
  assert.deepEqual(settings, ["366.2 MiB", false, `${warehousePath(dataDir)}.tmp`, "UTC"]);
  assert.equal(await openableElsewhere(warehousePath(dataDir)), true);
});

test("a write session on a file nobody changed starts from what the last one learned of the catalog; after another process changed it, it asks again", async (t) => {
  const dataDir = await tempDataDir(t);
  const file = warehousePath(dataDir);
  await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
  await loadEvents(dataDir, "r1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", eventRows([1, 2]))]]);
  assert.equal(await withWarehouse(dataDir, "write", async (conn) => sluiceSchemaEnsured(conn)), true, "the unchanged file's catalog was known");

  // Another process drops a bookkeeping table and a column the load knew of.
  await changeElsewhere(file, "DROP TABLE sluice.requests; ALTER TABLE events DROP COLUMN n");
  assert.equal(await withWarehouse(dataDir, "write", async (conn) => sluiceSchemaEnsured(conn)), false, "a changed file's catalog is asked again");
  await loadEvents(dataDir, "r2", [["2026-11-21", await writeEvents(dataDir, "2026-11-21", eventRows([3]))]]);
  assert.deepEqual(await rows(dataDir, "SELECT event_id, n FROM events ORDER BY event_id"), [[1, null], [2, null], [3, 3]], "the dropped column was added back");
  assert.equal(await withWarehouse(dataDir, "write", (conn) => tableExists(conn, "sluice", "requests")), true, "the dropped table was created again");
});

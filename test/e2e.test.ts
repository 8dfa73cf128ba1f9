/**
 * End to end against an independent server of the contract: Sluice's warehouse must equal an
 * independent DuckDB computation over all raw records, whatever order the days are run in.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { addDays } from "../src/core/dates.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import { runPartition, type RunSettings } from "../src/pipeline/index.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
import { makeEventDays, makeUsers, startContractServer, type ContractServer } from "./fixtures/contract-server.ts";
import { referencePipeline, type ReferenceResult } from "./fixtures/reference-pipeline.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const TOKEN = "e2e-secret-token-5f0c1d";
const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

function settingsFor(dataDir: string, server: ContractServer): RunSettings {
  return testRunSettings(dataDir, server.url, { SLUICE_API_TOKEN: TOKEN });
}

async function warehouseTables(dataDir: string) {
  return withWarehouse(dataDir, "read", async (conn) => {
    const events = await query(conn, "select event_id, user_id, epoch_us(ts)::varchar as ts_us, event_type, page, amount, session_id, dt::varchar as dt from events order by event_id");
    const sessions = await query(
      conn,
      "select session_id, user_id, epoch_us(session_start)::varchar as s, epoch_us(session_end)::varchar as e, duration_s, event_count, first_event_type, last_event_type, primary_action, has_purchase, revenue, dt::varchar as dt from sessions order by session_id",
    );
    const quarantine = await query(conn, "select dt::varchar as dt, record, reason from sluice.quarantine where job = 'events' order by dt, record");
    return { events: events.rows, sessions: sessions.rows, quarantine: quarantine.rows };
  });
}

function expectedTables(ref: ReferenceResult) {
  const events = ref.events
    .map((e) => [e.event_id, e.user_id, e.ts_us.toString(), e.event_type, e.page, e.amount, e.session_id, e.dt])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const sessions = ref.sessions
    .map((s) => [s.session_id, s.user_id, s.session_start_us.toString(), s.session_end_us.toString(), s.duration_s, s.event_count, s.first_event_type, s.last_event_type, s.primary_action, s.has_purchase, s.revenue, s.dt])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return { events, sessions };
}

/** Compares row sets with a readable first difference instead of a wall of rows. */
function assertSameRows(actual: unknown[][], expected: unknown[][], what: string): void {
  const norm = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r.map((v) => (typeof v === "number" ? Number(v.toFixed(6)) : v))));
  const a = norm(actual);
  const e = norm(expected);
  const missing = e.filter((x) => !a.includes(x));
  const extra = a.filter((x) => !e.includes(x));
  assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${what}: ${a.length} rows, expected ${e.length}`);
  assert.equal(a.length, e.length, `${what}: row count`);
}

function assertQuarantine(actual: unknown[][], ref: ReferenceResult): void {
  const ours = actual.map(([dt, record, reason]) => ({ key: `${String(dt)} ${JSON.stringify(JSON.parse(String(record)))}`, reason: String(reason) }));
  const expected = ref.quarantine.map((q) => ({ key: `${q.dt} ${JSON.stringify(q.record)}`, field: q.field, missing: q.missing }));
  assert.deepEqual(ours.map((o) => o.key).sort(), expected.map((e) => e.key).sort(), "quarantined records differ");
  for (const e of expected) {
    const o = ours.find((x) => x.key === e.key);
    assert.ok(o && o.reason.includes(e.field), `reason "${o?.reason}" of ${e.key} should name field ${e.field}`);
    // Exactly the absent or null fields fail not_null: a wrong-typed one is named by its decode reason alone.
    const notNull = [...o.reason.matchAll(/(\w+): not_null/g)].map((m) => m[1]);
    assert.deepEqual(notNull, e.missing, `reason "${o.reason}" of ${e.key}: not_null should name exactly ${e.missing.join(", ") || "no field"}`);
  }
}

test("a backfill through a flaky, token-protected independent server loads exactly what an independent computation expects", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(7, DAYS, 400);
  const server = await startContractServer({ days, users: makeUsers(7, 80), token: TOKEN, failEvery: 4 });
  t.after(() => server.close());
  const settings = settingsFor(dataDir, server);

  const users = await runPartition(getJob("users"), DAYS.at(-1) as string, settings);
  assert.equal(users.status, "succeeded", users.error ?? "");
  const outcomes = await runBackfill(getJob("events"), DAYS, { concurrency: 2, force: false, retryFailed: false }, settings);
  assert.deepEqual(outcomes.map((o) => o.status), DAYS.map(() => "succeeded"), outcomes.map((o) => o.error).join("; "));

  const ref = await referencePipeline(days);
  const got = await warehouseTables(dataDir);
  const want = expectedTables(ref);
  assertSameRows(got.events, want.events, "events");
  assertSameRows(got.sessions, want.sessions, "sessions");
  assertQuarantine(got.quarantine, ref);

  // The server really misbehaved and really required the token; the token never reached a table.
  const requests = server.requests();
  assert.ok(requests.some((r) => r.status === "reset" || (typeof r.status === "number" && r.status >= 429)), "the server injected failures");
  assert.ok(requests.every((r) => r.authorization === `Bearer ${TOKEN}`), "every request carried the token");
  const leaked = await withWarehouse(dataDir, "read", (conn) =>
    query(conn, `select count(*) from (select record as s from sluice.quarantine union all select coalesce(error, '') from sluice.runs union all select sample from sluice.checks) where s like '%${TOKEN}%'`),
  );
  assert.equal(Number(leaked.rows[0]?.[0]), 0, "the token leaked into the warehouse");
  const runs = await withWarehouse(dataDir, "read", (conn) => query(conn, "select count(*), count(*) filter (where finished_at > started_at) from sluice.runs where status = 'succeeded'"));
  assert.deepEqual(runs.rows[0]?.map(Number), [DAYS.length + 1, DAYS.length + 1], "every succeeded run has a start before its finish");
});

test("days run in a shuffled order with reruns converge to the sessions of all days computed at once", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(11, DAYS, 300);
  const server = await startContractServer({ days, users: makeUsers(11, 60) });
  t.after(() => server.close());
  const settings = settingsFor(dataDir, server);

  // Backward, with a gap filled later and a rerun of a middle day.
  const order = [DAYS[3], DAYS[1], DAYS[0], DAYS[1], DAYS[2], DAYS[3]] as string[];
  for (const dt of order) {
    const outcome = await runPartition(getJob("events"), dt, settings);
    assert.equal(outcome.status, "succeeded", `${dt}: ${outcome.error}`);
  }
  const ref = await referencePipeline(days);
  const got = await warehouseTables(dataDir);
  const want = expectedTables(ref);
  assertSameRows(got.events, want.events, "events");
  assertSameRows(got.sessions, want.sessions, "sessions");
});

test("rerunning a day with unchanged source data changes no row of any table", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(3, DAYS.slice(0, 2), 200);
  const server = await startContractServer({ days, users: makeUsers(3, 40) });
  t.after(() => server.close());
  const settings = settingsFor(dataDir, server);
  for (const dt of DAYS.slice(0, 2)) assert.equal((await runPartition(getJob("events"), dt, settings)).status, "succeeded");

  const snapshot = () =>
    withWarehouse(dataDir, "read", async (conn) => {
      const out: Record<string, unknown[][]> = {};
      for (const table of ["events", "sessions", "sluice.quarantine"]) out[table] = (await query(conn, `select * from ${table} order by all`)).rows;
      return out;
    });
  const before = await snapshot();
  const rerun = await runPartition(getJob("events"), DAYS[1] as string, settings);
  assert.equal(rerun.status, "succeeded");
  assert.deepEqual(await snapshot(), before);
  // Neighbouring day D-1 (DAYS[0]) is still there, whole.
  assert.ok((before["events"] ?? []).some((r) => String(r[7]).startsWith(addDays(DAYS[1] as string, -1))));
});

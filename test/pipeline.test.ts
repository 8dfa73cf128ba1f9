/**
 * The pipeline as a whole, in-process: blocking checks, changed source data, quality history and
 * landed pages. (The property that any order of daily runs converges: run-order.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { query, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { WarehouseGate } from "../src/load/warehouse-gate.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import { defineJob } from "../src/pipeline/job.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { defineSuite } from "../src/validate/index.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
import { eventsSource } from "../jobs/sources.ts";
import { EVENTS } from "../jobs/tables.ts";
import { makeEventDays, makeUsers, startContractServer } from "./fixtures/contract-server.ts";
import { referencePipeline } from "./fixtures/reference-pipeline.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { sessionState } from "./support/snapshots.ts";

const DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

const settingsFor = testRunSettings;

test("a rerun with changed source data makes the partition exactly the new data", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(21, DAYS.slice(0, 2), 150);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const settings = settingsFor(dataDir, server.url);
  for (const dt of DAYS.slice(0, 2)) assert.equal((await runPartition(getJob("events"), dt, settings)).status, "succeeded");

  // The source changes day 2: a third of the records vanish, one page gets a new value, a new event appears.
  const day2 = DAYS[1] as string;
  const changed = (days[day2] ?? []).filter((_, i) => i % 3 !== 0).map((r, i) => (i === 5 && typeof r === "object" && r !== null && "event_type" in r ? { ...r, event_type: "logout" } : r));
  changed.push({ event_id: "brand-new-event", user_id: 1, ts: `${day2}T12:34:56.789012Z`, event_type: "purchase", properties: { amount: 9.5 } });
  days[day2] = changed;
  assert.equal((await runPartition(getJob("events"), day2, settings)).status, "succeeded");

  const ref = await referencePipeline(days);
  const got = await withWarehouse(dataDir, "read", (conn) => query(conn, "select event_id, event_type, session_id, dt::varchar from events order by event_id"));
  assert.deepEqual(
    got.rows.map((r) => r.join("|")),
    ref.events.map((e) => [e.event_id, e.event_type, e.session_id, e.dt].join("|")).sort(),
  );
  const state = await sessionState(dataDir);
  assert.equal(state.sessions.length, ref.sessions.length);
});

test("after a backfill, sluice.checks holds results for every table and partition loaded", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(5, DAYS.slice(0, 3), 100);
  const server = await startContractServer({ days, users: makeUsers(5, 30) });
  t.after(() => server.close());
  const settings = settingsFor(dataDir, server.url);
  assert.equal((await runPartition(getJob("users"), DAYS[2] as string, settings)).status, "succeeded");
  const outcomes = await runBackfill(getJob("events"), DAYS.slice(0, 3), { concurrency: 2, force: false, retryFailed: false }, settings);
  assert.ok(outcomes.every((o) => o.status === "succeeded"));
  const rows = await withWarehouse(dataDir, "read", (conn) =>
    query(conn, "select job, table_name, dt::varchar, count(*) from sluice.checks group by all order by all"),
  );
  const present = new Set(rows.rows.map((r) => `${r[0]}/${r[1]}/${r[2]}`));
  for (const dt of DAYS.slice(0, 3)) {
    assert.ok(present.has(`events/events/${dt}`), `events checks for ${dt}`);
    assert.ok(present.has(`events/sessions/${dt}`), `sessions checks for ${dt}`);
  }
  assert.ok(present.has(`users/users/${DAYS[2]}`));
  const failedDirty = await withWarehouse(dataDir, "read", (conn) =>
    query(conn, "select count(*) from sluice.checks where table_name = 'events' and not passed and check_name = 'event_type: not_null'"),
  );
  assert.equal(Number(failedDirty.rows[0]?.[0]), 3, "the missing event_type of each day failed its check");
  // Unknown fields in the records are schema drift: reported once per run, as a warning, not fatal.
  const drift = await withWarehouse(dataDir, "read", (conn) =>
    query(conn, "select dt::varchar, passed, severity, columns from sluice.checks where check_name = 'schema drift: no unknown fields' and table_name = 'events' order by dt"),
  );
  assert.equal(drift.rows.length, 3, "one drift row per run");
  for (const row of drift.rows) {
    assert.equal(row[1], false);
    assert.equal(row[2], "warn");
    assert.match(String(row[3]), /^properties\./, "names the unknown field's path");
  }
});

test("landed raw pages are removed after a successful run, and kept with keepRaw", async (t) => {
  const days = makeEventDays(6, [DAYS[0] as string], 80);
  const server = await startContractServer({ days, pageSize: 20 });
  t.after(() => server.close());
  for (const keepRaw of [false, true]) {
    const dataDir = await tempDataDir(t);
    const outcome = await runPartition(getJob("events"), DAYS[0] as string, { ...settingsFor(dataDir, server.url), keepRaw });
    assert.equal(outcome.status, "succeeded");
    const landing = path.join(dataDir, "raw", "events", `dt=${DAYS[0]}`);
    assert.equal(existsSync(landing), keepRaw, `landing dir with keepRaw=${keepRaw}`);
    if (keepRaw) assert.ok((await readdir(path.join(landing, "events"))).filter((f) => f.startsWith("page-")).length >= 4, "every page was landed, under its source's directory");
  }
});

test("a blocking check fails the run, names the check and values, and leaves the lake and warehouse untouched", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = makeEventDays(8, [DAYS[0] as string], 60);
  const server = await startContractServer({ days });
  t.after(() => server.close());
  const suite = defineSuite({
    table: "events",
    key: ["event_id"],
    checks: [{ name: "event_type: never logout", kind: "not_in", column: "event_type", values: ["logout"], onFail: "block" }],
  });
  const strict = defineJob({
    name: "strict_events",
    description: "events with a blocking rule",
    tables: [EVENTS],
    async run(ctx) {
      const raw = await ctx.extract(eventsSource);
      const valid = await ctx.validate(raw, suite);
      await ctx.materialize(EVENTS, valid);
    },
  });
  const outcome = await runPartition(strict, DAYS[0] as string, settingsFor(dataDir, server.url));
  assert.equal(outcome.status, "failed");
  assert.match(outcome.error ?? "", /event_type: never logout/);
  // The run's start kept the warehouse open for its load; recording the failure took it over and closed it.
  assert.equal(WarehouseGate.of(warehousePath(dataDir)).lingering, false, "a failed run left the warehouse open");
  assert.match(outcome.error ?? "", /logout/);
  assert.equal(existsSync(path.join(dataDir, "lake", "events")), false, "nothing reached the lake");
  const state = await withWarehouse(dataDir, "read", async (conn) => ({
    events: (await query(conn, "select count(*) from events")).rows[0]?.[0],
    runs: (await query(conn, "select status, error from sluice.runs")).rows,
    checks: (await query(conn, "select check_name, passed, action from sluice.checks")).rows,
  }));
  assert.equal(Number(state.events), 0, "nothing reached the warehouse");
  assert.equal(state.runs.length, 1);
  assert.equal(state.runs[0]?.[0], "failed");
  assert.ok(state.checks.some((c) => c[0] === "event_type: never logout" && c[1] === false && c[2] === "block"), "the blocking result is in sluice.checks");
  assert.ok(existsSync(warehousePath(dataDir)));
});

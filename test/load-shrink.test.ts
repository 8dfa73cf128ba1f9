/**
 * A rerun may not wipe a loaded partition by accident: shrinking it by more than its table's
 * maxShrink fails (or warns, per table) unless --allow-shrink, and a refused load leaves the lake
 * as it was too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ConfigError, PartitionShrinkError } from "../src/core/errors.ts";
import { lakePartitionPath } from "../src/load/lake.ts";
import { defineTable } from "../src/pipeline/define-table.ts";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { EVENTS, eventRows, loadEvents, rows, snapshot, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const DAY = "2026-11-19";

test("a rerun whose listing comes back empty fails instead of wiping the loaded day, and --allow-shrink lets it through, recorded as a failed warn check in sluice.checks", async (t) => {
  const days = makeEventDays(41, [DAY], 150);
  const api = await startContractServer({ days });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const args = ["run", "events", "--date", DAY, "--api-url", api.url, "--data-dir", dataDir];
  assert.equal((await runSluice(args)).code, 0);
  const [[loaded]] = (await rows(dataDir, `select count(*) from events where dt = '${DAY}'`)) as [[number]];
  assert.ok(loaded > 100);

  days[DAY] = []; // the API answers with an empty listing
  const refused = await runSluice(args);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`loading events for ${DAY} would shrink it from ${loaded} to 0 rows \\(-100%, ${loaded} deleted\\), more than the 50% its table allows`));
  assert.match(refused.stderr, /--allow-shrink/);
  assert.deepEqual(await rows(dataDir, `select count(*) from events where dt = '${DAY}'`), [[loaded]], "the warehouse keeps the day");
  assert.equal(pl.readParquet(lakePartitionPath(dataDir, "events", DAY)).height, loaded, "the lake keeps the day too");
  assert.deepEqual(await rows(dataDir, "select status from sluice.runs order by started_at"), [["succeeded"], ["failed"]]);

  const allowed = await runSluice([...args, "--allow-shrink"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.deepEqual(await rows(dataDir, `select count(*) from events where dt = '${DAY}'`), [[0]]);
  assert.equal(pl.readParquet(lakePartitionPath(dataDir, "events", DAY)).height, 0);
  // The shrink it let through stays visible: a failed warn-level check row against the day's previous load.
  const shrinkChecks = "select check_name, severity, passed, failing_rows, observed, lower_bound, detail from sluice.checks where check_name like '%shrink%' and table_name = 'events'";
  assert.deepEqual(await rows(dataDir, shrinkChecks), [
    ["events: no shrink of the loaded partition", "warn", false, loaded, 0, Math.ceil(loaded / 2), `shrank from ${loaded} to 0 rows (-100%), more than the 50% its table allows; loaded with --allow-shrink`],
  ]);
  assert.deepEqual(await rows(dataDir, "select table_name from sluice.checks where check_name like '%shrink%' order by 1"), [["events"], ["sessions"]], "the sessions built from it shrank too");
  const listed = await runSluice(["checks", "events", "--failed", "--data-dir", dataDir]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /events: no shrink of the loaded partition/);
});

test("maxShrink is a share of the loaded partition, and onShrink 'warn' loads with a warning and a warn check row", async (t) => {
  const dataDir = await tempDataDir(t);
  const strict = { ...EVENTS, maxShrink: 0.2 };
  await loadEvents(dataDir, "run-1", [[DAY, await writeEvents(dataDir, DAY, eventRows([1, 2, 3, 4, 5, 6]))]], {}, strict);

  // 1 of 6 rows gone (17%): within 20%. 2 more of 5 (40%): refused, nothing changes.
  assert.deepEqual(await loadEvents(dataDir, "run-2", [[DAY, await writeEvents(dataDir, DAY, eventRows([1, 2, 3, 4, 5]))]], {}, strict), { inserted: 0, updated: 0, deleted: 1 });
  const before = await snapshot(dataDir);
  await assert.rejects(loadEvents(dataDir, "run-3", [[DAY, await writeEvents(dataDir, DAY, eventRows([1, 2, 3]))]], {}, strict), (e: unknown) => {
    assert.ok(e instanceof PartitionShrinkError, String(e));
    assert.match(e.message, /would shrink it from 5 to 3 rows \(-40%, 2 deleted\), more than the 20% its table allows/);
    return true;
  });
  assert.deepEqual(await snapshot(dataDir), before);

  // Replacing rows by new ones is no shrink, however many are deleted.
  const replaced = await loadEvents(dataDir, "run-4", [[DAY, await writeEvents(dataDir, DAY, eventRows([11, 12, 13, 14, 15]))]], {}, strict);
  assert.deepEqual(replaced, { inserted: 5, updated: 0, deleted: 5 });

  const warned = await loadEvents(dataDir, "run-5", [[DAY, await writeEvents(dataDir, DAY, eventRows([11]))]], {}, { ...strict, onShrink: "warn" });
  assert.deepEqual(warned.warnings, ["loading events for 2026-11-19 would shrink it from 5 to 1 rows (-80%, 4 deleted), more than the 20% its table allows"]);
  assert.deepEqual(await rows(dataDir, "select event_id from events"), [[11]]);
  assert.deepEqual(await rows(dataDir, "select run_id, check_name, severity, passed, failing_rows, observed, lower_bound from sluice.checks"), [
    ["run-5", "events: no shrink of the loaded partition", "warn", false, 4, 1, 4],
  ], "only the shrink past the limit is a check row, against the partition's previous load");
  // 1 turns the guard off.
  assert.deepEqual(await loadEvents(dataDir, "run-6", [[DAY, await writeEvents(dataDir, DAY, [])]], {}, { ...EVENTS, maxShrink: 1 }), { inserted: 0, updated: 0, deleted: 1 });
});

test("a table declares maxShrink as a share and onShrink as fail or warn", () => {
  assert.throws(() => defineTable({ ...EVENTS, maxShrink: 1.5 }), (e: unknown) => e instanceof ConfigError && /maxShrink 1.5 must be a share from 0 to 1/.test(e.message));
  assert.throws(() => defineTable({ ...EVENTS, onShrink: "ignore" as "warn" }), /onShrink "ignore" must be "fail" or "warn"/);
  assert.equal(defineTable({ ...EVENTS, maxShrink: 0, onShrink: "warn" }).maxShrink, 0);
});

/**
 * Foreign keys as anti-joins against the reference table (a frame, or the lake's Parquet scanned
 * lazily): compound keys, nulls, dtype differences, a missing reference table reported as skipped
 * rather than every row failing, and the events job against users in the lake.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { mkdir } from "node:fs/promises";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError } from "../src/core/errors.ts";
import { dayEvents, startDemoApi } from "../src/demo-api/index.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { lakeReference } from "../src/pipeline/check-inputs.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { defineSuite, validate, type CheckInput, type ValidationContext } from "../src/validate/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
const ctx: ValidationContext = { window: dayWindow("2026-11-20") };
const ints = (name: string, values: (number | null)[]) => pl.Series(name, values, pl.Float64).cast(pl.Int64);

/** Memberships (org_id, user_id) to check against a members table. */
const memberships = pl.DataFrame([
  ints("id", [1, 2, 3, 4, 5, 6]),
  ints("org_id", [10, 10, 20, 20, null, 30]),
  ints("user_id", [1, 2, 1, 3, 1, null]),
]);
const members = pl.DataFrame([ints("org", [10, 10, 20, 20]), ints("member", [1, 2, 1, 2]), pl.Series("name", ["a", "b", "c", "d"])]);
const compound: CheckInput = { name: "(org_id, user_id) in members", kind: "foreign_key", columns: ["org_id", "user_id"], references: { table: "members", columns: ["org", "member"] }, allowance: 1 };

function run(input: CheckInput, context: ValidationContext, data = memberships) {
  const outcome = validate(data, defineSuite({ table: "memberships", key: ["id"], checks: [input] }), context);
  return { outcome, result: outcome.results.find((r) => r.check === input.name) };
}

test("a compound foreign key fails exactly the rows whose whole key is missing, and lets incomplete keys pass", () => {
  const { outcome, result } = run(compound, { ...ctx, references: { members } });
  // (20, 3) is not a member; rows with a null in the key pass (as value checks let nulls pass).
  assert.deepEqual(outcome.quarantined.getColumn("id").toArray().map(Number), [4]);
  assert.equal(result?.failingRows, 1);
  assert.deepEqual(result?.sample, [{ key: { id: 4 }, value: { org_id: 20, user_id: 3 } }]);
  assert.deepEqual(outcome.valid.getColumn("id").toArray().map(Number), [1, 2, 3, 5, 6], "valid keeps the input's order and no helper column");
  assert.deepEqual(outcome.valid.columns, ["id", "org_id", "user_id"]);
  // The same with the reference given lazily, with duplicate and null keys and another dtype.
  const lazy = pl.DataFrame([pl.Series("org", [10, 10, 10, 20, 20, null], pl.Int32), pl.Series("member", [1, 1, 2, 1, 2, 3], pl.Int32)]).lazy();
  const again = run(compound, { ...ctx, references: { members: lazy } });
  assert.deepEqual(again.outcome.quarantined.getColumn("id").toArray().map(Number), [4]);
  assert.equal(again.outcome.valid.height, 5, "duplicate reference keys never duplicate rows");
});

test("a missing reference table is reported as skipped with its reason, not as every row failing", () => {
  for (const severity of ["error", "warn"] as const) {
    const { outcome, result } = run({ ...compound, severity }, { ...ctx, references: { members: null } });
    assert.equal(result?.passed, true);
    assert.equal(result?.skipped, true);
    assert.equal(result?.failingRows, 0);
    assert.match(result?.detail ?? "", /^skipped: the reference table members does not exist \(no partition of it is loaded yet\)/);
    assert.equal(outcome.quarantined.height, 0);
    assert.equal(outcome.blocked.length, 0);
  }
});

test("a reference table without the referenced column is a configuration error naming both", () => {
  assert.throws(
    () => run({ ...compound, references: { table: "members", columns: ["org", "user"] } }, { ...ctx, references: { members } }),
    (e: unknown) => e instanceof ConfigError && /check "\(org_id, user_id\) in members": the reference table members has no column user \(it has org, member, name\)/.test(e.message),
  );
  assert.throws(
    () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "fk", kind: "foreign_key", columns: ["a", "b"], references: "members.org" }] }),
    (e: unknown) => e instanceof ConfigError && /the key has 2 column\(s\) but references names 1/.test(e.message),
  );
});

test("the reference is the union of the table's lake partitions, scanned lazily; no partition means no table", async (t) => {
  const dataDir = await tempDataDir(t);
  assert.equal(await lakeReference(dataDir, "members"), null);
  // Two snapshots (an upserted table keeps one per run date): a key in either one exists.
  for (const [dt, frame] of [["2026-11-18", members.head(2)], ["2026-11-19", members.tail(2)]] as const) {
    const dir = path.join(dataDir, "lake", "members", `dt=${dt}`);
    await mkdir(dir, { recursive: true });
    frame.writeParquet(path.join(dir, "data.parquet"));
  }
  const reference = await lakeReference(dataDir, "members");
  assert.ok(reference);
  const { outcome } = run(compound, { ...ctx, references: { members: reference } });
  assert.deepEqual(outcome.quarantined.getColumn("id").toArray().map(Number), [4]);
});

test("the events job checks users against the lake: skipped before any users are loaded, a real anti-join after", async (t) => {
  const api = await startDemoApi({ seed: 3, eventsPerDay: 300 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const settings = testRunSettings(dataDir, api.url);
  const fk = (o: Awaited<ReturnType<typeof runPartition>>) => o.checks.find((c) => c.check === "events.user_id present in users");
  const before = await runPartition(getJob("events"), "2026-11-20", settings);
  assert.equal(before.status, "succeeded", before.error ?? "");
  assert.equal(fk(before)?.skipped, true);
  assert.match(fk(before)?.detail ?? "", /the reference table users does not exist/);
  assert.equal((await runPartition(getJob("users"), "2026-11-20", settings)).status, "succeeded");
  const after = await runPartition(getJob("events"), "2026-11-21", settings);
  assert.equal(after.status, "succeeded", after.error ?? "");
  assert.equal(fk(after)?.skipped, false);
  // Expected from the API's own records: integer user ids (others fail to decode, so are null) not among the users.
  const users = new Set((pl.readParquet(path.join(dataDir, "lake", "users", "dt=2026-11-20", "data.parquet")).getColumn("user_id").toArray() as unknown[]).map(Number));
  const raw = dayEvents({ seed: 3, eventsPerDay: 300 }, "2026-11-21") as Array<{ user_id?: unknown }>;
  const unknown = raw.filter((r) => Number.isSafeInteger(r.user_id) && !users.has(r.user_id as number)).length;
  assert.ok(unknown > 0, "the day has events of users the snapshot does not list (sign-ups after it, bad ids)");
  assert.equal(fk(after)?.failingRows, unknown);
  assert.equal(fk(after)?.passed, false);
  for (const s of fk(after)?.sample ?? []) assert.equal(users.has(Number(s.value)), false, `sample ${JSON.stringify(s)} is not a user`);
});

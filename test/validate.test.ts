/**
 * Validation: every check kind on passing and failing data (nulls included), actions, severities,
 * allowance, reasons, decode errors, samples, suite definition errors, the one-pass execution and
 * the built-in suites. Expectations are written out by hand or computed in plain JS.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError, SchemaError } from "../src/core/errors.ts";
import {
  DEFAULT_ALLOWANCE,
  defineSuite,
  describeBlocked,
  validate,
  validateAsync,
  type CheckInput,
  type CheckReport,
  type SuiteInput,
  type ValidationContext,
  type ValidationOutcome,
} from "../src/validate/index.ts";
import { eventsSuite } from "../validations/events.ts";
import { sessionsSuite } from "../validations/sessions.ts";
import { usersSuite } from "../validations/users.ts";
import { synthesizeEvents } from "../bench/validate.ts";

const DT = "2026-11-20";
const ctx: ValidationContext = { window: dayWindow(DT) };

/** A Datetime(us, UTC) series from RFC 3339 strings, the way the extract stage types ts. */
function tsSeries(name: string, values: (string | null)[]): pl.Series {
  return pl.Series(name, values, pl.Utf8).str.strptime(pl.Datetime("ms"), "%Y-%m-%dT%H:%M:%S%.f%#z").alias(name);
}

function ints(name: string, values: (number | null)[]): pl.Series {
  return pl.Series(name, values, pl.Float64).cast(pl.Int64);
}

function strs(name: string, values: (string | null)[]): pl.Series {
  return pl.Series(name, values, pl.Utf8);
}

/** A frame keyed by `id` 1..n with one column `v` to check. */
function keyed(v: pl.Series): pl.DataFrame {
  return pl.DataFrame([ints("id", Array.from({ length: v.length }, (_, i) => i + 1)), v.alias("v")]);
}

/** Runs one check (plus defaults) over a frame keyed by `id`. */
function runOne(frame: pl.DataFrame, check: CheckInput, context: ValidationContext = ctx): { outcome: ValidationOutcome; result: CheckReport } {
  const suite = defineSuite({ table: "t", key: ["id"], checks: [check] });
  const outcome = validate(frame, suite, context);
  const result = outcome.results.find((r) => r.check === check.name);
  assert.ok(result, `no result for ${check.name}`);
  return { outcome, result };
}

/** Ids (column `id`) of a frame's rows, in order. */
function ids(frame: pl.DataFrame): number[] {
  return frame.height === 0 ? [] : (frame.getColumn("id").toArray() as unknown[]).map(Number);
}

/** Asserts exactly `failing` ids are quarantined (with the check's name) and the others are valid. */
function assertQuarantined(outcome: ValidationOutcome, result: CheckReport, allIds: number[], failing: number[]): void {
  assert.deepEqual(ids(outcome.quarantined), failing, `quarantined ids for ${result.check}`);
  assert.deepEqual(ids(outcome.valid), allIds.filter((i) => !failing.includes(i)), `valid ids for ${result.check}`);
  assert.equal(result.failingRows, failing.length);
  assert.equal(result.passed, failing.length === 0);
  if (failing.length) assert.deepEqual(outcome.quarantined.getColumn("_reason").toArray(), failing.map(() => result.check));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test("not_null quarantines exactly the rows whose value is null", () => {
  const frame = keyed(strs("v", ["a", null, "c", null]));
  const { outcome, result } = runOne(frame, { name: "v: not_null", kind: "not_null", column: "v", allowance: 1 });
  assertQuarantined(outcome, result, range(4), [2, 4]);
  const clean = runOne(keyed(strs("v", ["a", "b"])), { name: "v: not_null", kind: "not_null", column: "v" });
  assert.equal(clean.result.passed, true);
  assert.equal(clean.outcome.quarantined.height, 0);
  assert.deepEqual(clean.outcome.quarantined.columns, ["id", "v", "_reason"]);
});

test("unique fails every copy of a duplicated value and never treats nulls as duplicates", () => {
  const frame = keyed(strs("v", ["a", "b", "a", null, null, "c", "b"]));
  const { outcome, result } = runOne(frame, { name: "v: unique", kind: "unique", columns: ["v"], allowance: 1 });
  assertQuarantined(outcome, result, range(7), [1, 2, 3, 7]);
});

test("unique over several columns fails a row only when the whole combination repeats", () => {
  const frame = pl.DataFrame([
    ints("id", [1, 2, 3, 4, 5, 6]),
    strs("a", ["x", "x", "y", "x", null, null]),
    ints("b", [1, 2, 1, 1, 1, 1]),
  ]);
  const { outcome, result } = runOne(frame, { name: "a,b: unique", kind: "unique", columns: ["a", "b"], allowance: 1 });
  assertQuarantined(outcome, result, range(6), [1, 4]);
  assert.deepEqual(result.sample.map((s) => s.value), [{ a: "x", b: 1 }, { a: "x", b: 1 }]);
});

test("compare implements every operator against a value and lets nulls pass", () => {
  const values = [-1, 0, 1, 2, null];
  const js: Record<string, (x: number) => boolean> = {
    eq: (x) => x === 1, ne: (x) => x !== 1, gt: (x) => x > 1, ge: (x) => x >= 1, lt: (x) => x < 1, le: (x) => x <= 1,
  };
  for (const op of ["eq", "ne", "gt", "ge", "lt", "le"] as const) {
    const frame = keyed(ints("v", values));
    const { outcome, result } = runOne(frame, { name: `v ${op} 1`, kind: "compare", column: "v", op, value: 1, allowance: 1 });
    const failing = values.map((v, i) => (v !== null && !js[op]!(v) ? i + 1 : null)).filter((i): i is number => i !== null);
    assertQuarantined(outcome, result, range(5), failing);
  }
});

test("compare works on strings and floats too", () => {
  const s = runOne(keyed(strs("v", ["a", "b", "c", null])), { name: "v < b", kind: "compare", column: "v", op: "lt", value: "b", allowance: 1 });
  assertQuarantined(s.outcome, s.result, range(4), [2, 3]);
  const f = runOne(keyed(pl.Series("v", [0.5, -0.5, null, 2.25], pl.Float64)), { name: "v >= 0", kind: "compare", column: "v", op: "ge", value: 0, allowance: 1 });
  assertQuarantined(f.outcome, f.result, range(4), [2]);
});

test("between honours every closed mode and lets nulls pass", () => {
  const values = [0, 1, 5, 10, 11, null];
  const expected = { both: [1, 5], left: [1, 4, 5], right: [1, 2, 5], neither: [1, 2, 4, 5] } as const;
  for (const closed of ["both", "left", "right", "neither"] as const) {
    const { outcome, result } = runOne(keyed(ints("v", values)), { name: `v in 1..10 ${closed}`, kind: "between", column: "v", min: 1, max: 10, closed, allowance: 1 });
    assertQuarantined(outcome, result, range(6), [...expected[closed]]);
  }
  const inclusiveDefault = runOne(keyed(ints("v", values)), { name: "default", kind: "between", column: "v", min: 1, max: 10, allowance: 1 });
  assertQuarantined(inclusiveDefault.outcome, inclusiveDefault.result, range(6), [1, 5]);
  const onlyMax = runOne(keyed(ints("v", values)), { name: "max only", kind: "between", column: "v", max: 5, allowance: 1 });
  assertQuarantined(onlyMax.outcome, onlyMax.result, range(6), [4, 5]);
});

test("between takes bounds computed from the partition window, in the column's time unit and zone", () => {
  const frame = keyed(tsSeries("v", [
    "2026-11-20T00:00:00Z", // the window's start: inclusive
    "2026-11-20T23:59:59.999999Z", // one microsecond before the end
    "2026-11-21T00:00:00Z", // the end: exclusive
    "2026-11-19T23:59:59.999999Z", // one microsecond before the start
    "2026-11-20T12:00:00+02:00",
    null,
  ]));
  const check: CheckInput = { name: "v: within the day", kind: "between", column: "v", min: (c) => c.window.start, max: (c) => c.window.end, closed: "left", allowance: 1 };
  const { outcome, result } = runOne(frame, check);
  assertQuarantined(outcome, result, range(6), [3, 4]);
  // The same suite judged against the next day's window fails the other rows.
  const next = runOne(frame, check, { window: dayWindow("2026-11-21") });
  assertQuarantined(next.outcome, next.result, range(6), [1, 2, 4, 5]);
});

test("is_in and not_in compare against a list (numbers cast to the column's integer type) and let nulls pass", () => {
  const frame = keyed(ints("v", [1, 2, 3, null, 4]));
  const isIn = runOne(frame, { name: "v in 1,3", kind: "is_in", column: "v", values: [1, 3], allowance: 1 });
  assertQuarantined(isIn.outcome, isIn.result, range(5), [2, 5]);
  const notIn = runOne(frame, { name: "v not in 1,3", kind: "not_in", column: "v", values: (c) => (c.window.dt === DT ? [1, 3] : []), allowance: 1 });
  assertQuarantined(notIn.outcome, notIn.result, range(5), [1, 3]);
  const s = runOne(keyed(strs("v", ["login", "click", null])), { name: "v in types", kind: "is_in", column: "v", values: ["login", "logout"], allowance: 1 });
  assertQuarantined(s.outcome, s.result, range(3), [2]);
});

test("matches uses Polars' (Rust) regex, unanchored unless anchored, and lets nulls pass", () => {
  const frame = keyed(strs("v", ["DE", "de", "DEU", null, "F1", "ÉS"]));
  const anchored = runOne(frame, { name: "v: country", kind: "matches", column: "v", pattern: "^[A-Z]{2}$", allowance: 1 });
  assertQuarantined(anchored.outcome, anchored.result, range(6), [2, 3, 5, 6]);
  const unanchored = runOne(frame, { name: "v: has capital", kind: "matches", column: "v", pattern: "\\p{Lu}", allowance: 1 });
  assertQuarantined(unanchored.outcome, unanchored.result, range(6), [2]);
});

test("str_length counts characters, not bytes, with inclusive bounds", () => {
  const frame = keyed(strs("v", ["", "ab", "東京", "abcd", "abcde", null]));
  const { outcome, result } = runOne(frame, { name: "v: 1 to 4 chars", kind: "str_length", column: "v", min: 1, max: 4, allowance: 1 });
  assertQuarantined(outcome, result, range(6), [1, 5]);
});

test("dtype passes on the exact dtype and blocks on another time unit, zone or a missing column", () => {
  const frame = pl.DataFrame([ints("id", [1, 2]), tsSeries("ts", ["2026-11-20T01:00:00Z", null])]);
  const run = (dtype: pl.DataType, column = "ts") =>
    runOne(frame, { name: "ts: dtype", kind: "dtype", column, dtype }).result;
  const ok = run(pl.Datetime("us", "UTC"));
  assert.equal(ok.passed, true);
  assert.equal(ok.action, "block");
  for (const wrong of [pl.Datetime("ms", "UTC"), pl.Datetime("us"), pl.Utf8]) {
    const r = run(wrong);
    assert.equal(r.passed, false, String(wrong));
    assert.equal(r.action, "block");
    assert.equal(r.sample[0]?.value, "Datetime(us,UTC)");
    assert.match(r.detail ?? "", /dtype is Datetime\(us,UTC\)/);
  }
  const missing = runOne(frame, { name: "x: dtype", kind: "dtype", column: "x", dtype: pl.Int64 });
  assert.equal(missing.result.passed, false);
  assert.deepEqual(missing.outcome.blocked.map((r) => r.check), ["x: dtype"]);
  assert.equal(missing.outcome.valid.height, 2, "a table-level failure removes no rows");
});

test("column_compare compares two columns row by row and lets a null on either side pass", () => {
  const frame = pl.DataFrame([
    ints("id", [1, 2, 3, 4, 5]),
    tsSeries("start", ["2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z", null, "2026-11-20T10:00:00Z"]),
    tsSeries("end", ["2026-11-20T10:30:00Z", "2026-11-20T10:00:00Z", "2026-11-20T09:59:59.999999Z", "2026-11-20T09:00:00Z", null]),
  ]);
  const { outcome, result } = runOne(frame, { name: "end >= start", kind: "column_compare", left: "end", op: "ge", right: "start", allowance: 1 });
  assertQuarantined(outcome, result, range(5), [3]);
  assert.deepEqual(Object.keys(result.sample[0]?.value as object), ["end", "start"]);
});

test("foreign_key accepts reference values as a Series or an array and lets nulls pass", () => {
  const frame = keyed(ints("v", [1, 2, 99, null]));
  const check: CheckInput = { name: "v in users", kind: "foreign_key", column: "v", references: "users.user_id", allowance: 1 };
  for (const refs of [ints("user_id", [1, 2, 3]), [1, 2, 3], [1n, 2n, 3n]]) {
    const { outcome, result } = runOne(frame, check, { ...ctx, foreignKeys: { "users.user_id": refs } });
    assertQuarantined(outcome, result, range(4), [3]);
  }
  const empty = runOne(frame, check, { ...ctx, foreignKeys: { "users.user_id": [] } });
  assertQuarantined(empty.outcome, empty.result, range(4), [1, 2, 3]);
});

test("foreign_key without reference values throws for an error check and is reported skipped for a warning", () => {
  const frame = keyed(ints("v", [1, 2]));
  assert.throws(
    () => runOne(frame, { name: "v in users", kind: "foreign_key", column: "v", references: "users.user_id" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes('"v in users"') && e.message.includes("users.user_id"),
  );
  const warn = runOne(frame, { name: "v in users", kind: "foreign_key", column: "v", references: "users.user_id", severity: "warn" });
  assert.equal(warn.result.passed, true);
  assert.match(warn.result.detail ?? "", /skipped/);
});

test("row_count blocks a partition outside its bounds", () => {
  const check = (min: number, max: number): CheckInput => ({ name: "rows", kind: "row_count", min, max });
  const frame = keyed(ints("v", [1, 2, 3]));
  assert.equal(runOne(frame, check(3, 3)).result.passed, true);
  for (const [min, max] of [[4, 10], [0, 2]] as const) {
    const { outcome, result } = runOne(frame, check(min, max));
    assert.equal(result.passed, false);
    assert.equal(result.sample[0]?.value, 3);
    assert.deepEqual(outcome.blocked.map((r) => r.check), ["rows"]);
  }
  const emptyFrame = keyed(ints("v", []));
  const empty = runOne(emptyFrame, { name: "rows", kind: "row_count", min: 1 });
  assert.equal(empty.result.passed, false);
  assert.equal(empty.outcome.valid.height, 0);
});

test("freshness compares the newest timestamp with the window's end", () => {
  const check: CheckInput = { name: "ts: fresh", kind: "freshness", column: "ts", maxAgeHours: 2 };
  const frame = (values: (string | null)[]) => pl.DataFrame([ints("id", values.map((_, i) => i + 1)), tsSeries("ts", values)]);
  assert.equal(runOne(frame(["2026-11-20T01:00:00Z", "2026-11-20T22:00:00Z", null]), check).result.passed, true, "exactly 2 h before the end");
  const stale = runOne(frame(["2026-11-20T01:00:00Z", "2026-11-20T21:59:59.999999Z"]), check);
  assert.equal(stale.result.passed, false);
  assert.deepEqual(stale.outcome.blocked.map((r) => r.check), ["ts: fresh"]);
  assert.match(stale.result.detail ?? "", /newest ts is 2026-11-20T21:59:59\.999Z, 2\.0 h before/);
  const none = runOne(frame([null, null]), check);
  assert.equal(none.result.passed, false);
  assert.equal(runOne(frame([]), check).result.passed, false);
  const warn = runOne(frame(["2026-11-20T01:00:00Z"]), { ...check, severity: "warn" });
  assert.equal(warn.result.passed, false);
  assert.deepEqual(warn.outcome.blocked, []);
});

test("a custom expression passes rows where it is true and also where it is null", () => {
  const frame = pl.DataFrame([ints("id", [1, 2, 3, 4]), strs("type", ["purchase", "purchase", "view_page", "purchase"]), pl.Series("amount", [5, null, null, -1], pl.Float64)]);
  const { outcome, result } = runOne(frame, {
    name: "amount: purchases are positive",
    kind: "custom",
    columns: ["type", "amount"],
    expr: () => pl.col("type").neq(pl.lit("purchase")).or(pl.col("amount").gt(0)),
    allowance: 1,
  });
  assertQuarantined(outcome, result, range(4), [4]);
  assert.deepEqual(result.sample[0]?.value, { type: "purchase", amount: -1 });
});

test("a warning never removes rows nor blocks, but is reported as failed", () => {
  const frame = keyed(ints("v", [1, -1, -2, -3]));
  const { outcome, result } = runOne(frame, { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, severity: "warn", onFail: "block" });
  assert.equal(result.passed, false);
  assert.equal(result.failingRows, 3);
  assert.equal(outcome.valid.height, 4);
  assert.equal(outcome.quarantined.height, 0);
  assert.deepEqual(outcome.blocked, []);
});

test("a block check blocks the partition without quarantining its failing rows", () => {
  const frame = keyed(ints("v", [1, -1, 2]));
  const { outcome, result } = runOne(frame, { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, onFail: "block" });
  assert.equal(result.passed, false);
  assert.equal(result.action, "block");
  assert.deepEqual(outcome.blocked.map((r) => r.check), ["v > 0"]);
  assert.equal(outcome.quarantined.height, 0);
  assert.equal(outcome.valid.height, 3);
  assert.deepEqual(result.sample, [{ key: { id: 2 }, value: -1 }]);
  const clean = runOne(keyed(ints("v", [1, 2])), { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, onFail: "block" });
  assert.deepEqual(clean.outcome.blocked, []);
});

test("allowance: failures up to the allowed fraction are quarantined, one more row blocks", () => {
  const run = (bad: number, allowance?: number) => {
    const values = range(100).map((i) => (i <= bad ? null : i));
    return runOne(keyed(ints("v", values)), { name: "v: not_null", kind: "not_null", column: "v", ...(allowance === undefined ? {} : { allowance }) });
  };
  assert.equal(DEFAULT_ALLOWANCE, 0.05);
  const within = run(5);
  assert.deepEqual(within.outcome.blocked, []);
  assert.equal(within.result.action, "quarantine");
  assert.equal(within.outcome.quarantined.height, 5);
  const over = run(6);
  assert.deepEqual(over.outcome.blocked.map((r) => r.check), ["v: not_null"]);
  assert.equal(over.result.action, "block");
  assert.match(over.result.detail ?? "", /6 of 100 rows \(6\.0%\) failed, more than the allowance of 5\.0%/);
  assert.equal(over.outcome.quarantined.height, 6, "rows are still split, for the report");
  assert.deepEqual(run(20, 0.2).outcome.blocked, []);
  assert.equal(run(21, 0.2).outcome.blocked.length, 1);
  assert.equal(run(1, 0).outcome.blocked.length, 1, "allowance 0: any failure blocks");
  assert.deepEqual(run(29, 0.29).outcome.blocked, [], "exactly at an allowance that is inexact in binary");
  assert.equal(run(30, 0.29).outcome.blocked.length, 1);
});

test("a row failing several checks carries every reason, in suite order, joined by '; '", () => {
  const frame = pl.DataFrame([ints("id", [1, 2, 3, 4]), ints("user_id", [5, -1, null, -2]), strs("type", ["login", "click", "bogus", "login"])]);
  const suite = defineSuite({
    table: "t",
    key: ["id"],
    checks: [
      { name: "user_id: not_null", kind: "not_null", column: "user_id", allowance: 1 },
      { name: "user_id: greater than 0", kind: "compare", column: "user_id", op: "gt", value: 0, allowance: 1 },
      { name: "type: in login", kind: "is_in", column: "type", values: ["login"], allowance: 1 },
      { name: "type: at most 4 chars", kind: "str_length", column: "type", max: 4, severity: "warn" },
    ],
  });
  const outcome = validate(frame, suite, ctx);
  assert.deepEqual(outcome.quarantined.toRecords(), [
    { id: 2, user_id: -1, type: "click", _reason: "user_id: greater than 0; type: in login" },
    { id: 3, user_id: null, type: "bogus", _reason: "user_id: not_null; type: in login" },
    { id: 4, user_id: -2, type: "login", _reason: "user_id: greater than 0" },
  ]);
  assert.deepEqual(ids(outcome.valid), [1]);
  assert.equal(outcome.results.find((r) => r.check === "type: at most 4 chars")?.failingRows, 4, "a warning adds no reason");
});

test("records that failed to decode are quarantined with their error as the reason and reported as 'decodes'", () => {
  const frame = pl.DataFrame([
    strs("event_id", ["e1", "e2", "e3", "e4"]),
    ints("user_id", [1, null, null, 7]),
    pl.Series("_page", [1, 1, 2, 2], pl.Int32),
    pl.Series("_row", [0, 1, 0, 1], pl.Int32),
    strs("_error", [null, 'user_id: expected integer, got string "42"', null, "properties: expected object, got string"]),
  ]);
  const suite = defineSuite({ table: "events", key: ["event_id"], decodeAllowance: 1, checks: [{ name: "user_id: not_null", kind: "not_null", column: "user_id", allowance: 1 }] });
  const outcome = validate(frame, suite, ctx);
  assert.deepEqual(outcome.results.map((r) => [r.check, r.failingRows]), [["decodes", 2], ["user_id: not_null", 1]]);
  assert.deepEqual(outcome.quarantined.columns, ["event_id", "user_id", "_page", "_row", "_error", "_reason"]);
  assert.deepEqual(outcome.quarantined.select("event_id", "_page", "_row", "_reason").toRecords(), [
    { event_id: "e2", _page: 1, _row: 1, _reason: 'user_id: expected integer, got string "42"' },
    { event_id: "e3", _page: 2, _row: 0, _reason: "user_id: not_null" },
    { event_id: "e4", _page: 2, _row: 1, _reason: "properties: expected object, got string" },
  ]);
  assert.deepEqual(outcome.valid.columns, ["event_id", "user_id"]);
  assert.deepEqual(outcome.valid.getColumn("event_id").toArray(), ["e1"]);
  const decodes = outcome.results[0];
  assert.deepEqual(decodes?.sample[0], { key: { event_id: "e2", _page: 1, _row: 1 }, value: 'user_id: expected integer, got string "42"' });
  // Above the default 5% allowance, decode failures block like any quarantine check.
  const strict = validate(frame, defineSuite({ table: "events", key: ["event_id"], checks: [] }), ctx);
  assert.deepEqual(strict.blocked.map((r) => r.check), ["decodes"]);
  // Without an _error column there is no decodes result.
  assert.deepEqual(validate(frame.drop("_error"), suite, ctx).results.map((r) => r.check), ["user_id: not_null"]);
});

test("a field that failed to decode is named once: its own not_null does not fire, another null field's still does", () => {
  const frame = pl.DataFrame([
    strs("event_id", ["e1", "e2", "e3", "e4"]),
    ints("user_id", [null, null, null, 5]),
    strs("page", ["/", null, "/", null]),
    pl.Series("_page", [1, 1, 1, 1], pl.Int32),
    pl.Series("_row", [0, 1, 2, 3], pl.Int32),
    // e3: a nested field whose leaf is the column; e4: a field only sharing a suffix with "page".
    strs("_error", ["user_id: expected integer, got string \"42\"", "user_id: expected integer, got string \"42\"", "properties.user_id: expected integer, got 4.5", "homepage: expected string, got number 1"]),
  ]);
  const checks: CheckInput[] = [
    { name: "user_id: not_null", kind: "not_null", column: "user_id", allowance: 1 },
    { name: "page: not_null", kind: "not_null", column: "page", allowance: 1 },
  ];
  const outcome = validate(frame, defineSuite({ table: "events", key: ["event_id"], decodeAllowance: 1, checks }), ctx);
  assert.deepEqual(outcome.quarantined.select("event_id", "_reason").toRecords(), [
    { event_id: "e1", _reason: 'user_id: expected integer, got string "42"' },
    { event_id: "e2", _reason: 'user_id: expected integer, got string "42"; page: not_null' },
    { event_id: "e3", _reason: "properties.user_id: expected integer, got 4.5" },
    { event_id: "e4", _reason: "homepage: expected string, got number 1; page: not_null" },
  ]);
  assert.deepEqual(outcome.results.map((r) => [r.check, r.failingRows]), [["decodes", 4], ["user_id: not_null", 0], ["page: not_null", 2]]);
});

test("samples hold at most five failing values with their row keys, in row order", () => {
  const n = 12;
  const frame = pl.DataFrame([
    strs("k1", range(n).map((i) => `a${i}`)),
    ints("k2", range(n)),
    ints("v", range(n).map((i) => (i % 2 === 0 ? -i : i))),
    pl.Series("_page", range(n).map(() => 3), pl.Int32),
    pl.Series("_row", range(n).map((i) => i - 1), pl.Int32),
  ]);
  const suite = defineSuite({ table: "t", key: ["k1", "k2"], checks: [{ name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, severity: "warn" }] });
  const [result] = validate(frame, suite, ctx).results;
  assert.equal(result?.failingRows, 6);
  assert.deepEqual(result?.sample, [2, 4, 6, 8, 10].map((i) => ({ key: { k1: `a${i}`, k2: i, _page: 3, _row: i - 1 }, value: -i })));
});

test("valid never carries helper or extract columns and keeps the input's row order", () => {
  const frame = pl.DataFrame([ints("id", [5, 3, 9, 1]), ints("v", [1, -1, 2, 3]), pl.Series("_page", [1, 1, 1, 1], pl.Int32), pl.Series("_row", [0, 1, 2, 3], pl.Int32), strs("_error", [null, null, null, null])]);
  const { outcome } = runOne(frame, { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, allowance: 1 });
  assert.deepEqual(outcome.valid.columns, ["id", "v"]);
  assert.deepEqual(ids(outcome.valid), [5, 9, 1]);
  const clean = runOne(frame.filter(pl.col("v").gt(0)), { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0 });
  assert.deepEqual(clean.outcome.valid.columns, ["id", "v"]);
  assert.equal(clean.outcome.valid.height, 3);
});

test("an empty partition passes every row check and keeps its columns", () => {
  const outcome = validate(synthesizeEvents(0, DT, 10, 0), eventsSuite, { ...ctx, foreignKeys: { "users.user_id": [] } });
  assert.ok(outcome.results.every((r) => r.passed && r.failingRows === 0 && r.rows === 0));
  assert.deepEqual(outcome.blocked, []);
  assert.deepEqual(outcome.valid.columns, ["event_id", "user_id", "ts", "event_type", "page", "amount"]);
  assert.deepEqual(outcome.quarantined.columns, ["event_id", "user_id", "ts", "event_type", "page", "amount", "_page", "_row", "_error", "_reason"]);
  assert.equal(outcome.quarantined.height + outcome.valid.height, 0);
});

test("a bad suite definition throws a ConfigError naming the check and the problem", () => {
  const bad = (check: unknown, pattern: RegExp, extra: Partial<SuiteInput> = {}) => {
    const suite = { table: "t", key: ["id"], checks: [{ name: "fine", kind: "not_null", column: "id" }, check], ...extra } as SuiteInput;
    assert.throws(() => defineSuite(suite), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.equal(e.context.table, "t");
      return true;
    });
  };
  bad({ name: "x", kind: "not_nul", column: "id" }, /check "x": unknown kind "not_nul"/);
  bad({ name: "x", kind: "not_null" }, /check "x" \(not_null\): column: /);
  bad({ name: "x", kind: "not_null", column: "id", colum: "id" }, /check "x" \(not_null\):.*colum/);
  bad({ name: "x", kind: "compare", column: "id", op: "gte", value: 1 }, /check "x" \(compare\): op:/);
  bad({ name: "x", kind: "not_null", column: "id", allowance: 1.5 }, /check "x" \(not_null\): allowance:/);
  bad({ name: "x", kind: "not_null", column: "id", severity: "fatal" }, /check "x" \(not_null\): severity:/);
  bad({ name: "x", kind: "between", column: "id" }, /check "x" \(between\): needs min, max or both/);
  bad({ name: "x", kind: "between", column: "id", min: 5, max: 1 }, /check "x" \(between\): min is greater than max/);
  bad({ name: "x", kind: "between", column: "id", min: new Date("nope") }, /check "x" \(between\): min:/);
  bad({ name: "x", kind: "matches", column: "id", pattern: "(?=a)" }, /check "x" \(matches\): invalid pattern .*look-around/);
  bad({ name: "x", kind: "matches", column: "id", pattern: "[a-" }, /check "x" \(matches\): invalid pattern/);
  bad({ name: "x", kind: "is_in", column: "id", values: [] }, /check "x" \(is_in\): values is empty/);
  bad({ name: "x", kind: "row_count", min: 1, onFail: "quarantine" }, /check "x" \(row_count\): a table-level check has no rows to quarantine/);
  bad({ name: "x", kind: "not_null", column: "id", onFail: "block", allowance: 0.1 }, /allowance only applies to onFail "quarantine"/);
  bad({ name: "x", kind: "dtype", column: "id", dtype: "Int64" }, /check "x" \(dtype\): dtype: expected a Polars DataType/);
  bad({ name: "x", kind: "foreign_key", column: "id", references: "users" }, /check "x" \(foreign_key\): references: expected "table.column"/);
  bad({ name: "x", kind: "custom", expr: "col('a') > 0" }, /check "x" \(custom\): expr: expected a function/);
  bad({ name: "fine", kind: "not_null", column: "id" }, /check "fine": duplicate check name/);
  bad({ name: "decodes", kind: "not_null", column: "id" }, /check "decodes": the name "decodes" is reserved/);
  bad({ kind: "not_null", column: "id" }, /check #2 \(not_null\): name:/);
  bad({ name: "x", kind: "not_null", column: "id" }, /decodeAllowance/, { decodeAllowance: 2 });
});

test("a check that does not fit the frame's columns or types fails with an error naming it", () => {
  const frame = keyed(strs("v", ["a", "b"]));
  assert.throws(
    () => runOne(frame, { name: "w: not_null", kind: "not_null", column: "w" }),
    (e: unknown) => e instanceof SchemaError && /check "w: not_null" reads column w/.test(e.message),
  );
  assert.throws(
    () => runOne(frame, { name: "v > 0", kind: "compare", column: "v", op: "gt", value: new Date(0) }),
    (e: unknown) => e instanceof ConfigError && /check "v > 0" cannot run on this frame \(columns v: String\)/.test(e.message),
  );
  assert.throws(
    () => runOne(keyed(ints("v", [1])), { name: "v in", kind: "is_in", column: "v", values: ["x"] }),
    (e: unknown) => e instanceof ConfigError && /check "v in": values cannot be cast/.test(e.message),
  );
  assert.throws(
    () => runOne(frame, { name: "v between", kind: "between", column: "v", min: () => { throw new Error("no window"); } }),
    (e: unknown) => e instanceof ConfigError && /check "v between": min could not be computed: no window/.test(e.message),
  );
});

test("every check is evaluated by one lazy query over the input, collected once", () => {
  const frame = synthesizeEvents(2000, DT, 50, 0.01);
  const record = { lazyCalls: 0, collects: 0, plans: [] as string[], otherAccess: new Set<string>() };
  // Wraps every LazyFrame derived from frame.lazy() to count how often the input is collected.
  const wrapLazy = (lf: pl.LazyDataFrame): pl.LazyDataFrame =>
    new Proxy(lf, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "collectSync" || prop === "collect") {
            record.collects++;
            record.plans.push(target.describeOptimizedPlan());
          }
          const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return out && typeof out === "object" && "collectSync" in out ? wrapLazy(out as pl.LazyDataFrame) : out;
        };
      },
    });
  // The proxy's target is a blank object: nodejs-polars frames are proxies themselves, and the
  // engine's invariant checks on a proxy of a proxy ask the inner one for non-column properties.
  const spied = new Proxy({} as pl.DataFrame, {
    get(_blank, prop) {
      const value: unknown = Reflect.get(frame, prop);
      if (prop === "lazy") {
        return () => {
          record.lazyCalls++;
          return wrapLazy(frame.lazy());
        };
      }
      if (typeof prop === "string" && !["schema", "dtypes", "columns", "height"].includes(prop)) record.otherAccess.add(prop);
      return value;
    },
  });
  const users = ints("user_id", range(50));
  const outcome = validate(spied, eventsSuite, { ...ctx, foreignKeys: { "users.user_id": users } });
  assert.deepEqual([...record.otherAccess], [], "validate reads the input only through frame.lazy() (and its column names and types)");
  assert.equal(record.lazyCalls, 1);
  assert.equal(record.collects, 1);
  const plan = record.plans[0] ?? "";
  assert.equal(plan.match(/DF \[/g)?.length, 1, `one scan of the input frame:\n${plan}`);
  for (const check of eventsSuite.checks) assert.ok(outcome.results.some((r) => r.check === check.name));
  // And the outcome is the same as without the spy.
  const plain = validate(frame, eventsSuite, { ...ctx, foreignKeys: { "users.user_id": users } });
  assert.deepEqual(outcome.results, plain.results);
  assert.equal(outcome.quarantined.height, plain.quarantined.height);
});

test("validateAsync, collecting off the main thread, gives exactly what validate gives: results, blocked checks, valid and quarantined rows, and the error naming a check that does not fit", async () => {
  const frame = synthesizeEvents(3000, DT, 30, 0.3);
  const context = { ...ctx, foreignKeys: { "users.user_id": range(25) } };
  const sync = validate(frame, eventsSuite, context);
  const async = await validateAsync(frame, eventsSuite, context);
  assert.ok(sync.quarantined.height > 100 && sync.results.some((r) => !r.passed && r.severity === "warn"), "rows are quarantined and a warning fails");
  assert.deepEqual(async.results, sync.results);
  assert.deepEqual(async.blocked, sync.blocked);
  assert.ok(async.valid.frameEqual(sync.valid, true) && async.quarantined.frameEqual(sync.quarantined, true), "the same valid and quarantined rows, in order");
  const clean = validate(frame.head(0), eventsSuite, context);
  assert.deepEqual((await validateAsync(frame.head(0), eventsSuite, context)).results, clean.results);
  const misfit = defineSuite({ table: "t", key: ["id"], checks: [{ name: "v > 0", kind: "compare", column: "v", op: "gt", value: new Date(0) }] });
  await assert.rejects(
    validateAsync(keyed(strs("v", ["a", "b"])), misfit, ctx),
    (e: unknown) => e instanceof ConfigError && /check "v > 0" cannot run on this frame \(columns v: String\)/.test(e.message),
  );
});

test("the events suite gives one record of every dirty kind exactly the expected reasons", () => {
  const rows: [string | null, number | null, string | null, string | null, number | null, string | null][] = [
    // event_id, user_id, ts, event_type, amount, _error
    ["e01", 1, "2026-11-20T10:00:00.123Z", "view_page", null, null], // clean
    ["e02", 2, "2026-11-20T00:00:00Z", "purchase", 9.5, null], // clean, at the window's start
    [null, 1, "2026-11-20T10:00:00Z", "login", null, null],
    ["e04", null, "2026-11-20T10:00:00Z", "login", null, null],
    ["e05", -3, "2026-11-20T10:00:00Z", "login", null, null],
    ["e06", 0, "2026-11-20T10:00:00Z", "login", null, null],
    ["e07", 1, null, "login", null, "ts: expected RFC 3339 timestamp, got string \"yesterday\""],
    ["e08", 1, "2026-11-21T00:00:00Z", "login", null, null], // the window's end is exclusive
    ["e09", 1, "2026-11-19T23:59:59.999999Z", "login", null, null],
    ["e10", 1, "2026-11-20T10:00:00Z", "click", null, null],
    ["e11", null, "2026-11-20T10:00:00Z", "login", null, 'user_id: expected integer, got string "42"'],
    ["e12", -1, "2026-11-22T00:00:00Z", "bogus", null, null], // three problems at once
    ["e01", 1, "2026-11-20T10:00:00.123Z", "view_page", null, null], // duplicate delivery: warn only
    ["e14", 1, "2026-11-20T11:00:00Z", "purchase", -5, null], // negative amount: warn only
    ["e15", 777, "2026-11-20T11:00:00Z", "login", null, null], // unknown user: warn only
    ["e16", 1, null, "login", null, null],
    ["e17", 1, "2026-11-20T12:00:00Z", null, null, null], // event_type absent
  ];
  const frame = pl.DataFrame([
    strs("event_id", rows.map((r) => r[0])),
    ints("user_id", rows.map((r) => r[1])),
    tsSeries("ts", rows.map((r) => r[2])),
    strs("event_type", rows.map((r) => r[3])),
    strs("page", rows.map(() => null)),
    pl.Series("amount", rows.map((r) => r[4]), pl.Float64),
    pl.Series("_page", rows.map(() => 1), pl.Int32),
    pl.Series("_row", rows.map((_, i) => i), pl.Int32),
    strs("_error", rows.map((r) => r[5])),
  ]);
  const types = "event_type: in login|view_page|add_to_cart|purchase|logout";
  // Small test frame: 12 of 17 rows fail, so raise the allowances to see the reasons (not a block).
  const lenient = defineSuite({
    table: eventsSuite.table,
    key: eventsSuite.key,
    decodeAllowance: 1,
    checks: eventsSuite.checks.map((c) => (c.onFail === "quarantine" && c.severity === "error" ? { ...c, allowance: 1 } : c)),
  });
  const outcome = validate(frame, lenient, { ...ctx, foreignKeys: { "users.user_id": [1, 2, 3] } });
  assert.deepEqual(outcome.blocked, []);
  const reasons = Object.fromEntries(outcome.quarantined.toRecords().map((r) => [Number(r["_row"]), r["_reason"]]));
  assert.deepEqual(reasons, {
    2: "event_id: not_null",
    3: "user_id: not_null",
    4: "user_id: greater than 0",
    5: "user_id: greater than 0",
    6: 'ts: expected RFC 3339 timestamp, got string "yesterday"',
    7: "ts: within the partition day",
    8: "ts: within the partition day",
    9: types,
    10: 'user_id: expected integer, got string "42"',
    11: `user_id: greater than 0; ts: within the partition day; ${types}`,
    15: "ts: not_null",
    16: "event_type: not_null",
  });
  assert.deepEqual(outcome.valid.getColumn("event_id").toArray(), ["e01", "e02", "e01", "e14", "e15"]);
  const failing = Object.fromEntries(outcome.results.map((r) => [r.check, r.failingRows]));
  assert.deepEqual(failing, {
    decodes: 2,
    "event_id: not_null": 1,
    "user_id: not_null": 1,
    "user_id: greater than 0": 3,
    "ts: not_null": 1,
    "ts: within the partition day": 3,
    "event_type: not_null": 1,
    [types]: 2,
    "event_id: unique": 2,
    "amount: >= 0": 1,
    "events.user_id present in users": 4, // -3, 0, -1 and 777 (nulls pass)
    // Table-level: no rows fail them; without history both are skipped, and say so.
    "events: volume": 0,
    "amount: mean over purchases": 0,
  });
  for (const name of ["events: volume", "amount: mean over purchases"]) {
    const r = outcome.results.find((x) => x.check === name);
    assert.equal(r?.skipped, true, name);
    assert.match(r?.detail ?? "", /^skipped: history of no earlier partition; at least 7 needed/);
  }
});

test("the events suite with its real allowances blocks a partition this dirty and says why", () => {
  const frame = synthesizeEvents(1000, DT, 20, 0.1);
  const outcome = validate(frame, eventsSuite, { ...ctx, foreignKeys: { "users.user_id": range(20) } });
  assert.deepEqual(outcome.blocked, [], "10% dirty spread over ten kinds is 1% per check: within the allowance");
  // Half the rows dirty: 5% per kind is still within the allowance. The user_id that failed to
  // decode does not also count as a null user_id, so no check reaches 10% and none blocks.
  const half = validate(synthesizeEvents(1000, DT, 20, 0.5), eventsSuite, { ...ctx, foreignKeys: { "users.user_id": range(20) } });
  assert.deepEqual(half.blocked.map((r) => r.check), []);
  assert.equal(half.results.find((r) => r.check === "user_id: not_null")?.failingRows, half.results.find((r) => r.check === "event_id: not_null")?.failingRows);
  const blocked = validate(synthesizeEvents(1000, DT, 20, 1), eventsSuite, { ...ctx, foreignKeys: { "users.user_id": range(20) } }).blocked;
  assert.deepEqual(blocked.map((r) => r.check), [
    "decodes", "event_id: not_null", "user_id: not_null", "user_id: greater than 0", "ts: not_null", "ts: within the partition day",
    "event_type: in login|view_page|add_to_cart|purchase|logout",
  ]);
  assert.ok(blocked.every((r) => r.severity === "error" && r.action === "block"));
  const message = describeBlocked(blocked);
  for (const r of blocked) assert.ok(message.includes(`"${r.check}"`), message);
  assert.match(message, /^Validation of events blocked the partition: 7 checks failed: /);
  assert.match(message, /more than the allowance of 5\.0%, e\.g\. /);
  assert.match(message, /at event_id="e-\d+" _page=\d+ _row=\d+/);
});

test("the sessions suite blocks on any transform bug and passes clean sessions", () => {
  const sessions = (rows: [string | null, string, string, number, number, number | null][]) =>
    pl.DataFrame([
      strs("session_id", rows.map((r) => r[0])),
      ints("user_id", rows.map(() => 1)),
      tsSeries("session_start", rows.map((r) => r[1])),
      tsSeries("session_end", rows.map((r) => r[2])),
      ints("duration_s", rows.map((r) => r[3])),
      ints("event_count", rows.map((r) => r[4])),
      pl.Series("revenue", rows.map((r) => r[5]), pl.Float64),
    ]);
  const ok = sessions([
    ["s1", "2026-11-20T10:00:00Z", "2026-11-20T10:30:00Z", 1800, 3, 10],
    ["s2", "2026-11-20T11:00:00Z", "2026-11-20T11:00:00Z", 0, 1, null],
  ]);
  const clean = validate(ok, sessionsSuite, ctx);
  assert.deepEqual(clean.blocked, []);
  assert.ok(clean.results.every((r) => r.passed));
  const bad = sessions([
    ["s1", "2026-11-20T10:00:00Z", "2026-11-20T10:30:00Z", 1800, 3, 10],
    ["s1", "2026-11-20T11:00:00Z", "2026-11-20T10:59:00Z", -60, 0, -1],
    [null, "2026-11-20T12:00:00Z", "2026-11-20T12:00:00Z", 0, 1, 0],
  ]);
  const outcome = validate(bad, sessionsSuite, ctx);
  assert.deepEqual(outcome.blocked.map((r) => r.check), [
    "session_id: not_null", "session_id: unique", "session_end: >= session_start", "duration_s: >= 0", "event_count: >= 1", "revenue: >= 0",
  ]);
  assert.equal(outcome.quarantined.height, 0, "block checks quarantine nothing");
});

test("the users suite quarantines bad countries and plans and only warns about listed-twice users", () => {
  const frame = pl.DataFrame([
    ints("user_id", [1, 2, 3, 4, 4, null, -5, 8, 9]),
    strs("country", ["DE", "de", "FR", "US", "US", "DE", "DE", null, "NL"]),
    strs("plan", ["pro", "free", "gold", "enterprise", "enterprise", "pro", "free", "pro", null]),
  ]);
  const lenient = defineSuite({ ...usersSuite, checks: usersSuite.checks.map((c) => (c.onFail === "quarantine" && c.severity === "error" ? { ...c, allowance: 1 } : c)) });
  const outcome = validate(frame, lenient, ctx);
  assert.deepEqual(outcome.quarantined.select("country", "plan", "_reason").toRecords(), [
    { country: "de", plan: "free", _reason: "country: matches ^[A-Z]{2}$" },
    { country: "FR", plan: "gold", _reason: "plan: in free|pro|enterprise" },
    { country: "DE", plan: "pro", _reason: "user_id: not_null" },
    { country: "DE", plan: "free", _reason: "user_id: greater than 0" },
    { country: null, plan: "pro", _reason: "country: not_null" },
    { country: "NL", plan: null, _reason: "plan: not_null" },
  ]);
  assert.deepEqual(outcome.valid.getColumn("user_id").toArray(), [1, 4, 4]);
  assert.equal(outcome.results.find((r) => r.check === "user_id: unique")?.failingRows, 2);
});

test("a partition with nothing to quarantine gets an empty quarantine of the same columns and types, whether nothing failed or only a warning did", () => {
  const extract = (n: number) => [pl.Series("_page", Array(n).fill(1), pl.Int32), pl.Series("_row", range(n), pl.Int32), strs("_error", Array(n).fill(null))];
  const users = (ids: number[], countries: string[]) => pl.DataFrame([ints("user_id", ids), strs("country", countries), strs("plan", countries.map(() => "pro")), ...extract(ids.length)]);
  const shape = (frame: pl.DataFrame) => frame.columns.map((c, i) => `${c}: ${String(frame.dtypes[i])}`);
  const some = validate(users([1, 2, 3], ["DE", "de", "FR"]), usersSuite, ctx);
  assert.equal(some.quarantined.height, 1);
  const clean = validate(users([1, 2, 3], ["DE", "NL", "FR"]), usersSuite, ctx);
  const warned = validate(users([1, 1, 3], ["DE", "NL", "FR"]), usersSuite, ctx);
  assert.equal(warned.results.find((r) => r.check === "user_id: unique")?.passed, false);
  for (const outcome of [clean, warned]) {
    assert.equal(outcome.quarantined.height, 0);
    assert.deepEqual(shape(outcome.quarantined), shape(some.quarantined));
    assert.equal(outcome.valid.height, 3);
  }
});

test("describeBlocked names each blocking check with a few failing values and their keys", () => {
  const frame = keyed(ints("v", [1, -1, -2, -3, -4, 5]));
  const suite = defineSuite({
    table: "t",
    key: ["id"],
    checks: [
      { name: "v > 0", kind: "compare", column: "v", op: "gt", value: 0, onFail: "block" },
      { name: "rows", kind: "row_count", max: 3 },
    ],
  });
  const { blocked } = validate(frame, suite, ctx);
  const message = describeBlocked(blocked);
  assert.equal(
    message,
    'Validation of t blocked the partition: 2 checks failed: "v > 0" (4 of 6 rows failed, e.g. -1 at id=2, -2 at id=3, -3 at id=4); "rows" (6 rows, expected 0 to 3). Nothing of the partition was loaded.',
  );
  assert.equal(describeBlocked([]), "no check blocks the partition");
});

/**
 * Table-level checks that know the history, on validate() with the history given: volume and
 * aggregate anomalies (percent and z-score bands, minimum history, weekly seasonality, direction,
 * floors, bounds), freshness against now, the presence contract (absent is not null), and the
 * decoder's presence counts it relies on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { z } from "zod";
import { addDays, dayWindow } from "../src/core/dates.ts";
import { ConfigError } from "../src/core/errors.ts";
import { deriveColumns, decodeRecords } from "../src/extract/index.ts";
import { defineSuite, judge, resolveRule, validate, type CheckInput, type CheckReport, type HistoryPoint, type ValidationContext } from "../src/validate/index.ts";

const DT = "2026-11-24"; // a Tuesday

/** A frame of `rows` rows keyed by id, with an amount column of the given values (cycled). */
function frame(rows: number, amounts: number[] = [10]): pl.DataFrame {
  const ids = Array.from({ length: rows }, (_, i) => i + 1);
  return pl.DataFrame([
    pl.Series("id", ids, pl.Float64).cast(pl.Int64),
    pl.Series("kind", ids.map((i) => (i % 2 === 0 ? "purchase" : "view")), pl.Utf8),
    pl.Series("amount", ids.map((i) => amounts[i % amounts.length] as number), pl.Float64),
  ]);
}

/** The previous `n` days before DT, each observing `value(i)` (i = 1 for the day before). */
function history(n: number, value: (i: number) => number): HistoryPoint[] {
  return Array.from({ length: n }, (_, k) => ({ dt: addDays(DT, -(k + 1)), value: value(k + 1) }));
}

function check(input: CheckInput, data: pl.DataFrame, context: Partial<ValidationContext> = {}): { result: CheckReport; blocked: boolean } {
  const outcome = validate(data, defineSuite({ table: "t", key: ["id"], checks: [input] }), { window: dayWindow(DT), ...context });
  const result = outcome.results.find((r) => r.check === input.name);
  assert.ok(result);
  return { result, blocked: outcome.blocked.length > 0 };
}

const volume: CheckInput = { name: "t: volume", kind: "volume" };

test("volume is skipped (passed, saying why) below its minimum history, and judged from it on", () => {
  const six = check(volume, frame(10), { history: { "t: volume": history(6, () => 100) } });
  assert.deepEqual([six.result.passed, six.result.skipped, six.blocked, six.result.observed], [true, true, false, 10]);
  assert.match(six.result.detail ?? "", /^skipped: history of 6 partitions, 2026-11-18 to 2026-11-23; at least 7 needed \(observed 10\)$/);
  const seven = check(volume, frame(10), { history: { "t: volume": history(7, () => 100) } });
  assert.deepEqual([seven.result.passed, seven.result.skipped, seven.blocked], [false, false, true]);
  assert.deepEqual([seven.result.lower, seven.result.upper], [70, 130]);
  assert.match(seven.result.detail ?? "", /^observed 10, 90\.0% below the median; expected 70 to 130 \(median 100 of 7 partitions, 2026-11-17 to 2026-11-23\)$/);
  assert.deepEqual(seven.result.history?.map((p) => p.dt), Array.from({ length: 7 }, (_, k) => addDays(DT, k - 7)), "oldest first");
  // No history given at all: skipped too.
  assert.equal(check(volume, frame(10)).result.skipped, true);
});

test("the percent band is inclusive at both edges (median 100, 30%: 70 and 130 pass, 69 and 131 fail)", () => {
  const h = { history: { "t: volume": history(14, (i) => (i % 2 === 0 ? 90 : 110)) } };
  assert.deepEqual([69, 70, 130, 131].map((rows) => check(volume, frame(rows), h).result.passed), [false, true, true, false]);
});

test("history is the previous N partitions by date: later days and days beyond N are ignored", () => {
  const points: HistoryPoint[] = [
    ...history(14, () => 100),
    { dt: addDays(DT, -15), value: 1 }, // the 15th day back: beyond the 14 compared with
    { dt: addDays(DT, 1), value: 1_000_000 }, // a later day loaded earlier (backfills run out of order)
    { dt: DT, value: 1 }, // the partition itself, from an earlier run
  ];
  const r = check(volume, frame(100), { history: { "t: volume": points } }).result;
  assert.equal(r.passed, true);
  assert.equal(r.history?.length, 14);
  assert.ok(r.history?.every((p) => p.dt < DT && p.dt >= addDays(DT, -14)));
});

test("weekly seasonality compares with the same weekday only", () => {
  // Tuesdays see 1000 rows, every other day 100; DT is a Tuesday.
  const days = Array.from({ length: 70 }, (_, k) => addDays(DT, -(k + 1)));
  const points = days.map((dt) => ({ dt, value: new Date(`${dt}T00:00:00Z`).getUTCDay() === 2 ? 1000 : 100 }));
  const weekly: CheckInput = { name: "t: volume", kind: "volume", anomaly: { seasonality: "weekly", minHistory: 4, history: 8 } };
  const r = check(weekly, frame(1000), { history: { "t: volume": points } }).result;
  assert.equal(r.passed, true, r.detail ?? "");
  assert.equal(r.history?.length, 8);
  assert.ok(r.history?.every((p) => new Date(`${p.dt}T00:00:00Z`).getUTCDay() === 2));
  assert.match(r.detail ?? "", /8 partitions on the same weekday, 2026-09-29 to 2026-11-17/);
  assert.equal(check(volume, frame(1000), { history: { "t: volume": points } }).result.passed, false, "without seasonality the Tuesday is an anomaly");
});

test("a z-score band follows the spread of the history; direction limits the side that fails", () => {
  const zscore: CheckInput = { name: "t: volume", kind: "volume", anomaly: { method: "zscore", maxZ: 2 } };
  // Mean 100, sample standard deviation 10 (values 90 and 110 alternating over 10 days, n-1 = 9: sd = sqrt(1000/9)).
  const h = { history: { "t: volume": history(10, (i) => (i % 2 === 0 ? 90 : 110)) } };
  const sd = Math.sqrt(1000 / 9);
  const r = check(zscore, frame(100), h).result;
  assert.ok(Math.abs((r.lower ?? 0) - (100 - 2 * sd)) < 1e-9 && Math.abs((r.upper ?? 0) - (100 + 2 * sd)) < 1e-9);
  assert.deepEqual([121, 122].map((rows) => check(zscore, frame(rows), h).result.passed), [true, false]);
  const drop: CheckInput = { name: "t: volume", kind: "volume", anomaly: { direction: "drop" } };
  const flat = { history: { "t: volume": history(10, () => 100) } };
  assert.equal(check(drop, frame(1000), flat).result.passed, true, "a rise never fails a drop rule");
  assert.equal(check(drop, frame(69), flat).result.passed, false);
  assert.equal(check(drop, frame(1000), flat).result.upper, null);
});

test("volume's floor fails a short partition even without history", () => {
  const floor: CheckInput = { name: "t: volume", kind: "volume", minRows: 50 };
  const r = check(floor, frame(49)).result;
  assert.deepEqual([r.passed, r.skipped, r.observed, r.lower], [false, false, 49, 50]);
  assert.match(r.detail ?? "", /49 rows, fewer than the floor of 50/);
  assert.equal(check(floor, frame(50)).result.skipped, true, "at the floor: then the history decides (none: skipped)");
});

test("an aggregate over selected rows is measured, bounded and compared with its history; it never quarantines", () => {
  const mean: CheckInput = {
    name: "amount: mean over purchases", kind: "aggregate", agg: "mean", column: "amount", where: pl.col("kind").eq(pl.lit("purchase")),
    severity: "warn", anomaly: { direction: "drop", maxChange: 0.5 },
  };
  // Purchases are the even ids: amounts[i % 2] with i even is amounts[0].
  const zeros = check(mean, frame(100, [0, 50]), { history: { "amount: mean over purchases": history(14, () => 40) } });
  assert.deepEqual([zeros.result.passed, zeros.result.observed, zeros.result.lower, zeros.result.severity, zeros.blocked], [false, 0, 20, "warn", false]);
  assert.match(zeros.result.detail ?? "", /^observed 0, 100\.0% below the median; expected at least 20/);
  const fine = check(mean, frame(100, [40, 0]), { history: { "amount: mean over purchases": history(14, () => 40) } });
  assert.equal(fine.result.passed, true);
  assert.equal(fine.result.observed, 40);
  // Bounds without history; every agg yields one number.
  const bounded = (agg: string, extra: object, data = frame(10, [1, 2, 3, 4, 5])) =>
    check({ name: "agg", kind: "aggregate", agg, column: "amount", min: 0, ...extra } as CheckInput, data).result.observed;
  assert.equal(bounded("sum", {}), 30);
  assert.equal(bounded("min", {}), 1);
  assert.equal(bounded("max", {}), 5);
  assert.equal(bounded("median", {}), 3);
  assert.equal(bounded("distinct_count", {}), 5);
  assert.equal(bounded("quantile", { quantile: 1 }), 5);
  assert.equal(check({ name: "agg", kind: "aggregate", agg: "count", where: pl.col("kind").eq(pl.lit("view")), min: 0 }, frame(10)).result.observed, 5);
  const nulls = pl.DataFrame([pl.Series("id", [1, 2, 3, 4], pl.Float64).cast(pl.Int64), pl.Series("amount", [1, null, null, 4], pl.Float64)]);
  assert.equal(check({ name: "agg", kind: "aggregate", agg: "null_rate", column: "amount", max: 0.5 }, nulls).result.observed, 0.5);
  const over = check({ name: "agg", kind: "aggregate", agg: "null_rate", column: "amount", max: 0.49 }, nulls);
  assert.deepEqual([over.result.passed, over.blocked, over.result.upper], [false, true, 0.49]);
  assert.match(over.result.detail ?? "", /^observed 0\.5, expected -inf to 0\.49$/);
  // No rows to aggregate: nothing to judge.
  const none = check(mean, frame(1), {});
  assert.deepEqual([none.result.skipped, none.result.observed], [true, null]);
});

test("table-level measures cover the run's partition when the frame spans several days (a Date dt column)", () => {
  const days = [addDays(DT, -1), DT, DT, addDays(DT, 1)].map((d) => new Date(`${d}T00:00:00Z`));
  const data = pl.DataFrame([pl.Series("id", [1, 2, 3, 4], pl.Float64).cast(pl.Int64), pl.Series("dt", days).cast(pl.Date), pl.Series("amount", [100, 1, 2, 100], pl.Float64)]);
  assert.equal(check({ ...volume, minRows: 0 }, data).result.observed, 2);
  assert.equal(check({ name: "s", kind: "aggregate", agg: "sum", column: "amount", min: 0 }, data).result.observed, 3);
  assert.equal(check({ name: "rows", kind: "row_count", min: 0 }, data).result.observed, 2);
});

test("freshness relative to now measures how far behind the clock the newest value is", () => {
  const ts = pl.Series("updated_at", [new Date("2026-11-25T06:00:00Z"), new Date("2026-11-25T09:00:00Z")]).cast(pl.Datetime("us", "UTC"));
  const data = pl.DataFrame([pl.Series("id", [1, 2], pl.Float64).cast(pl.Int64), ts]);
  const fresh: CheckInput = { name: "updated_at: fresh", kind: "freshness", column: "updated_at", maxAgeHours: 6, relativeTo: "now" };
  const ok = check(fresh, data, { now: new Date("2026-11-25T15:00:00Z") }).result;
  assert.deepEqual([ok.passed, ok.observed, ok.upper], [true, 6, 6]);
  const late = check(fresh, data, { now: new Date("2026-11-25T15:00:01Z") });
  assert.equal(late.result.passed, false);
  assert.match(late.result.detail ?? "", /newest updated_at is 2026-11-25T09:00:00.000Z, 6\.0 h before now \(at most 6 h allowed\)/);
});

test("presence: a field absent from more than the declared share of records fails; explicit nulls are not absent", () => {
  const present: CheckInput = { name: "page: sent", kind: "presence", column: "page", maxAbsent: 0.1 };
  const data = pl.DataFrame([pl.Series("id", [1, 2], pl.Float64).cast(pl.Int64), pl.Series("page", [null, null], pl.Utf8)]);
  const within = check(present, data, { presence: { records: 100, present: { page: 90 } } }).result;
  assert.deepEqual([within.passed, within.observed], [true, 0.1]);
  const renamed = check(present, data, { presence: { records: 100, present: { page: 89 } } });
  assert.deepEqual([renamed.result.passed, renamed.blocked], [false, true]);
  assert.match(renamed.result.detail ?? "", /page was absent from 11 of 100 records \(11\.0%\), more than 10\.0%: did the source rename or drop it\?/);
  const noCounts = check(present, data).result;
  assert.deepEqual([noCounts.passed, noCounts.skipped], [true, true]);
  assert.match(noCounts.detail ?? "", /skipped: no presence counts for page/);
});

test("the decoder counts a field as present when its key is sent, null or not, and absent when it is missing", () => {
  const { columns } = deriveColumns(z.object({ id: z.string(), props: z.object({ page: z.string().nullish(), amount: z.number().nullish() }).nullish() }));
  const present = new Int32Array(columns.length);
  const records = [
    { id: "a", props: { page: "/x", amount: 1 } },
    { id: "b", props: { page: null } }, // amount absent, page explicitly null
    { id: "c", props: null }, // both leaves absent
    { id: "d" }, // props absent
    { id: 5, props: { page: 7, amount: null } }, // wrong types are present (and decode errors)
  ];
  decodeRecords(records, columns, 1, { present });
  decodeRecords(records.slice(0, 1), columns, 2, { present }); // counts add up across pages
  const byName = Object.fromEntries(columns.map((c, i) => [c.name, present[i]]));
  assert.deepEqual(byName, { id: 6, page: 4, amount: 3 });
});

test("judge() exposes the band for other callers, and anomaly rules are validated when the suite is defined", () => {
  const verdict = judge(50, history(7, () => 100), resolveRule({ maxChange: 0.5 }), DT);
  assert.deepEqual([verdict.passed, verdict.lower, verdict.upper], [true, 50, 150]);
  assert.throws(
    () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "v", kind: "volume", anomaly: { history: 0 } }] }),
    (e: unknown) => e instanceof ConfigError && /check "v" \(volume\): anomaly\.history/.test(e.message),
  );
  assert.throws(
    () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "a", kind: "aggregate", agg: "mean", column: "amount" }] }),
    (e: unknown) => e instanceof ConfigError && /needs min, max or an anomaly rule/.test(e.message),
  );
  assert.throws(
    () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "a", kind: "aggregate", agg: "sum", min: 0 }] }),
    (e: unknown) => e instanceof ConfigError && /agg "sum" needs a column/.test(e.message),
  );
  assert.throws(
    () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "v", kind: "volume", onFail: "quarantine" }] }),
    (e: unknown) => e instanceof ConfigError && /a table-level check has no rows to quarantine/.test(e.message),
  );
});

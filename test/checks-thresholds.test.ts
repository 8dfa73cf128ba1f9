/**
 * Graded thresholds of row checks: warn and block limits as counts and as fractions, each tested
 * exactly at its edge (X passes that level, X+1 crosses it); the allowance keeps its meaning.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError } from "../src/core/errors.ts";
import { defineSuite, validate, type CheckInput, type CheckReport, type ValidationOutcome } from "../src/validate/index.ts";

const ctx = { window: dayWindow("2026-11-20") };

/** `rows` rows keyed by id 1..rows whose value v is negative for the first `failing` of them. */
function frameWith(rows: number, failing: number): pl.DataFrame {
  const ids = Array.from({ length: rows }, (_, i) => i + 1);
  return pl.DataFrame([pl.Series("id", ids, pl.Float64).cast(pl.Int64), pl.Series("v", ids.map((i) => (i <= failing ? -i : i)), pl.Float64)]);
}

function run(rows: number, failing: number, extra: Partial<CheckInput>): { outcome: ValidationOutcome; result: CheckReport } {
  const check = { name: "v: >= 0", kind: "compare", column: "v", op: "ge", value: 0, ...extra } as CheckInput;
  const outcome = validate(frameWith(rows, failing), defineSuite({ table: "t", key: ["id"], checks: [check] }), ctx);
  const result = outcome.results[0];
  assert.ok(result);
  return { outcome, result };
}

/** "pass" | "warn" (failed, rows quarantined, loads) | "block". */
function level(r: { outcome: ValidationOutcome; result: CheckReport }): string {
  if (r.outcome.blocked.length > 0) return "block";
  return r.result.passed ? "pass" : "warn";
}

test("a count limit is exact at its edge: X failing rows stay within it, X+1 cross it", () => {
  const thresholds = { warn: 2, block: 5 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((failing) => level(run(1000, failing, { thresholds }))), ["pass", "pass", "pass", "warn", "warn", "warn", "block"]);
  // Within the warn limit the failing rows are still quarantined: passing quietly is not loading them.
  const quiet = run(1000, 2, { thresholds });
  assert.equal(quiet.outcome.quarantined.height, 2);
  assert.equal(quiet.result.failingRows, 2);
  assert.match(quiet.result.detail ?? "", /^2 of 1000 rows \(0\.20%\) failed, within the warn limit of 2 rows$/);
  const warned = run(1000, 3, { thresholds });
  assert.equal(warned.result.action, "quarantine");
  assert.match(warned.result.detail ?? "", /more than the warn limit of 2 rows/);
  const blocked = run(1000, 6, { thresholds });
  assert.equal(blocked.result.action, "block");
  assert.match(blocked.result.detail ?? "", /^6 of 1000 rows \(0\.60%\) failed, more than the block limit of 5 rows$/);
});

test("a fraction limit is exact at its edge, computed on the partition's row count", () => {
  // 0.1% and 0.5% of 2000 rows are 2 and 10 rows.
  const thresholds = { warn: 0.001, block: 0.005 };
  assert.deepEqual([2, 3, 10, 11].map((failing) => level(run(2000, failing, { thresholds }))), ["pass", "warn", "warn", "block"]);
  // The same fractions in a 10-row partition: one bad row is 10%, so it blocks; a count would not.
  assert.equal(level(run(10, 1, { thresholds })), "block");
  assert.equal(level(run(10, 1, { thresholds: { block: 500 } })), "warn", "one bad row of ten need not block");
  // And 500,000 bad rows of 10M are 5%: within the default allowance, but a warn limit reports them.
  assert.equal(level(run(2000, 100, {})), "warn", "the default allowance (5%) quarantines 100 of 2000 and loads the rest");
  assert.equal(level(run(2000, 101, {})), "block");
});

test("explicit { rows } and { fraction } limits, and quarantine as the other name of the block limit", () => {
  assert.deepEqual([3, 4].map((f) => level(run(100, f, { thresholds: { block: { rows: 3 } } }))), ["warn", "block"]);
  assert.deepEqual([3, 4].map((f) => level(run(100, f, { thresholds: { quarantine: { fraction: 0.03 } } }))), ["warn", "block"]);
  assert.deepEqual([3, 4].map((f) => level(run(100, f, { thresholds: { quarantine: 3, block: 3 } }))), ["warn", "block"]);
  // { fraction: 1 } never blocks: every row may be quarantined.
  assert.equal(level(run(100, 100, { thresholds: { block: { fraction: 1 } } })), "warn");
});

test("the allowance keeps working as the quarantine/block boundary, and thresholds.warn combines with it", () => {
  assert.deepEqual([5, 6].map((f) => level(run(100, f, { allowance: 0.05 }))), ["warn", "block"]);
  const r = run(100, 6, { allowance: 0.05 });
  assert.equal(r.result.allowance, 0.05);
  assert.match(r.result.detail ?? "", /more than the allowance of 5\.0%/);
  assert.deepEqual([1, 2, 5, 6].map((f) => level(run(100, f, { allowance: 0.05, thresholds: { warn: 1 } }))), ["pass", "warn", "warn", "block"]);
  // A count block limit has no fraction to show as the allowance.
  assert.equal(run(100, 1, { thresholds: { block: 3 } }).result.allowance, null);
});

test("a warning check takes a warn limit and never blocks", () => {
  const warn = { severity: "warn" as const, thresholds: { warn: 0.01 } };
  assert.deepEqual([10, 11, 1000].map((f) => level(run(1000, f, warn))), ["pass", "warn", "warn"]);
  const all = run(1000, 1000, warn);
  assert.equal(all.outcome.quarantined.height, 0, "warnings never remove rows");
  assert.equal(all.outcome.valid.height, 1000);
});

test("bad thresholds are configuration errors that name the check and the problem", () => {
  const bad = (extra: Partial<CheckInput>, pattern: RegExp) =>
    assert.throws(
      () => defineSuite({ table: "t", key: ["id"], checks: [{ name: "v: >= 0", kind: "compare", column: "v", op: "ge", value: 0, ...extra } as CheckInput] }),
      (e: unknown) => e instanceof ConfigError && e.message.includes('check "v: >= 0"') && pattern.test(e.message),
    );
  bad({ thresholds: { block: 1.5 } }, /1\.5 is neither a fraction below 1 nor a whole number of rows/);
  bad({ thresholds: { warn: -1 } }, /thresholds\.warn/);
  bad({ thresholds: { block: { rows: 2.5 } } }, /expected a fraction below 1, a whole number of rows/);
  bad({ thresholds: { quarantine: 3, block: 4 } }, /name the same boundary .*: give one/);
  bad({ thresholds: { warn: 10, block: 5 } }, /thresholds\.warn \(10 rows\) is above the block limit \(5 rows\)/);
  bad({ severity: "warn", thresholds: { block: 5 } }, /a warning never blocks: give only thresholds\.warn/);
  bad({ onFail: "block", thresholds: { warn: 1 } }, /thresholds grade quarantine checks/);
  bad({ thresholds: { warn: 1, other: 2 } as never }, /thresholds/);
});

test("a defined check with thresholds can be spread into a new suite", () => {
  const first = defineSuite({ table: "t", key: ["id"], checks: [{ name: "v: >= 0", kind: "compare", column: "v", op: "ge", value: 0, thresholds: { warn: 1, block: 4 } }] });
  const again = defineSuite({ table: "t", key: ["id"], checks: first.checks.map((c) => ({ ...c })) });
  const outcome = validate(frameWith(100, 5), again, ctx);
  assert.equal(outcome.blocked.length, 1, "the spread check keeps its block limit of 4 rows");
});

/** Cheap frame metadata and shared expressions: schemaOf (the same as Polars' own `schema`), and memoized expressions. */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { schemaOf } from "../src/core/frame-schema.ts";
import { aliasOnce, exprOnce } from "../src/core/expr-memo.ts";

test("schemaOf gives the same names, order and dtypes as frame.schema, nested and zoned types included", () => {
  const frame = pl
    .DataFrame({
      id: [1, 2],
      name: ["a", null],
      amount: [1.5, null],
      ok: [true, false],
      tags: [["x"], []],
      nothing: [null, null],
    })
    .withColumns(
      pl.concatList([pl.struct([pl.col("name"), pl.col("amount")])]).alias("refunds"),
      pl.col("id").cast(pl.Datetime("us", "UTC")).alias("ts"), pl.col("id").cast(pl.Int32).alias("small"), pl.col("id").cast(pl.Date).alias("dt"),
    );
  const ours = schemaOf(frame);
  const theirs = frame.schema;
  assert.deepEqual(Object.keys(ours), Object.keys(theirs));
  for (const [name, dtype] of Object.entries(theirs)) {
    assert.equal(String(ours[name]), String(dtype), name);
    assert.ok(ours[name]?.equals(dtype as pl.DataType), `${name}: ${String(ours[name])} equals ${String(dtype)}`);
  }
  assert.equal(String(ours["ts"]), String(pl.Datetime("us", "UTC")));
  assert.ok(String(ours["refunds"]).includes("Struct"), String(ours["refunds"]));
});

test("schemaOf of an empty frame is empty, and of a frame without rows keeps its columns", () => {
  assert.deepEqual(schemaOf(pl.DataFrame({})), {});
  const empty = pl.DataFrame({ a: [1], b: ["x"] }).head(0);
  assert.deepEqual(Object.keys(schemaOf(empty)), ["a", "b"]);
  assert.ok(schemaOf(empty)["b"]?.equals(pl.String));
});

test("memoized expressions: an alias is built once per expression and name, a keyed expression once per key, and both evaluate as unmemoized ones", () => {
  const flag = pl.col("a").gt(1);
  assert.equal(aliasOnce(flag, "f1"), aliasOnce(flag, "f1"));
  assert.notEqual(aliasOnce(flag, "f1"), aliasOnce(flag, "f2"));
  let builds = 0;
  const build = () => (builds++, pl.col("a").sum());
  assert.equal(exprOnce("test|sum a", build), exprOnce("test|sum a", build));
  assert.equal(builds, 1);
  const frame = pl.DataFrame({ a: [1, 2, 3] });
  const out = frame.lazy().select(aliasOnce(flag, "f1"), aliasOnce(flag, "f2")).collectSync();
  assert.deepEqual(out.toRecords(), [{ f1: false, f2: false }, { f1: true, f2: true }, { f1: true, f2: true }]);
  assert.equal(frame.lazy().select(exprOnce("test|sum a", build)).collectSync().getColumn("a").get(0), 6);
});

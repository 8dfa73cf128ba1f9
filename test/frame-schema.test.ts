/** schemaOf: a frame's column types without materializing its columns, the same as Polars' own `schema`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { schemaOf } from "../src/core/frame-schema.ts";

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
    assert.ok(ours[name]?.equals(dtype), `${name}: ${String(ours[name])} equals ${String(dtype)}`);
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

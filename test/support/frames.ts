/** DataFrame comparison for tests: equal columns and rows, both frames printed on failure. */
import assert from "node:assert/strict";
import type pl from "nodejs-polars";

export interface FrameCompareOptions {
  /** Sort both frames by these columns before comparing (row order is not part of the contract). */
  sortBy?: string[];
  /** Compare only these columns. */
  columns?: string[];
}

/** Asserts two DataFrames hold the same columns and rows; on failure prints both frames. */
export function assertFramesEqual(actual: pl.DataFrame, expected: pl.DataFrame, options: FrameCompareOptions = {}): void {
  let a = actual;
  let e = expected;
  if (options.columns) {
    a = a.select(...options.columns);
    e = e.select(...options.columns);
  }
  if (options.sortBy && a.height > 0) a = a.sort(options.sortBy);
  if (options.sortBy && e.height > 0) e = e.sort(options.sortBy);
  const show = () => `\nactual ${a.shape.height}x${a.shape.width}:\n${a.toString()}\nexpected ${e.shape.height}x${e.shape.width}:\n${e.toString()}`;
  assert.deepEqual(a.columns, e.columns, `columns differ${show()}`);
  assert.equal(a.height, e.height, `row counts differ${show()}`);
  const rowsA = a.toRecords();
  const rowsE = e.toRecords();
  for (let i = 0; i < rowsA.length; i++) {
    assert.deepEqual(normalize(rowsA[i]), normalize(rowsE[i]), `row ${i} differs${show()}`);
  }
}

function normalize(row: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row ?? {})) {
    out[k] = v instanceof Date ? v.toISOString() : typeof v === "bigint" ? Number(v) : v;
  }
  return out;
}

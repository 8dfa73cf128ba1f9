/** A typed frame with no rows for a record schema: what a source with nothing to list extracts. */
import pl from "nodejs-polars";
import type { z } from "zod";
import { deriveColumns, withExtraColumn } from "./record-columns.ts";
import { batchesToFrame } from "./record-decoder.ts";

/** The record's columns and _page/_row/_error, no rows; `extra` columns (Utf8, null) appended. */
export function emptyFrameOf(schema: z.ZodObject, extra: readonly string[] = [], keepUnknown = true): pl.DataFrame {
  const columns = deriveColumns(schema).columns;
  const frame = batchesToFrame([], keepUnknown ? withExtraColumn(columns) : columns);
  return extra.length === 0 ? frame : frame.withColumns(...extra.map((c) => pl.lit(null).cast(pl.Utf8).alias(c)));
}

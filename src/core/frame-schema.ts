/**
 * A frame's schema without nodejs-polars' `frame.schema`, which builds a Series wrapper per column
 * (about a millisecond each): a chunked day asks for schemas per chunk, and that added up to
 * seconds on a 10M-event day.
 */
import type pl from "nodejs-polars";

/** Column name -> dtype of `frame`, as `frame.schema` gives it. */
export function schemaOf(frame: pl.DataFrame): Record<string, pl.DataType> {
  const dtypes = frame.dtypes;
  return Object.fromEntries(frame.columns.map((name, i) => [name, dtypes[i] as pl.DataType]));
}

/** A Polars frame's column types, read without materializing its columns. */
import type pl from "nodejs-polars";

/**
 * Column name -> dtype of `frame`, as `frame.schema` gives it. nodejs-polars builds `schema` from
 * a JS Series object per column (~1 ms each: 9 ms for a frame of 8 columns, on every chunk and every
 * small rerun), while `columns` and `dtypes` are one native call each (~0.02 ms).
 */
export function schemaOf(frame: pl.DataFrame): Record<string, pl.DataType> {
  const dtypes = frame.dtypes;
  return Object.fromEntries(frame.columns.map((name, i) => [name, dtypes[i] as pl.DataType]));
}

/**
 * A lake partition written from pieces rather than one frame: the rows of a day that was
 * processed group by group, some in memory and some spilled to Arrow IPC files. Everything in
 * memory goes through writeLakePartition as one frame; otherwise the pieces (Parquet files: a lazy
 * scan of Arrow IPC files takes key=value segments of their path for columns) are streamed, in
 * order, into the one Parquet file of the partition (atomically, in bounded memory).
 */
import pl from "nodejs-polars";
import { writeLakePartition, writeLakePartitionStreamed, type LakeRevision } from "./lake.ts";

/** The pieces of one partition, in order, and the columns (and their types) the table has. */
export interface LakeParts {
  frames: pl.DataFrame[];
  /** Parquet files (written after the frames' rows). */
  files: string[];
  schema: Record<string, pl.DataType>;
  columns: readonly string[];
}

/** Atomically writes (or replaces) one partition of `table` from its pieces; returns the Parquet path. */
export async function writeLakePartitionFromParts(dataDir: string, table: string, dt: string, parts: LakeParts, revision?: LakeRevision): Promise<string> {
  const columns = [...parts.columns];
  if (parts.files.length === 0) {
    const frame = parts.frames.length === 0 ? emptyFrame(parts.schema, columns) : parts.frames.length === 1 ? (parts.frames[0] as pl.DataFrame) : pl.concat(parts.frames, { how: "vertical" });
    return writeLakePartition(dataDir, table, dt, frame.select(...columns), revision);
  }
  const scans = [...parts.frames.map((f) => f.lazy()), ...parts.files.map((f) => pl.scanParquet(f, { hivePartitioning: false }))];
  const rows = (scans.length === 1 ? (scans[0] as pl.LazyDataFrame) : pl.concat(scans, { how: "vertical" })).select(...columns);
  return writeLakePartitionStreamed(dataDir, table, dt, rows, parts.schema, revision);
}

/**
 * Atomically writes (or replaces) one partition of `table` straight from spilled Arrow IPC pieces
 * (in order), keeping the rows where `where` holds: one streamed read of the pieces, no split
 * copies. The pieces' paths must have no key=value segment (a lazy IPC scan takes those for
 * columns). A table that keeps unknown fields gets a null `_extra` from pieces without one.
 */
export async function writeLakePartitionFromIpc(dataDir: string, table: string, dt: string, parts: { files: readonly string[]; where: pl.Expr | null; schema: Record<string, pl.DataType>; columns: readonly string[] }, revision?: LakeRevision): Promise<string> {
  const columns = [...parts.columns];
  const scans = parts.files.map((file) => {
    const scan = pl.scanIPC(file);
    const missing = columns.includes(EXTRA_COLUMN) && !scan.columns.includes(EXTRA_COLUMN);
    const rows = parts.where ? scan.filter(parts.where) : scan;
    return (missing ? rows.withColumns(pl.lit(null).cast(pl.Utf8).alias(EXTRA_COLUMN)) : rows).select(...columns);
  });
  if (scans.length === 0) return writeLakePartition(dataDir, table, dt, emptyFrame(parts.schema, columns), revision);
  const rows = scans.length === 1 ? (scans[0] as pl.LazyDataFrame) : pl.concat(scans, { how: "vertical" });
  return writeLakePartitionStreamed(dataDir, table, dt, rows, parts.schema, revision);
}

/** Fields the contract does not declare (record-columns' _extra): a frame without them loads nulls there. */
export const EXTRA_COLUMN = "_extra";

/** A frame with no rows and the given columns and types. */
export function emptyFrame(schema: Record<string, pl.DataType>, columns: readonly string[]): pl.DataFrame {
  return pl.DataFrame(columns.map((c) => pl.Series(c, [], schema[c] ?? pl.Null)));
}

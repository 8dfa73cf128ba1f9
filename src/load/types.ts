/** What the load stage needs to know about a table, and what it is handed to load. */

/** A column of a warehouse table, with its DuckDB type. */
export interface ColumnSpec {
  name: string;
  /** DuckDB type: VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMPTZ, DATE. */
  type: string;
}

/**
 * A table Sluice materializes. `partitioned` tables are replaced one `dt` partition at a time
 * (MERGE deletes the partition's rows that are gone from the source); unpartitioned tables are
 * upserted by key (the lake still keeps one snapshot per run date).
 */
export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
  /** Columns that identify a row; MERGE matches on them. */
  key: string[];
  partitioned: boolean;
  /**
   * For upserted tables: a column that must not go backwards; a MATCHED row is only updated when
   * the source's value is >= the target's (e.g. updated_at).
   */
  versionColumn?: string;
  /**
   * Deletions the API reports as rows (a `deleted` status, `archived: true`, a tombstone): rows where
   * `column` equals `equals` delete the row with their key instead of loading. Without it such rows
   * load like any other and keep their flag.
   */
  deleteWhen?: { column: string; equals: string | number | boolean };
  /**
   * Partitioned tables: the largest share (0..1) of a loaded partition's rows a rerun may remove
   * (rows before minus rows after, over rows before); default 0.5. An empty listing or a truncated
   * source would otherwise wipe a loaded day. 1 turns the guard off. `--allow-shrink` lifts it for a run.
   */
  maxShrink?: number;
  /** What a larger shrink does: `fail` the run (default; nothing is loaded) or `warn` and load it. */
  onShrink?: "fail" | "warn";
}

/** One partition of a table, written to the lake and loaded into the warehouse. */
export interface PartitionLoad {
  table: TableSpec;
  /** The partition key (YYYY-MM-DD): the lake directory dt=<dt>, and for partitioned tables the rows' dt. */
  dt: string;
  /** The partition's Parquet file in the lake (already atomically in place). */
  parquetPath: string;
  /** Unpartitioned tables: the load replaces the whole table (a full refresh), instead of upserting. */
  replaceAll?: boolean;
  /** Rows in the file, when the writer knows them (small partitions are staged as a copy). */
  rows?: number;
  /**
   * The writer's count, over the rows it wrote (with `rows`), of rows with a NULL key and of rows
   * repeating another's key, so the load need not count them again: only used when the key columns
   * are staged as they are in the file (a cast could merge two keys). Absent: the load counts.
   */
  keyFaults?: KeyFaults;
  /**
   * The columns the writer wrote as all-null of Polars type Null (Parquet logical type Null, which
   * DuckDB reads as INTEGER), so the load need not read the file's Parquet schema to find them.
   * Absent: the load reads it.
   */
  nullColumns?: string[];
}

/** Rows of a partition whose key MERGE cannot take. */
export interface KeyFaults {
  nullKeys: number;
  duplicateKeys: number;
}

/** A record that did not make it into its table, and why. */
export interface QuarantineRow {
  table: string;
  /** The raw record as JSON text, exactly as the source sent it where we have it. */
  record: string;
  /** Names the field and the rule, or the check that failed. */
  reason: string;
}

/** The outcome of one run of one partition, for sluice.runs. */
export interface RunRecord {
  runId: string;
  job: string;
  dt: string;
  status: "running" | "succeeded" | "failed" | "cancelled" | "abandoned";
  startedAt: Date;
  finishedAt: Date | null;
  rowsIn: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  error: string | null;
}

/** What a job's charts hook gets and returns: its own charts for the run report, drawn from the lake. */

/** One chart of the run report. `histogram` draws adjacent bars; `hbar` is a horizontal bar chart. */
export interface ReportChart {
  title: string;
  kind: "bar" | "hbar" | "line" | "histogram";
  labels: string[];
  values: number[];
  /** Axis titles (optional). */
  xLabel?: string;
  yLabel?: string;
}

/** Read access to the lake's files, for a job's charts. */
export interface LakeFiles {
  /** The Parquet file of a table's partition, or null when the lake does not have that partition. */
  partitionFile(table: string, dt: string): Promise<string | null>;
}

/** The input of a job's charts hook: the partition that just succeeded, and the lake. */
export interface ChartsInput {
  dt: string;
  lake: LakeFiles;
}

/** A job's charts hook: the charts of a partition that succeeded (an error is reported, never fails the run). */
export type ChartsHook = (input: ChartsInput) => Promise<ReportChart[]>;

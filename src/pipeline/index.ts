/** The pipeline stage's public surface: defining jobs and tables, running partitions, their outcomes. */
export { defineJob, type ChartsHook, type ChartsInput, type Extracted, type JobContext, type JobDefinition, type LakeFiles, type LakeWindow, type ReportChart, type TableOutput } from "./job.ts";
export { defineTable, recordColumns, tableFromRecord, type RecordTableOptions } from "./define-table.ts";
export { runPartition, type RunSettings } from "./run-partition.ts";
export { notRun, type PartitionOutcome, type PartitionStatus, type StepRecord } from "./outcome.ts";
export { runBackfill, type BackfillOptions, type BackfillProgress } from "./backfill.ts";
export { jsonRows, listRows, type ListRowsOptions } from "./frames.ts";
export { ChunkedFrame, type LakeWindowFiles, type RangeTarget } from "./chunked-frame.ts";
export { firstCopies } from "./first-copies.ts";
export { SourceStream, type StreamOptions } from "./chunked-stages.ts";
export type { StepOutput } from "./step-record.ts";

/**
 * What job files import: declaring sources, tables, suites and jobs. The engine loads job files;
 * it never imports them.
 */
export { defineSource } from "./extract/define-source.ts";
export type { AuthSpec, EndpointSpec, EnvRef, JsonPath, PaginatorSpec, RequestPolicy, ResponseRules, SourceSpec } from "./extract/types.ts";
export { DEMO_ENDPOINT } from "./extract/endpoint.ts";
export { defineJob, defineTable, firstCopies, listRows, recordColumns, tableFromRecord, type ChunkedFrame, type LakeWindowFiles, type RangeTarget, type ListRowsOptions, type SourceStream, type StepOutput, type StreamOptions, type Extracted, type JobContext, type JobDefinition, type LakeWindow, type RecordTableOptions, type TableOutput } from "./pipeline/index.ts";
export type { ColumnSpec, TableSpec } from "./load/types.ts";
export { defineSuite, type CheckInput, type Suite, type SuiteInput } from "./validate/index.ts";
export { addDays, type PartitionWindow } from "./core/dates.ts";

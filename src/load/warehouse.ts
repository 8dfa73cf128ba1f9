/**
 * The warehouse's public face: what other stages use of the DuckDB warehouse, in one import.
 * Each piece lives in the file of its role:
 * - warehouse-gate.ts: opening the file (in-process readers/writer gate, retry on lock conflicts)
 * - schema.ts: sluice and lake schemas, job tables, safe schema evolution, lake views
 * - load-transaction.ts / partition-merge.ts: the one-transaction load and each partition's MERGE
 * - run-ledger.ts: sluice.runs, sluice.quarantine, sluice.checks
 * - sql-values.ts: SQL identifiers and literals, DuckDB values as JSON
 */
export { warehousePath, withWarehouse, type DuckDBConnection, type WarehouseOptions } from "./warehouse-gate.ts";
export { ensureWarehouse } from "./schema.ts";
export { loadPartitions, type LoadTransaction } from "./load-transaction.ts";
export type { LoadCounts } from "./partition-merge.ts";
export {
  emptyHistory,
  markAbandonedRuns,
  readCheckHistory,
  readCheckResults,
  readPartitionStatus,
  recordRun,
  recordStartedRun,
  type CheckResultFilter,
  type CheckResultRow,
  type PartitionCheck,
  type PartitionStatusRow,
  type QuarantineSet,
} from "./run-ledger.ts";
export { query, toJsonValue } from "./sql-values.ts";

/**
 * A run's load: every partition merged, quarantine replaced, checks appended and the run row
 * written in ONE transaction, so a killed load leaves the warehouse exactly as before it started.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { failpoint } from "../core/failpoints.ts";
import { mergePartition, type LoadCounts } from "./partition-merge.ts";
import { appendChecks, replaceQuarantine, upsertRun, type PartitionCheck, type QuarantineSet } from "./run-ledger.ts";
import { ensureSluiceSchema, refreshLakeViews } from "./schema.ts";
import { writeMarks, type SourceMark } from "./source-state.ts";
import type { PartitionLoad, RunRecord } from "./types.ts";

/** Everything one run loads, committed together or not at all. */
export interface LoadTransaction {
  /** The final run row (usually status succeeded), written in the same transaction. */
  run: RunRecord;
  /** One staging table + one MERGE per partition. */
  loads: PartitionLoad[];
  /**
   * Replaces the quarantine set of (run.job, dt) for every dt of `dts` (default [run.dt]); a row's
   * dt is run.dt unless it says otherwise. Unchanged rows keep their original run_id.
   */
  quarantine: QuarantineSet;
  /** Appended to sluice.checks with run_id, job and checked_at. */
  checks: PartitionCheck[];
  /** Incremental sources: the marks this load advances to (sluice.state), committed with it. */
  marks?: SourceMark[];
  /** A full refresh: unpartitioned tables are replaced (rows absent from the load are deleted) and the job's marks reset. */
  fullRefresh?: boolean;
  /** Load even when a partition shrinks by more than its table's maxShrink (`--allow-shrink`). */
  allowShrink?: boolean;
}

/** Loads all partitions, replaces quarantine, appends checks and upserts the run row in ONE transaction. */
export async function loadPartitions(conn: DuckDBConnection, tx: LoadTransaction): Promise<LoadCounts> {
  const totals: LoadCounts = { inserted: 0, updated: 0, deleted: 0 };
  const warnings: string[] = [];
  const loadChecks: PartitionCheck[] = [];
  // Outside the transaction: ensureSluiceSchema's work must not be rolled back with a failed load.
  await ensureSluiceSchema(conn);
  // The memory limit and insertion order of a load are the host's settings (see warehouse-host.ts).
  await conn.run("BEGIN TRANSACTION");
  try {
    for (const [index, load] of tx.loads.entries()) {
      const counts = await mergePartition(conn, tx.fullRefresh ? { ...load, replaceAll: true } : load, index, tx.run.job, { allowShrink: tx.allowShrink === true });
      totals.inserted += counts.inserted;
      totals.updated += counts.updated;
      totals.deleted += counts.deleted;
      warnings.push(...(counts.warnings ?? []));
      loadChecks.push(...(counts.checks ?? []));
    }
    failpoint("warehouse.merge");
    await replaceQuarantine(conn, tx.run, tx.quarantine);
    await appendChecks(conn, tx.run, [...tx.checks, ...loadChecks]);
    await writeMarks(conn, tx.run, tx.marks ?? [], tx.fullRefresh === true);
    await upsertRun(conn, tx.run);
    failpoint("warehouse.bookkeeping");
    await conn.run("COMMIT");
  } catch (error) {
    await conn.run("ROLLBACK").catch(() => undefined);
    throw error;
  }
  // After the commit: creating a view reads every lake file, and one corrupt file must not undo a load.
  warnings.push(...(await refreshLakeViews(conn, tx.loads)));
  return warnings.length > 0 ? { ...totals, warnings } : totals;
}

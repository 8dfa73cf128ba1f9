/**
 * Everything a run asks of the warehouse, behind one interface: the local DuckDB file by default,
 * or a single loader process elsewhere (scale-out) that serializes every write.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../core/log.ts";
import { isLockHeld } from "../load/locks.ts";
import { readMarks, type SourceMark } from "../load/source-state.ts";
import { recordDeferredRuns } from "./deferred-runs.ts";
import type { RunRecord, TableSpec } from "../load/types.ts";
import type { CheckHistory, HistoryQuery } from "../validate/types.ts";
import {
  ensureWarehouse,
  loadPartitions,
  emptyHistory,
  markAbandonedRuns,
  readCheckHistory,
  recordRun,
  warehousePath,
  withWarehouse,
  type DuckDBConnection,
  type LoadCounts,
  type LoadTransaction,
} from "../load/warehouse.ts";

export type { LoadCounts };

/** What a started run learns from the warehouse: its job's stored marks (read in the same open). */
export interface RunStart {
  marks: SourceMark[];
}

export interface WarehouseGateway {
  /** Creates the job's tables if needed, marks runs of dead processes abandoned, and records this run as running. */
  startRun(run: RunRecord, tables: TableSpec[]): Promise<RunStart>;
  /** The partition's load transaction: MERGE per partition, quarantine, checks, the run row. */
  commit(tx: LoadTransaction): Promise<LoadCounts>;
  /** Records a run that failed or was cancelled (and the checks that explain a block). */
  fail(tx: LoadTransaction): Promise<void>;
  /** Earlier observed values of a table's anomaly checks (by date, last successful run each); empty before any run. */
  checkHistory(query: HistoryQuery): Promise<CheckHistory>;
  /** The stored marks of a job's incremental sources (sluice.state). */
  readMarks(job: string): Promise<SourceMark[]>;
}

/** The warehouse file in the data directory, opened for each call and closed right after. */
export function localWarehouse(dataDir: string, options: { signal: AbortSignal; log: Logger; onWait?: (m: string) => void; waitMs?: number }): WarehouseGateway {
  const patience = options.waitMs === undefined ? {} : { waitMs: options.waitMs };
  const wait = { signal: options.signal, ...patience, ...(options.onWait ? { onWait: options.onWait } : {}) };
  return {
    startRun: (run, tables) =>
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          await ensureWarehouse(conn, tables, dataDir);
          await healAbandonedRuns(conn, dataDir, options.log);
          const deferred = await recordDeferredRuns(conn, dataDir);
          if (deferred > 0) options.log.info({ deferred }, "recorded runs that ended while the warehouse was busy");
          await recordRun(conn, run);
          return { marks: await readMarks(conn, run.job) };
        },
        wait,
      ),
    commit: (tx) => withWarehouse(dataDir, "write", (conn) => loadPartitions(conn, tx), wait),
    readMarks: (job) => withWarehouse(dataDir, "read", (conn) => readMarks(conn, job), wait),
    fail: (tx) =>
      // Recording a failure must work even after the run's own signal was aborted (Ctrl-C).
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          if (tx.checks.length > 0) await loadPartitions(conn, tx);
          else await recordRun(conn, tx.run);
        },
        { ...patience, ...(options.onWait ? { onWait: options.onWait } : {}) },
      ),
    checkHistory: async (q) =>
      // No warehouse yet (a first run, a preview): no history, and nothing to create just to read.
      existsSync(warehousePath(dataDir)) ? withWarehouse(dataDir, "read", (conn) => readCheckHistory(conn, q), wait) : emptyHistory(q),
  };
}

/** Marks 'running' rows whose process no longer holds its partition lock as abandoned (a killed run). */
async function healAbandonedRuns(conn: DuckDBConnection, dataDir: string, log: Logger): Promise<void> {
  const live = await liveRunIds(dataDir);
  const healed = await markAbandonedRuns(conn, (id) => live.has(id));
  if (healed > 0) log.warn({ healed }, "marked runs of dead processes as abandoned");
}

/** Run ids whose partition lock is held by a live process. */
async function liveRunIds(dataDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const names = await readdir(path.join(dataDir, "locks")).catch(() => [] as string[]);
  for (const file of names) {
    if (!file.startsWith("run-") || !file.endsWith(".lock")) continue;
    const held = await isLockHeld(dataDir, file.slice(0, -".lock".length));
    if (held.held && held.owner) ids.add(held.owner.runId);
  }
  return ids;
}

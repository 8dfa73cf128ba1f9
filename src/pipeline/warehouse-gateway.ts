/**
 * Everything a run asks of the warehouse, behind one interface: the local DuckDB file by default,
 * or a single loader process elsewhere (scale-out) that serializes every write.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { copyPartitionBookkeeping, type CopyOptions, type PartitionKey } from "../load/bookkeeping-copy.ts";
import { isLockHeld } from "../load/locks.ts";
import { emptiedQuarantine, markAbandoned } from "../load/run-ledger.ts";
import { readMarks, type SourceMark } from "../load/source-state.ts";
import { recordDeferredRuns } from "./deferred-runs.ts";
import type { RunRecord, TableSpec } from "../load/types.ts";
import type { CheckHistory, HistoryQuery } from "../validate/types.ts";
import {
  ensureWarehouse,
  loadPartitions,
  emptyHistory,
  readCheckHistory,
  recordRun,
  recordStartedRun,
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

/**
 * How long a run's start keeps the warehouse open for its load: a rerun that finds little to do
 * loads within this and pays one open and one checkpoint instead of two (~45 ms of a ~110 ms rerun).
 */
const START_LINGER_MS = 500;

/** The warehouse file in the data directory, opened for each call and closed right after (a run's start lingers briefly). */
export function localWarehouse(dataDir: string, options: { signal: AbortSignal; log: Logger; onWait?: (m: string) => void; waitMs?: number }): WarehouseGateway {
  const patience = options.waitMs === undefined ? {} : { waitMs: options.waitMs };
  const wait = { signal: options.signal, ...patience, ...(options.onWait ? { onWait: options.onWait } : {}) };
  return {
    startRun: (run, tables) =>
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          for (const problem of await ensureWarehouse(conn, tables, dataDir)) options.log.warn({ stage: "warehouse" }, problem);
          const healed = await healAbandonedRuns(conn, dataDir, options.log);
          const deferred = await recordDeferredRuns(conn, dataDir);
          if (deferred.length > 0) options.log.info({ deferred: deferred.length }, "recorded runs that ended while the warehouse was busy");
          await recordStartedRun(conn, run);
          // This run's own 'running' row goes to the lake with its outcome (a copy of a row about to change).
          await copyBookkeeping(conn, dataDir, [...healed, ...deferred], options.log);
          return { marks: await readMarks(conn, run.job) };
        },
        { ...wait, lingerMs: START_LINGER_MS },
      ),
    commit: (tx) =>
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          const counts = await loadPartitions(conn, tx);
          const noQuarantine = emptiedQuarantine(tx.run, tx.quarantine).map((dt) => ({ job: tx.run.job, dt }));
          await copyBookkeeping(conn, dataDir, keysOf(tx), options.log, { noQuarantine, ...(marksChanged(tx) ? { marksOf: tx.run.job } : {}) });
          return counts;
        },
        wait,
      ),
    readMarks: (job) => withWarehouse(dataDir, "read", (conn) => readMarks(conn, job), wait),
    fail: (tx) =>
      // Recording a failure must work even after the run's own signal was aborted (Ctrl-C).
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          if (tx.checks.length > 0) await loadPartitions(conn, tx);
          else await recordRun(conn, tx.run);
          await copyBookkeeping(conn, dataDir, keysOf(tx), options.log);
        },
        { ...patience, ...(options.onWait ? { onWait: options.onWait } : {}) },
      ),
    checkHistory: async (q) =>
      // No warehouse yet (a first run, a preview): no history, and nothing to create just to read.
      existsSync(warehousePath(dataDir)) ? withWarehouse(dataDir, "read", (conn) => readCheckHistory(conn, q), wait) : emptyHistory(q),
  };
}

/** Marks 'running' rows whose process no longer holds its partition lock as abandoned (a killed run); returns their partitions. */
async function healAbandonedRuns(conn: DuckDBConnection, dataDir: string, log: Logger): Promise<PartitionKey[]> {
  const live = await liveRunIds(dataDir);
  const healed = await markAbandoned(conn, (id) => live.has(id));
  if (healed.length > 0) log.warn({ healed: healed.length }, "marked runs of dead processes as abandoned");
  return healed;
}

/** True when the transaction moved the job's marks (sluice.state). */
function marksChanged(tx: LoadTransaction): boolean {
  return (tx.marks?.length ?? 0) > 0 || tx.fullRefresh === true;
}

/** The partitions whose bookkeeping a load transaction touches. */
function keysOf(tx: LoadTransaction): PartitionKey[] {
  const job = tx.run.job;
  const dts = new Set([tx.run.dt, ...(tx.quarantine.dts ?? []), ...tx.quarantine.rows.map((r) => r.dt ?? tx.run.dt), ...tx.checks.map((c) => c.dt)]);
  return [...dts].map((dt) => ({ job, dt }));
}

/**
 * Brings the lake's copy of these partitions' bookkeeping level with the warehouse (see
 * load/bookkeeping-copy.ts). The warehouse write it follows has committed: a failure here is a
 * warning, never the run's failure.
 */
async function copyBookkeeping(conn: DuckDBConnection, dataDir: string, keys: PartitionKey[], log: Logger, what: CopyOptions = {}): Promise<void> {
  if (keys.length === 0 && what.marksOf === undefined) return;
  try {
    await copyPartitionBookkeeping(conn, dataDir, keys, what);
  } catch (error) {
    log.warn({ stage: "warehouse", err: formatError(error) }, "could not copy the bookkeeping to the lake (lake/_sluice); the next run of these partitions copies it again");
  }
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

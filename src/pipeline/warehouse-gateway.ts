/**
 * Everything a run asks of the warehouse, behind one interface: the local DuckDB file by default,
 * or a single loader process elsewhere (scale-out) that serializes every write.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../core/log.ts";
import { isLockHeld } from "../load/locks.ts";
import { readMarks, type SourceMark } from "../load/source-state.ts";
import { recordDeferredRuns } from "./deferred-runs.ts";
import type { RunRecord, TableSpec } from "../load/types.ts";
import {
  ensureWarehouse,
  loadPartitions,
  markAbandonedRuns,
  query,
  recordRun,
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
  /** Distinct values of warehouse columns, for foreign-key checks (empty when the table is absent). */
  columnValues(refs: Array<{ table: string; column: string }>): Promise<Record<string, unknown[]>>;
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
    columnValues: (refs) =>
      withWarehouse(
        dataDir,
        "read",
        async (conn) => {
          const out: Record<string, unknown[]> = {};
          for (const ref of refs) {
            const exists = await query(conn, `select count(*) from information_schema.tables where table_schema = 'main' and table_name = '${ref.table.replaceAll("'", "''")}'`);
            out[`${ref.table}.${ref.column}`] =
              Number(exists.rows[0]?.[0] ?? 0) > 0 ? (await query(conn, `select distinct "${ref.column.replaceAll('"', '""')}" from main."${ref.table.replaceAll('"', '""')}"`)).rows.map((r) => r[0]) : [];
          }
          return out;
        },
        wait,
      ),
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

/**
 * Everything a run asks of the warehouse, behind one interface: the local DuckDB file by default,
 * or a single loader process elsewhere (scale-out) that serializes every write.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { copyPartitionBookkeeping, type PartitionKey } from "../load/bookkeeping-copy.ts";
import { isLockHeld } from "../load/locks.ts";
import { markAbandoned } from "../load/run-ledger.ts";
import type { RunRecord, TableSpec } from "../load/types.ts";
import {
  ensureWarehouse,
  loadPartitions,
  query,
  recordRun,
  withWarehouse,
  type DuckDBConnection,
  type LoadCounts,
  type LoadTransaction,
} from "../load/warehouse.ts";

export type { LoadCounts };

export interface WarehouseGateway {
  /** Creates the job's tables if needed, marks runs of dead processes abandoned, and records this run as running. */
  startRun(run: RunRecord, tables: TableSpec[]): Promise<void>;
  /** The partition's load transaction: MERGE per partition, quarantine, checks, the run row. */
  commit(tx: LoadTransaction): Promise<LoadCounts>;
  /** Records a run that failed or was cancelled (and the checks that explain a block). */
  fail(tx: LoadTransaction): Promise<void>;
  /** Distinct values of warehouse columns, for foreign-key checks (empty when the table is absent). */
  columnValues(refs: Array<{ table: string; column: string }>): Promise<Record<string, unknown[]>>;
}

/** The warehouse file in the data directory, opened for each call and closed right after. */
export function localWarehouse(dataDir: string, options: { signal: AbortSignal; log: Logger; onWait?: (m: string) => void }): WarehouseGateway {
  const wait = options.onWait ? { signal: options.signal, onWait: options.onWait } : { signal: options.signal };
  return {
    startRun: (run, tables) =>
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          for (const problem of await ensureWarehouse(conn, tables, dataDir)) options.log.warn({ stage: "warehouse" }, problem);
          const healed = await healAbandonedRuns(conn, dataDir, options.log);
          await recordRun(conn, run);
          await copyBookkeeping(conn, dataDir, [{ job: run.job, dt: run.dt }, ...healed], options.log);
        },
        wait,
      ),
    commit: (tx) =>
      withWarehouse(
        dataDir,
        "write",
        async (conn) => {
          const counts = await loadPartitions(conn, tx);
          await copyBookkeeping(conn, dataDir, keysOf(tx), options.log);
          return counts;
        },
        wait,
      ),
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
        options.onWait ? { onWait: options.onWait } : {},
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

/** Marks 'running' rows whose process no longer holds its partition lock as abandoned (a killed run); returns their partitions. */
async function healAbandonedRuns(conn: DuckDBConnection, dataDir: string, log: Logger): Promise<PartitionKey[]> {
  const live = await liveRunIds(dataDir);
  const healed = await markAbandoned(conn, (id) => live.has(id));
  if (healed.length > 0) log.warn({ healed: healed.length }, "marked runs of dead processes as abandoned");
  return healed;
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
async function copyBookkeeping(conn: DuckDBConnection, dataDir: string, keys: PartitionKey[], log: Logger): Promise<void> {
  try {
    await copyPartitionBookkeeping(conn, dataDir, keys);
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

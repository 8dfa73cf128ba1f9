/** Runs one partition of a job: its lock, its bookkeeping, the job's notebook, and the load transaction. */
import { randomUUID } from "node:crypto";
import { CancelledError, LockError, SluiceError, ValidationBlockedError, WarehouseBusyError, formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { removeLanding, type Redactor, type RequestLimiter } from "../extract/index.ts";
import { acquireLock, type Lock } from "../load/locks.ts";
import type { RunRecord } from "../load/types.ts";
import { deferRunRecord } from "./deferred-runs.ts";
import { Context } from "./job-context.ts";
import type { JobDefinition } from "./job.ts";
import type { PartitionOutcome, PartitionStatus } from "./outcome.ts";
import { RunState } from "./run-state.ts";
import { localWarehouse, type RunStart, type WarehouseGateway } from "./warehouse-gateway.ts";

/** What a run needs from the outside world. */
export interface RunSettings {
  dataDir: string;
  signal: AbortSignal;
  log: Logger;
  /** The environment as validated at the edge: sources read their URL overrides and secrets from it. */
  env: Record<string, string | undefined>;
  /** Starts (once) and returns the built-in demo API's URL, for sources that use it; absent: they fail. */
  demoApi?: () => Promise<string>;
  refetch: boolean;
  keepRaw: boolean;
  /** Print cells and load nothing. */
  preview: boolean;
  /** Incremental sources start over from their initial mark, and unpartitioned tables are replaced. */
  fullRefresh?: boolean;
  /** Load even when a partition shrinks by more than its table's maxShrink (`--allow-shrink`). */
  allowShrink?: boolean;
  /** Rows a chunked stage holds in one group (its memory budget; a day of over twice as many is kept on disk); default 350,000, and days of up to 1M rows pass whole. */
  groupRows?: number;
  /** Called when the run waits for the warehouse or a lock. */
  onWait?: (message: string) => void;
  /** Called once the lake holds the partitions of a day held in memory, before the warehouse commits them (the report's charts start then); not for a day kept on disk. */
  onLakeWritten?: (dt: string) => void;
  /** Where warehouse reads and writes go; default: the DuckDB file in dataDir. */
  warehouse?: WarehouseGateway;
  /** Collects every secret the sources use (the process logger scrubs them). */
  redactor?: Redactor;
  /** A rate limiter shared beyond this process (queue workers); default: per process. */
  limiterFor?: (key: string, limit: { rps: number; burst: number }) => RequestLimiter;
}

/** Runs one partition of `job` for day `dt`; never throws for pipeline failures (see outcome.status). */
export async function runPartition(job: JobDefinition, dt: string, settings: RunSettings): Promise<PartitionOutcome> {
  const runId = `${job.name}-${dt}-${randomUUID().slice(0, 8)}`;
  const log = settings.log.child({ run_id: runId, job: job.name, dt });
  const state = new RunState(job.name, dt, runId, Date.now());
  const warehouse = settings.warehouse ?? localWarehouse(settings.dataDir, { signal: settings.signal, log, ...(settings.onWait ? { onWait: settings.onWait } : {}) });
  let partitionLock: Lock | undefined;
  let ctx: Context | undefined;
  let runRecorded = false;
  let started: RunStart | undefined;
  try {
    partitionLock = await lockPartition(settings.dataDir, job.name, dt, runId);
    if (!settings.preview) {
      started = await warehouse.startRun(state.runRecord("running", null), job.tables);
      runRecorded = true;
    }
    log.info({ stage: "run" }, "run started");
    ctx = new Context(job, dt, runId, settings, log, state, warehouse, started?.marks);
    await job.run(ctx);
    if (!settings.preview && !ctx.materialized) {
      throw new SluiceError(`job ${job.name} finished without calling ctx.materialize()`, { context: { job: job.name, partition: dt } });
    }
    if (!settings.preview && !settings.keepRaw) await removeLanding(settings.dataDir, job.name, dt);
    const outcome = state.outcome("succeeded", null);
    log.info({ stage: "run", rows_in: outcome.rowsIn, rows_loaded: outcome.rowsLoaded, rows_quarantined: outcome.rowsQuarantined, ms: outcome.durationMs }, "run succeeded");
    return outcome;
  } catch (error) {
    return await failedOutcome(error, { job, dt, settings, log, state, warehouse, runRecorded });
  } finally {
    await ctx?.release();
    await partitionLock?.release();
  }
}

/** The partition's own lock: a second run of the same partition fails at once, naming the first. */
async function lockPartition(dataDir: string, job: string, dt: string, runId: string): Promise<Lock> {
  try {
    return await acquireLock(dataDir, `run-${job}-${dt}`, { wait: false, owner: { runId } });
  } catch (error) {
    if (error instanceof LockError) {
      error.message = `another run of ${job} for ${dt} is in progress: ${error.message}`;
      error.withContext({ job, partition: dt });
    }
    throw error;
  }
}

interface FailureScope {
  job: JobDefinition;
  dt: string;
  settings: RunSettings;
  log: Logger;
  state: RunState;
  warehouse: WarehouseGateway;
  runRecorded: boolean;
}

/** The outcome of a run that threw: failed or cancelled, recorded in sluice.runs (with the checks that explain a block). */
async function failedOutcome(error: unknown, s: FailureScope): Promise<PartitionOutcome> {
  const { state, log } = s;
  if (state.committed) {
    // The load transaction committed: the partition is loaded whatever failed after it (cleanup).
    log.warn({ stage: "run", err: formatError(error) }, "the partition was loaded, but a step after the load failed");
    return state.outcome("succeeded", null);
  }
  const cancelled = s.settings.signal.aborted || error instanceof CancelledError;
  const status: PartitionStatus = cancelled ? "cancelled" : "failed";
  if (error instanceof SluiceError) error.withContext({ job: s.job.name, partition: s.dt });
  const message = cancelled ? "cancelled before it finished; nothing of it was loaded" : formatError(error);
  log.error({ stage: "run", err: message }, `run ${status}`);
  await recordFailure(error, s, state.runRecord(status, message));
  return { ...state.outcome(status, message), cause: error };
}

/**
 * Writes the failed run to sluice.runs. When the warehouse is what failed (held by a long query or
 * a DuckDB session), the row is kept in the data directory and written by the next run instead of
 * waiting once more. Never lets recording the failure hide the real error.
 */
async function recordFailure(error: unknown, s: FailureScope, run: RunRecord): Promise<void> {
  if (s.settings.preview) return;
  const defer = (): Promise<void> =>
    deferRunRecord(s.settings.dataDir, run).then(
      () => s.log.warn({ stage: "run" }, "the warehouse was busy: this run's outcome is kept in runs-pending/ and goes to sluice.runs with the next run"),
      (e: unknown) => s.log.error({ err: formatError(e) }, "could not keep the failed run for sluice.runs"),
    );
  if (error instanceof WarehouseBusyError) return defer();
  if (!s.runRecorded) return;
  const checks = error instanceof ValidationBlockedError ? s.state.checks : [];
  await s.warehouse.fail({ run, loads: [], quarantine: { rows: [], dts: [] }, checks }).catch((e: unknown) => (e instanceof WarehouseBusyError ? defer() : s.log.error({ err: formatError(e) }, "could not record the failed run")));
}

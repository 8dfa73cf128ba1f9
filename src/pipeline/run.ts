/** Runs one partition of a job: lock, bookkeeping, the job's notebook, and the load transaction. */
import { randomUUID } from "node:crypto";
import pl from "nodejs-polars";
import { dayWindow, type PartitionWindow } from "../core/dates.ts";
import { CancelledError, LockError, SluiceError, ValidationBlockedError, formatError } from "../core/errors.ts";
import { failpoint } from "../core/failpoints.ts";
import { reclaimMemory } from "../core/memory.ts";
import type { Logger } from "../core/log.ts";
import { extractPartition, readLandedRecords, removeLanding } from "../extract/index.ts";
import type { SourceSpec } from "../extract/types.ts";
import { listLakePartitions, readLakePartitions, writeLakePartition } from "../load/lake.ts";
import { acquireLock, type Lock } from "../load/locks.ts";
import type { PartitionLoad, QuarantineRow, RunRecord } from "../load/types.ts";
import { localWarehouse, type WarehouseGateway } from "./warehouse-gateway.ts";
import { describeBlocked, validate, type Suite } from "../validate/index.ts";
import type { CheckResult } from "../validate/types.ts";
import type { JobContext, JobDefinition, TableOutput, ValidateOptions } from "./job.ts";

/** How a partition run ended. */
export type PartitionStatus = "succeeded" | "failed" | "cancelled" | "skipped";

/** A step of the run, as shown in the summary, the report and --preview. */
export interface StepRecord {
  name: string;
  kind: "extract" | "transform" | "validate" | "load";
  ms: number;
  rows: number;
  /** Column name -> dtype of the step's output. */
  schema: Array<[string, string]>;
  /** The first rows of the step's output, JSON-friendly. */
  head: Array<Record<string, unknown>>;
  /** Step-specific facts (pages, retries, drift, check results...). */
  details: Record<string, unknown>;
}

/** The outcome of one partition run. */
export interface PartitionOutcome {
  job: string;
  dt: string;
  runId: string;
  status: PartitionStatus;
  rowsIn: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  failedChecks: number;
  checks: Array<CheckResult & { dt: string }>;
  steps: StepRecord[];
  durationMs: number;
  error: string | null;
  /** The error object, for exit codes and retry decisions; absent on success. */
  cause?: unknown;
}

/** What a run needs from the outside world. */
export interface RunSettings {
  dataDir: string;
  apiUrl: string;
  signal: AbortSignal;
  log: Logger;
  env: Record<string, string | undefined>;
  refetch: boolean;
  keepRaw: boolean;
  /** Print cells and load nothing. */
  preview: boolean;
  /** Called when the run waits for the warehouse or a lock. */
  onWait?: (message: string) => void;
  /** Where warehouse reads and writes go; default: the DuckDB file in dataDir. */
  warehouse?: WarehouseGateway;
}

const HEAD_ROWS = 5;

/** Runs one partition of `job` for day `dt`; never throws for pipeline failures (see outcome.status). */
export async function runPartition(job: JobDefinition, dt: string, settings: RunSettings): Promise<PartitionOutcome> {
  const started = Date.now();
  const runId = `${job.name}-${dt}-${randomUUID().slice(0, 8)}`;
  const log = settings.log.child({ run_id: runId, job: job.name, dt });
  const state = new RunState(job, dt, runId, started);
  let partitionLock: Lock | undefined;
  let runRecorded = false;
  const warehouse = settings.warehouse ?? localWarehouse(settings.dataDir, { signal: settings.signal, log, ...(settings.onWait ? { onWait: settings.onWait } : {}) });
  try {
    partitionLock = await acquireLock(settings.dataDir, `run-${job.name}-${dt}`, { wait: false, owner: { runId } }).catch((error: unknown) => {
      if (error instanceof LockError) {
        throw new LockError(`another run of ${job.name} for ${dt} is in progress: ${error.message}`, {
          context: { job: job.name, partition: dt },
          hint: `wait for it to finish, or check it with: sluice status ${job.name}`,
        });
      }
      throw error;
    });
    if (!settings.preview) {
      await warehouse.startRun(state.runRecord("running", null), job.tables);
      runRecorded = true;
    }
    log.info({ stage: "run" }, `run started`);
    const ctx = new Context(job, dt, runId, settings, log, state, warehouse);
    await job.run(ctx);
    if (!settings.preview && !ctx.materialized) {
      throw new SluiceError(`job ${job.name} finished without calling ctx.materialize()`, { context: { job: job.name, partition: dt } });
    }
    if (!settings.preview && !settings.keepRaw) await removeLanding(settings.dataDir, job.name, dt);
    const outcome = state.outcome("succeeded", null);
    log.info({ stage: "run", rows_in: outcome.rowsIn, rows_loaded: outcome.rowsLoaded, rows_quarantined: outcome.rowsQuarantined, ms: outcome.durationMs }, "run succeeded");
    return outcome;
  } catch (error) {
    if (state.committed) {
      // The load transaction committed: the partition is loaded whatever failed after it (cleanup).
      log.warn({ stage: "run", err: formatError(error) }, "the partition was loaded, but a step after the load failed");
      return state.outcome("succeeded", null);
    }
    const cancelled = settings.signal.aborted || error instanceof CancelledError;
    const status: PartitionStatus = cancelled ? "cancelled" : "failed";
    const message = cancelled ? "cancelled before it finished; nothing of it was loaded" : formatError(error);
    if (error instanceof SluiceError) error.withContext({ job: job.name, partition: dt });
    log.error({ stage: "run", err: message }, `run ${status}`);
    if (runRecorded) {
      // Record the failure (and the checks that explain a block); never let this hide the real error.
      const run = state.runRecord(cancelled ? "cancelled" : "failed", message);
      const checks = error instanceof ValidationBlockedError ? state.checks : [];
      await warehouse
        .fail({ run, loads: [], quarantine: { rows: [], dts: [] }, checks })
        .catch((e: unknown) => log.error({ err: formatError(e) }, "could not record the failed run"));
    }
    return { ...state.outcome(status, message), cause: error };
  } finally {
    await partitionLock?.release();
  }
}


/** Everything a run accumulates for bookkeeping, the summary and the report. */
class RunState {
  rowsIn = 0;
  /** True once the load transaction committed: from then on the run has succeeded. */
  committed = false;
  rowsLoaded = 0;
  readonly quarantine: QuarantineRow[] = [];
  readonly checks: Array<CheckResult & { dt: string }> = [];
  readonly steps: StepRecord[] = [];

  constructor(
    readonly job: JobDefinition,
    readonly dt: string,
    readonly runId: string,
    readonly started: number,
  ) {}

  runRecord(status: RunRecord["status"], error: string | null): RunRecord {
    return {
      runId: this.runId,
      job: this.job.name,
      dt: this.dt,
      status,
      startedAt: new Date(this.started),
      finishedAt: status === "running" ? null : new Date(),
      rowsIn: this.rowsIn,
      rowsLoaded: this.rowsLoaded,
      rowsQuarantined: this.quarantine.length,
      error,
    };
  }

  outcome(status: PartitionStatus, error: string | null): PartitionOutcome {
    return {
      job: this.job.name,
      dt: this.dt,
      runId: this.runId,
      status,
      rowsIn: this.rowsIn,
      rowsLoaded: this.rowsLoaded,
      rowsQuarantined: this.quarantine.length,
      failedChecks: this.checks.filter((c) => !c.passed).length,
      checks: this.checks,
      steps: this.steps,
      durationMs: Date.now() - this.started,
      error,
    };
  }

  record(step: Omit<StepRecord, "schema" | "head" | "rows">, frame: pl.DataFrame | null): StepRecord {
    const full: StepRecord = {
      ...step,
      rows: frame?.height ?? 0,
      schema: frame ? Object.entries(frame.schema).map(([name, dtype]) => [name, String(dtype)]) : [],
      head: frame ? jsonRows(frame.head(HEAD_ROWS)) : [],
    };
    this.steps.push(full);
    return full;
  }
}

/** The JobContext handed to a job's run(). */
class Context implements JobContext {
  readonly window: PartitionWindow;
  materialized = false;
  /** Where each extract landed its pages (not its frame: frames here would stay alive all run). */
  private readonly extracts: Array<{ source: SourceSpec; landingDir: string }> = [];
  private jobLock: Lock | undefined;

  constructor(
    private readonly def: JobDefinition,
    readonly dt: string,
    readonly runId: string,
    private readonly settings: RunSettings,
    readonly log: Logger,
    private readonly state: RunState,
    private readonly warehouse: WarehouseGateway,
  ) {
    this.window = dayWindow(dt);
  }

  get job(): string {
    return this.def.name;
  }
  get dataDir(): string {
    return this.settings.dataDir;
  }
  get signal(): AbortSignal {
    return this.settings.signal;
  }

  async extract(source: SourceSpec): Promise<pl.DataFrame> {
    const t0 = performance.now();
    this.log.info({ stage: "extract", source: source.name }, "extract started");
    const result = await extractPartition(source, {
      baseUrl: this.settings.apiUrl,
      window: this.window,
      dataDir: this.dataDir,
      job: this.job,
      signal: this.signal,
      log: this.log.child({ stage: "extract" }),
      env: this.settings.env,
      refetch: this.settings.refetch,
      onPage: (info) => failpoint(`extract.page-${info.page}`),
    });
    this.extracts.push({ source, landingDir: result.landingDir });
    this.state.rowsIn += result.records;
    // Schema drift is reported, not fatal: a warn-level row in sluice.checks (and so in the summary,
    // the report and pipeline_check_failures_total), once per run.
    this.state.checks.push({
      check: "schema drift: no unknown fields",
      table: source.name,
      columns: result.drift,
      severity: "warn",
      action: "quarantine",
      passed: result.drift.length === 0,
      failingRows: 0,
      sample: result.drift.slice(0, 20).map((field) => ({ key: {}, value: field })),
      dt: this.dt,
    });
    if (result.drift.length > 0) {
      this.log.warn({ stage: "extract", drift: result.drift }, `schema drift: unknown fields ${result.drift.join(", ")}`);
    }
    const step = this.state.record(
      {
        name: `extract ${source.name}`,
        kind: "extract",
        ms: performance.now() - t0,
        details: { pages: result.pages, requests: result.requests, retries: result.retries, resumed: result.resumed, drift: result.drift, statusCounts: result.statusCounts },
      },
      result.frame.drop("_page", "_row", "_error"),
    );
    this.log.info({ stage: "extract", rows: step.rows, pages: result.pages, retries: result.retries, ms: Math.round(step.ms) }, "extract finished");
    return result.frame;
  }

  async validate(table: string, frame: pl.DataFrame, suite: Suite, options: ValidateOptions = {}): Promise<pl.DataFrame> {
    reclaimMemory();
    const t0 = performance.now();
    const foreignKeys = await this.readForeignKeys(options);
    const outcome = validate(frame, suite, foreignKeys ? { window: this.window, foreignKeys } : { window: this.window });
    for (const r of outcome.results) this.state.checks.push({ ...r, dt: this.dt });
    if (outcome.blocked.length > 0) {
      this.state.record({ name: `validate ${table}`, kind: "validate", ms: performance.now() - t0, details: { results: outcome.results, blocked: true } }, outcome.valid);
      throw new ValidationBlockedError(`validation blocked ${table} ${this.dt}: ${describeBlocked(outcome.blocked)}`, {
        context: { job: this.job, partition: this.dt, table },
        hint: `nothing of ${this.dt} was loaded; query the results with: sluice query "select * from sluice.checks where dt = '${this.dt}' and not passed"`,
      });
    }
    this.state.quarantine.push(...(await this.quarantineRows(table, outcome.quarantined)));
    const failed = outcome.results.filter((r) => !r.passed);
    this.log.info({ stage: "validate", table, rows: outcome.valid.height, quarantined: outcome.quarantined.height, failed_checks: failed.map((r) => r.check), ms: Math.round(performance.now() - t0) }, "validate finished");
    this.state.record({ name: `validate ${table}`, kind: "validate", ms: performance.now() - t0, details: { results: outcome.results, quarantined: outcome.quarantined.height } }, outcome.valid);
    return outcome.valid;
  }

  async transform<T extends pl.DataFrame | Record<string, pl.DataFrame>>(name: string, fn: () => T | Promise<T>): Promise<T> {
    reclaimMemory();
    const t0 = performance.now();
    const out = await fn();
    failpoint("transform");
    const ms = performance.now() - t0;
    if (isDataFrame(out)) {
      this.state.record({ name, kind: "transform", ms, details: {} }, out);
    } else {
      for (const [key, frame] of Object.entries(out)) this.state.record({ name: `${name}: ${key}`, kind: "transform", ms, details: {} }, frame);
    }
    this.log.info({ stage: "transform", step: name, ms: Math.round(ms) }, "transform finished");
    return out;
  }

  readLake(table: string, dts: readonly string[]): Promise<pl.DataFrame | null> {
    return readLakePartitions(this.dataDir, table, dts);
  }

  lakePartitions(table: string): Promise<string[]> {
    return listLakePartitions(this.dataDir, table);
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.jobLock) return fn();
    this.jobLock = await acquireLock(this.dataDir, `job-${this.job}`, { wait: true, timeoutMs: 30 * 60_000, signal: this.signal, owner: { runId: this.runId } });
    try {
      return await fn();
    } finally {
      await this.jobLock.release();
      this.jobLock = undefined;
    }
  }

  async materialize(outputs: TableOutput[]): Promise<void> {
    if (this.materialized) throw new SluiceError("ctx.materialize() may be called once per run", { context: { job: this.job, partition: this.dt } });
    this.materialized = true;
    for (const out of outputs) {
      const own = out.partitions.get(this.dt);
      if (own && out.table.name === this.def.tables[0]?.name) this.state.rowsLoaded = own.height;
    }
    if (this.settings.preview) {
      this.log.info({ stage: "load" }, "preview: nothing loaded");
      return;
    }
    await this.exclusive(async () => {
      this.throwIfAborted();
      const t0 = performance.now();
      const loads: PartitionLoad[] = [];
      for (const out of outputs) {
        for (const [dt, frame] of [...out.partitions.entries()].sort(([a], [b]) => a.localeCompare(b))) {
          const columns = out.table.columns.map((c) => c.name);
          const parquetPath = await writeLakePartition(this.dataDir, out.table.name, dt, frame.select(...columns));
          loads.push({ table: out.table, dt, parquetPath });
          failpoint("lake.partial");
        }
      }
      failpoint("lake.written");
      // The frames are in the lake now: let them go before DuckDB takes its share of memory.
      for (const out of outputs) out.partitions.clear();
      reclaimMemory();
      const lakeMs = performance.now() - t0;
      this.throwIfAborted();
      const t1 = performance.now();
      const counts = await this.warehouse.commit({
        run: this.state.runRecord("succeeded", null),
        loads,
        quarantine: { rows: this.state.quarantine, dts: [this.dt] },
        checks: this.state.checks,
      });
      this.state.committed = true;
      failpoint("warehouse.committed");
      this.state.record(
        {
          name: "load",
          kind: "load",
          ms: performance.now() - t0,
          details: { lakeMs, warehouseMs: performance.now() - t1, partitions: loads.map((l) => `${l.table.name}/dt=${l.dt}`), ...counts },
        },
        null,
      );
      this.log.info({ stage: "load", partitions: loads.length, ...counts, ms: Math.round(performance.now() - t0) }, "load finished");
    });
  }

  private throwIfAborted(): void {
    if (this.signal.aborted) throw new CancelledError("cancelled", { context: { job: this.job, partition: this.dt } });
  }

  private async readForeignKeys(options: ValidateOptions): Promise<Record<string, pl.Series> | undefined> {
    if (!options.foreignKeys?.length || this.settings.preview) return undefined;
    const values = await this.warehouse.columnValues(options.foreignKeys);
    return Object.fromEntries(Object.entries(values).map(([key, list]) => [key, pl.Series(key.split(".").at(-1) ?? key, list)]));
  }

  /** Quarantined rows with their raw records: from the landed pages when the rows came from a source. */
  private async quarantineRows(table: string, quarantined: pl.DataFrame): Promise<QuarantineRow[]> {
    if (quarantined.height === 0) return [];
    const reasons = quarantined.getColumn("_reason").toArray() as string[];
    const extracted = this.extracts.at(-1);
    if (extracted && quarantined.columns.includes("_page") && quarantined.columns.includes("_row")) {
      const pages = quarantined.getColumn("_page").toArray() as number[];
      const rows = quarantined.getColumn("_row").toArray() as number[];
      const refs = pages.map((page, i) => ({ page, row: rows[i] ?? 0 }));
      const records = await readLandedRecords(extracted.landingDir, extracted.source.recordsPath, refs);
      return records.map((record, i) => ({ table, record, reason: reasons[i] ?? "" }));
    }
    const plain = jsonRows(quarantined.drop("_reason"));
    return plain.map((row, i) => ({ table, record: JSON.stringify(row), reason: reasons[i] ?? "" }));
  }
}

/** nodejs-polars' DataFrame is a factory, so `instanceof pl.DataFrame` is always false: duck-type it. */
function isDataFrame(value: unknown): value is pl.DataFrame {
  return typeof value === "object" && value !== null && typeof (value as pl.DataFrame).height === "number" && typeof (value as pl.DataFrame).toRecords === "function";
}

/** Rows of a frame as JSON-friendly objects (dates as ISO strings, bigints as numbers when safe). */
export function jsonRows(frame: pl.DataFrame): Array<Record<string, unknown>> {
  return frame.toRecords().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row) as Array<[string, unknown]>) {
      out[k] = v instanceof Date ? v.toISOString() : typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v;
    }
    return out;
  });
}

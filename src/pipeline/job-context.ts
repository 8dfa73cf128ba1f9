/** The JobContext handed to a job's run(): each method is one stage, recorded for the summary and report. */
import pl from "nodejs-polars";
import { addDays, dayWindow, type PartitionWindow } from "../core/dates.ts";
import { CancelledError, ConfigError, SluiceError, ValidationBlockedError } from "../core/errors.ts";
import { failpoint } from "../core/failpoints.ts";
import type { Logger } from "../core/log.ts";
import { reclaimMemory } from "../core/memory.ts";
import { DEMO_ENDPOINT, extractPartition, readLandedRecords, resolveEndpoint, type ChunkSink, type ExtractResult, type RecordsLocation } from "../extract/index.ts";
import type { SourceSpec } from "../extract/types.ts";
import { listLakePartitions, readLakePartitions, writeLakePartition } from "../load/lake.ts";
import { acquireLock, type Lock } from "../load/locks.ts";
import type { PartitionLoad, QuarantineRow, TableSpec } from "../load/types.ts";
import { describeBlocked, validate, type CheckReport, type Suite } from "../validate/index.ts";
import { ChunkedFrame, type LakeWindowFiles } from "./chunked-frame.ts";
import { ChunkedStages, DEFAULT_GROUP_ROWS, SourceStream, type StreamOptions } from "./chunked-stages.ts";
import { isDataFrame, jsonRows, splitByDt } from "./frames.ts";
import type { Extracted, JobContext, JobDefinition, TableOutput } from "./job.ts";
import type { RunSettings } from "./run-partition.ts";
import type { RunState } from "./run-state.ts";
import { recordStep, type StepOutput } from "./step-record.ts";
import { SpillStore } from "./spill-store.ts";
import type { WarehouseGateway } from "./warehouse-gateway.ts";

/** Where an extract's raw records are, kept beside the frame it returned (never inside it). */
interface Landed {
  landingDir: string;
  recordsAt: RecordsLocation;
}

export class Context implements JobContext {
  readonly window: PartitionWindow;
  materialized = false;
  private readonly landed = new WeakMap<Extracted, Landed>();
  private jobLock: Lock | undefined;
  private chunkedStages: ChunkedStages | undefined;
  private readonly spill: SpillStore;

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
    this.spill = SpillStore.forRun(settings.dataDir, def.name, dt, runId);
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

  extract(source: SourceSpec): Promise<Extracted> {
    return this.extractWith(source);
  }

  stream(source: SourceSpec, options: StreamOptions = {}): SourceStream {
    return new SourceStream(source, options);
  }

  /** Stage 1; with a sink, the decoded rows go to it in chunks instead of into the returned frame. */
  private async extractWith(source: SourceSpec, chunks?: ChunkSink): Promise<Extracted> {
    const t0 = performance.now();
    this.log.info({ stage: "extract", source: source.name }, "extract started");
    const result = await extractPartition(source, {
      baseUrl: await this.baseUrlOf(source),
      window: this.window,
      dataDir: this.dataDir,
      job: this.job,
      signal: this.signal,
      log: this.log.child({ stage: "extract" }),
      env: this.settings.env,
      refetch: this.settings.refetch,
      ...(this.settings.redactor ? { redactor: this.settings.redactor } : {}),
      ...(this.settings.limiterFor ? { limiterFor: this.settings.limiterFor } : {}),
      onPage: (info) => failpoint(`extract.page-${info.page}`),
      ...(chunks ? { chunks } : {}),
    });
    this.state.rowsIn += result.records;
    this.recordDrift(source, result);
    const step = this.state.record(
      {
        name: `extract ${source.name}`,
        kind: "extract",
        ms: performance.now() - t0,
        details: { pages: result.pages, requests: result.requests, retries: result.retries, resumed: result.resumed, drift: result.drift, statusCounts: result.statusCounts },
      },
      result.frame.drop("_page", "_row", "_error"),
    );
    if (chunks) step.rows = result.records;
    this.log.info({ stage: "extract", source: source.name, rows: step.rows, pages: result.pages, retries: result.retries, ms: Math.round(step.ms) }, "extract finished");
    const extracted: Extracted = { source: source.name, frame: result.frame };
    this.landed.set(extracted, { landingDir: result.landingDir, recordsAt: result.recordsAt });
    return extracted;
  }

  validate(input: Extracted | pl.DataFrame, suite: Suite): Promise<pl.DataFrame>;
  validate(input: SourceStream | ChunkedFrame, suite: Suite): Promise<ChunkedFrame>;
  async validate(input: Extracted | pl.DataFrame | SourceStream | ChunkedFrame, suite: Suite): Promise<pl.DataFrame | ChunkedFrame> {
    if (input instanceof SourceStream || input instanceof ChunkedFrame) return this.chunked().validate(input, suite);
    reclaimMemory();
    const t0 = performance.now();
    const frame = isDataFrame(input) ? input : input.frame;
    const foreignKeys = await this.readForeignKeys(suite);
    const outcome = validate(frame, suite, foreignKeys ? { window: this.window, foreignKeys } : { window: this.window });
    const landed = isDataFrame(input) ? undefined : this.landed.get(input);
    await this.settleValidation(suite.table, t0, outcome, outcome.quarantined, landed, { rows: outcome.valid.height, head: outcome.valid });
    return outcome.valid;
  }

  /** Records a table's validation: its checks, its quarantined rows (with raw records) and its step; throws when a check blocks. */
  private async settleValidation(table: string, t0: number, outcome: { results: CheckReport[]; blocked: CheckReport[] }, quarantined: pl.DataFrame, landed: Landed | undefined, valid: { rows: number; head: pl.DataFrame }): Promise<void> {
    for (const r of outcome.results) this.state.checks.push({ ...r, dt: this.dt });
    const record = (details: Record<string, unknown>) => {
      this.state.record({ name: `validate ${table}`, kind: "validate", ms: performance.now() - t0, details: { results: outcome.results, ...details } }, valid.head).rows = valid.rows;
    };
    if (outcome.blocked.length > 0) {
      record({ blocked: true });
      throw new ValidationBlockedError(`validation blocked ${table} ${this.dt}: ${describeBlocked(outcome.blocked)}`, {
        context: { job: this.job, partition: this.dt, table },
        blocked: outcome.blocked,
        hint: `nothing of ${this.dt} was loaded; query the results with: sluice query "select * from sluice.checks where dt = '${this.dt}' and not passed"`,
      });
    }
    this.state.quarantine.push(...(await quarantineRows(table, quarantined, landed)));
    const failed = outcome.results.filter((r) => !r.passed);
    this.log.info({ stage: "validate", table, rows: valid.rows, quarantined: quarantined.height, failed_checks: failed.map((r) => r.check), ms: Math.round(performance.now() - t0) }, "validate finished");
    record({ quarantined: quarantined.height });
  }

  async step<T extends StepOutput>(name: string, fn: () => T | Promise<T>): Promise<T> {
    reclaimMemory();
    const t0 = performance.now();
    const out = await fn();
    failpoint("transform");
    const ms = performance.now() - t0;
    await recordStep(this.state, { name, kind: "transform", ms, details: {} }, out);
    this.log.info({ stage: "transform", step: name, ms: Math.round(ms) }, "transform finished");
    return out;
  }

  readWindow(table: string): Promise<pl.DataFrame | null>;
  readWindow(table: string, options: { chunked: true }): Promise<LakeWindowFiles>;
  async readWindow(table: string, options?: { chunked: true }): Promise<pl.DataFrame | LakeWindowFiles | null> {
    const window = this.def.reads?.[table];
    if (!window) {
      throw new ConfigError(`job ${this.job} reads the lake window of ${table} but declares none`, { context: { job: this.job }, hint: `declare it: reads: { ${table}: { from: -1, to: 1 } }` });
    }
    // Neighbouring partitions are read and rewritten under the job's lock, so days never interleave.
    await this.holdJobLock();
    const days: string[] = [];
    for (let n = window.from; n <= window.to; n++) if (n !== 0) days.push(addDays(this.dt, n));
    return options?.chunked ? this.chunked().readWindow(table, days) : readLakePartitions(this.dataDir, table, days);
  }

  lakePartitions(table: string): Promise<string[]> {
    return listLakePartitions(this.dataDir, table);
  }

  async materialize(tableOrOutputs: TableSpec | TableOutput[], frame?: pl.DataFrame): Promise<void> {
    if (this.materialized) throw new SluiceError("ctx.materialize() may be called once per run", { context: { job: this.job, partition: this.dt } });
    this.materialized = true;
    const outputs: TableOutput[] = Array.isArray(tableOrOutputs) ? tableOrOutputs : [{ table: tableOrOutputs, frame: frame as pl.DataFrame }];
    if (outputs.some((o) => o.frame instanceof ChunkedFrame)) return this.materializeChunked(outputs);
    const partitions = outputs.map((o) => ({ table: o.table, parts: o.table.partitioned ? splitByDt(o.frame as pl.DataFrame, o.dts ?? [this.dt]) : new Map([[this.dt, o.frame as pl.DataFrame]]) }));
    const main = partitions.find((p) => p.table.name === this.def.tables[0]?.name)?.parts.get(this.dt);
    if (main) this.state.rowsLoaded = main.height;
    if (this.settings.preview) {
      this.log.info({ stage: "load" }, "preview: nothing loaded");
      return;
    }
    await this.holdJobLock();
    this.throwIfAborted();
    const t0 = performance.now();
    await this.commitLoads(t0, await this.writeLake(partitions));
  }

  /** materialize() of outputs some of which are chunked: split by day group by group, the lake written from the pieces. */
  private async materializeChunked(outputs: TableOutput[]): Promise<void> {
    if (!this.settings.preview) await this.holdJobLock();
    this.throwIfAborted();
    const t0 = performance.now();
    const { loads, rowsLoaded } = await this.chunked().writeLake(outputs.map((o) => ({ table: o.table, frame: o.frame, dts: o.dts ?? [this.dt] })), this.def.tables[0]?.name, this.settings.preview);
    this.state.rowsLoaded = rowsLoaded;
    if (this.settings.preview) {
      this.log.info({ stage: "load" }, "preview: nothing loaded");
      return;
    }
    failpoint("lake.written");
    await this.commitLoads(t0, loads);
  }

  /** The load's second half: one warehouse transaction for the written lake partitions, then the record of it. */
  private async commitLoads(t0: number, loads: PartitionLoad[]): Promise<void> {
    const lakeMs = performance.now() - t0;
    this.throwIfAborted();
    const t1 = performance.now();
    const counts = await this.warehouse.commit({ run: this.state.runRecord("succeeded", null), loads, quarantine: { rows: this.state.quarantine, dts: [this.dt] }, checks: this.state.checks });
    this.state.committed = true;
    failpoint("warehouse.committed");
    const details = { lakeMs, warehouseMs: performance.now() - t1, partitions: loads.map((l) => `${l.table.name}/dt=${l.dt}`), ...counts };
    this.state.record({ name: "load", kind: "load", ms: performance.now() - t0, details }, null);
    this.log.info({ stage: "load", partitions: loads.length, ...counts, ms: Math.round(performance.now() - t0) }, "load finished");
  }

  /** Releases the job's lock (the run calls it when it ends, whatever happened). */
  async release(): Promise<void> {
    await this.jobLock?.release();
    this.jobLock = undefined;
    await this.spill.remove();
  }

  /** Atomic Parquet partitions; the frames are let go once written, before DuckDB takes its share of memory. */
  private async writeLake(outputs: Array<{ table: TableSpec; parts: Map<string, pl.DataFrame> }>): Promise<PartitionLoad[]> {
    const loads: PartitionLoad[] = [];
    for (const out of outputs) {
      const columns = out.table.columns.map((c) => c.name);
      for (const [dt, frame] of [...out.parts.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const parquetPath = await writeLakePartition(this.dataDir, out.table.name, dt, frame.select(...columns));
        loads.push({ table: out.table, dt, parquetPath });
        failpoint("lake.partial");
      }
      out.parts.clear();
    }
    failpoint("lake.written");
    reclaimMemory();
    return loads;
  }

  /** The stages of chunked partitions (created on first use). */
  private chunked(): ChunkedStages {
    this.chunkedStages ??= new ChunkedStages({
      job: this.job,
      dt: this.dt,
      window: this.window,
      dataDir: this.dataDir,
      log: this.log,
      state: this.state,
      chunks: { store: this.spill, groupRows: this.settings.groupRows ?? DEFAULT_GROUP_ROWS, signal: this.signal },
      extract: async (source, sink) => this.landed.get(await this.extractWith(source, sink)),
      foreignKeys: (suite) => this.readForeignKeys(suite),
      settleValidation: (table, t0, outcome, quarantined, landed, valid) => this.settleValidation(table, t0, outcome, quarantined, landed as Landed | undefined, valid),
    });
    return this.chunkedStages;
  }

  private async holdJobLock(): Promise<void> {
    if (this.jobLock) return;
    this.jobLock = await acquireLock(this.dataDir, `job-${this.job}`, { wait: true, timeoutMs: 30 * 60_000, signal: this.signal, owner: { runId: this.runId } });
  }

  private async baseUrlOf(source: SourceSpec): Promise<string> {
    const endpoint = resolveEndpoint(source.baseUrl ?? DEMO_ENDPOINT, this.settings.env, `source "${source.name}"`);
    if (endpoint.kind === "url") return endpoint.url;
    if (!this.settings.demoApi) {
      throw new ConfigError(`source "${source.name}" uses the built-in demo API, which this process does not run`, { hint: "set SLUICE_API_URL (or --api-url) to the API's URL" });
    }
    return this.settings.demoApi();
  }

  /** Schema drift is reported, not fatal: a warn-level row in sluice.checks, once per extract. */
  private recordDrift(source: SourceSpec, result: ExtractResult): void {
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
    if (result.drift.length > 0) this.log.warn({ stage: "extract", source: source.name, drift: result.drift }, `schema drift: unknown fields ${result.drift.join(", ")}`);
  }

  private throwIfAborted(): void {
    if (this.signal.aborted) throw new CancelledError("cancelled", { context: { job: this.job, partition: this.dt } });
  }

  /** Reference values of the suite's foreign keys, read from the warehouse (none in a preview). */
  private async readForeignKeys(suite: Suite): Promise<Record<string, pl.Series> | undefined> {
    const refs = suite.checks.flatMap((c) => (c.kind === "foreign_key" ? [c.references] : []));
    if (refs.length === 0 || this.settings.preview) return undefined;
    const wanted = [...new Set(refs)].map((r) => {
      const [table, column] = r.split(".") as [string, string];
      return { table, column };
    });
    const values = await this.warehouse.columnValues(wanted);
    return Object.fromEntries(Object.entries(values).map(([key, list]) => [key, pl.Series(key.split(".").at(-1) ?? key, list)]));
  }
}

/** Quarantined rows with their raw records: from the landed pages when the rows came from a source. */
async function quarantineRows(table: string, quarantined: pl.DataFrame, landed: Landed | undefined): Promise<QuarantineRow[]> {
  if (quarantined.height === 0) return [];
  const reasons = quarantined.getColumn("_reason").toArray() as string[];
  if (landed && quarantined.columns.includes("_page") && quarantined.columns.includes("_row")) {
    const pages = quarantined.getColumn("_page").toArray() as number[];
    const rows = quarantined.getColumn("_row").toArray() as number[];
    const refs = pages.map((page, i) => ({ page, row: rows[i] ?? 0 }));
    const records = await readLandedRecords(landed.landingDir, landed.recordsAt, refs);
    return records.map((record, i) => ({ table, record, reason: reasons[i] ?? "" }));
  }
  const plain = jsonRows(quarantined.drop("_reason"));
  return plain.map((row, i) => ({ table, record: JSON.stringify(row), reason: reasons[i] ?? "" }));
}

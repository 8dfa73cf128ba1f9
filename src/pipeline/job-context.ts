/** The JobContext handed to a job's run(): each method is one stage, recorded for the summary and report. */
import pl from "nodejs-polars";
import { addDays, dayWindow, type PartitionWindow } from "../core/dates.ts";
import { CancelledError, ConfigError, PartitionShrinkError, SchemaError, SluiceError, ValidationBlockedError, type CorruptFileError } from "../core/errors.ts";
import { failpoint } from "../core/failpoints.ts";
import type { Logger } from "../core/log.ts";
import { schemaOf } from "../core/frame-schema.ts";
import { inPool } from "../core/in-pool.ts";
import { reclaimMemoryIfGrown } from "../core/memory.ts";
import { DEMO_ENDPOINT, readLandedRecords, resolveEndpoint, type ChunkSink } from "../extract/index.ts";
import type { SourceMark } from "../load/source-state.ts";
import type { SourceSpec } from "../extract/types.ts";
import { LakeRevision, listLakePartitions, readLakePartitions, writeLakePartition } from "../load/lake.ts";
import { acquireLock, type Lock } from "../load/locks.ts";
import type { PartitionLoad, QuarantineRow, TableSpec } from "../load/types.ts";
import { describeBlocked, validate, type CheckReport, type FieldPresence, type Suite, type ValidationContext } from "../validate/index.ts";
import { checkInputs } from "./check-inputs.ts";
import { ChunkedFrame, type LakeWindowFiles } from "./chunked-frame.ts";
import { ChunkedStages, DEFAULT_GROUP_ROWS, DEFAULT_WHOLE_ROWS, SourceStream, WHOLE_GROUP_BUDGETS, type StreamOptions } from "./chunked-stages.ts";
import { distinctKeysByHash, isDataFrame, jsonRows, keyFaults, splitByDt } from "./frames.ts";
import type { Extracted, JobContext, JobDefinition, TableOutput } from "./job.ts";
import type { RunSettings } from "./run-partition.ts";
import type { RunState } from "./run-state.ts";
import type { LandedListing } from "./child-listings.ts";
import { extractSource } from "./source-extraction.ts";
import { SpillStore } from "./spill-store.ts";
import { recordStep, type StepOutput } from "./step-record.ts";
import type { LoadCounts, WarehouseGateway } from "./warehouse-gateway.ts";

/** Lake partitions written at once: their sinks share Polars' threads, and a run that rewrites many days writes a few at a time. */
const LAKE_WRITES_AT_ONCE = 4;

export class Context implements JobContext {
  readonly window: PartitionWindow;
  materialized = false;
  /** Where an extract's raw records are, kept beside the frame it returned (never inside it). */
  private readonly landed = new WeakMap<Extracted, LandedListing[]>();
  /** Which fields an extract's records carried (absent vs null), for presence checks. */
  private readonly presence = new WeakMap<Extracted, FieldPresence>();
  private jobLock: Lock | undefined;
  private marks: Promise<SourceMark[]> | undefined;
  /** True once a source of this run pulled from a mark (its rows are a delta, not a snapshot). */
  private pulledIncrementally = false;
  /** Lake partitions found corrupt while reading a window, by table: read as missing, never rewritten by this run. */
  private readonly corrupt = new Map<string, Set<string>>();
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
    marks?: SourceMark[],
  ) {
    this.window = dayWindow(dt);
    if (marks) this.marks = Promise.resolve(marks);
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

  extract(source: SourceSpec, options: { parents?: Extracted | pl.DataFrame } = {}): Promise<Extracted> {
    return this.extractWith(source, options);
  }

  stream(source: SourceSpec, options: StreamOptions = {}): SourceStream {
    if (source.parent) throw new ConfigError(`source "${source.name}" is a child source: extract it with ctx.extract(${source.name}, { parents }), it cannot be streamed`, { context: { job: this.job } });
    return new SourceStream(source, options);
  }

  /** Stage 1; with a sink, the decoded rows go to it in chunks instead of into the returned frame. */
  private async extractWith(source: SourceSpec, options: { parents?: Extracted | pl.DataFrame }, chunks?: ChunkSink): Promise<Extracted> {
    const t0 = performance.now();
    this.log.info({ stage: "extract", source: source.name }, "extract started");
    if (source.incremental) this.pulledIncrementally = true;
    const parents = options.parents === undefined ? undefined : isDataFrame(options.parents) ? options.parents : options.parents.frame;
    if (source.parent && parents === undefined) {
      throw new ConfigError(`source "${source.name}" is a child source: extract it with its parents, ctx.extract(${source.name}, { parents })`, { context: { job: this.job } });
    }
    const scope = { job: this.job, window: this.window, settings: this.settings, log: this.log, baseUrl: await this.baseUrlOf(source), stored: () => this.storedMarks() };
    const result = await extractSource(source, scope, parents, chunks);
    this.state.rowsIn += result.facts.records;
    this.state.marks.push(...result.marks);
    this.recordDrift(source, result.facts.drift);
    const { pages, requests, retries, resumed, drift, statusCounts } = result.facts;
    const details = { pages, requests, retries, resumed, drift, statusCounts, ...(result.landed.length > 1 ? { listings: result.landed.length } : {}), ...result.incremental };
    const step = this.state.record({ name: `extract ${source.name}`, kind: "extract", ms: performance.now() - t0, details }, result.frame.drop("_page", "_row", "_error"));
    if (chunks) step.rows = result.facts.records;
    this.log.info({ stage: "extract", source: source.name, rows: step.rows, pages, retries, ms: Math.round(step.ms) }, "extract finished");
    const extracted: Extracted = { source: source.name, frame: result.frame };
    this.landed.set(extracted, result.landed);
    this.presence.set(extracted, { records: result.facts.records, present: result.presence });
    return extracted;
  }

  validate(input: Extracted | pl.DataFrame, suite: Suite): Promise<pl.DataFrame>;
  validate(input: SourceStream | ChunkedFrame, suite: Suite): Promise<ChunkedFrame>;
  async validate(input: Extracted | pl.DataFrame | SourceStream | ChunkedFrame, suite: Suite): Promise<pl.DataFrame | ChunkedFrame> {
    if (input instanceof SourceStream || input instanceof ChunkedFrame) return this.chunked().validate(input, suite);
    const frame = isDataFrame(input) ? input : input.frame;
    const landed = isDataFrame(input) ? undefined : this.landed.get(input);
    const presence = isDataFrame(input) ? undefined : this.presence.get(input);
    // the checks' history is read (DuckDB's threads) while this thread may collect the garbage
    const context = this.validationContext(suite, presence);
    context.catch(() => undefined); // awaited below
    reclaimMemoryIfGrown();
    const t0 = performance.now();
    const outcome = validate(frame, suite, await context);
    await this.settleValidation(suite.table, t0, outcome, outcome.quarantined, landed, { rows: outcome.valid.height, head: outcome.valid });
    return outcome.valid;
  }

  /** What a suite's checks need besides the rows: the window, the clock, history, references, presence counts. */
  private async validationContext(suite: Suite, presence: FieldPresence | undefined): Promise<ValidationContext> {
    const inputs = await checkInputs(suite, { job: this.job, dt: this.dt, dataDir: this.dataDir, warehouse: this.warehouse });
    return { window: this.window, now: new Date(), ...inputs, ...(presence ? { presence } : {}) };
  }

  /** Records a table's validation: its checks, its quarantined rows (with raw records) and its step; throws when a check blocks. */
  private async settleValidation(table: string, t0: number, outcome: { results: CheckReport[]; blocked: CheckReport[] }, quarantined: pl.DataFrame, landed: readonly LandedListing[] | undefined, valid: { rows: number; head: pl.DataFrame; chunks?: number }, raw?: readonly string[]): Promise<void> {
    for (const r of outcome.results) this.state.checks.push({ ...r, dt: this.dt });
    const record = (details: Record<string, unknown>) => {
      this.state.record({ name: `validate ${table}`, kind: "validate", ms: performance.now() - t0, details: { results: outcome.results, ...details } }, valid.head).rows = valid.rows;
    };
    if (outcome.blocked.length > 0) {
      record({ blocked: true });
      throw new ValidationBlockedError(`validation blocked ${table} ${this.dt}: ${describeBlocked(outcome.blocked)}`, {
        context: { job: this.job, partition: this.dt, table },
        blocked: outcome.blocked,
        hint: `nothing of ${this.dt} was loaded; see the failed checks with: sluice checks ${this.job} --failed --since ${this.dt}`,
      });
    }
    this.state.quarantine.push(...(await quarantineRows(table, quarantined, landed, raw)));
    const failed = outcome.results.filter((r) => !r.passed);
    this.log.info({ stage: "validate", table, rows: valid.rows, quarantined: quarantined.height, failed_checks: failed.map((r) => r.check), ms: Math.round(performance.now() - t0) }, "validate finished");
    record({ quarantined: quarantined.height, ...(valid.chunks === undefined ? {} : { chunks: valid.chunks }) });
  }

  async step<T extends StepOutput>(name: string, fn: () => T | Promise<T>): Promise<T> {
    reclaimMemoryIfGrown();
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
    const corrupt: Array<{ dt: string; error: CorruptFileError }> = [];
    const onCorrupt = (error: CorruptFileError, dt: string) => corrupt.push({ dt, error });
    const rows = options?.chunked ? await this.chunked().readWindow(table, days, onCorrupt) : await readLakePartitions(this.dataDir, table, days, onCorrupt);
    if (corrupt.length > 0) this.reportCorrupt(table, corrupt);
    return rows;
  }

  async lakePartitions(table: string): Promise<string[]> {
    // A corrupt neighbour is left for its own rerun to rewrite: rewriting it from a window that
    // lacks its rows would replace its data with nothing.
    const corrupt = this.corrupt.get(table);
    return (await listLakePartitions(this.dataDir, table)).filter((dt) => !corrupt?.has(dt));
  }

  async materialize(tableOrOutputs: TableSpec | TableOutput[], frame?: pl.DataFrame): Promise<void> {
    if (this.materialized) throw new SluiceError("ctx.materialize() may be called once per run", { context: { job: this.job, partition: this.dt } });
    this.materialized = true;
    const given: TableOutput[] = Array.isArray(tableOrOutputs) ? tableOrOutputs : [{ table: tableOrOutputs, frame: frame as pl.DataFrame }];
    // Chunked frames that stayed in memory load as one frame, exactly as frames do; spilled ones from their pieces.
    if (given.some((o) => o.frame instanceof ChunkedFrame && !o.frame.inMemory)) return this.materializeChunked(given);
    const outputs = await Promise.all(given.map(async (o) => ({ ...o, frame: o.frame instanceof ChunkedFrame ? await o.frame.collect() : o.frame })));
    const partitions = outputs.map((o) => ({ table: o.table, parts: o.table.partitioned ? splitByDt(o.frame, o.dts ?? [this.dt]) : new Map([[this.dt, o.frame]]) }));
    const main = partitions.find((p) => p.table.name === this.def.tables[0]?.name)?.parts.get(this.dt);
    if (main) this.state.rowsLoaded = main.height;
    if (this.settings.preview) {
      this.log.info({ stage: "load" }, "preview: nothing loaded");
      return;
    }
    await this.holdJobLock();
    this.throwIfAborted();
    const t0 = performance.now();
    const revision = new LakeRevision();
    const loads = await this.writeLake(partitions, revision).catch(async (error: unknown) => {
      await revision.restore();
      throw error;
    });
    // only for a day held in memory: one kept on disk leaves the commit's memory to DuckDB
    this.settings.onLakeWritten?.(this.dt);
    await this.commitLoads(t0, loads, revision);
  }

  /** materialize() of outputs some of which are spilled: split by day group by group, the lake written from the pieces. */
  private async materializeChunked(outputs: TableOutput[]): Promise<void> {
    if (outputs.some((o) => !o.table.partitioned && o.table.versionColumn !== undefined && this.pulledIncrementally)) {
      throw new ConfigError(`job ${this.job}: an upserted table fed by an incremental source cannot be materialized from a spilled frame`, { context: { job: this.job, partition: this.dt }, hint: "materialize it as one frame (await frame.collect())" });
    }
    if (!this.settings.preview) await this.holdJobLock();
    this.throwIfAborted();
    const t0 = performance.now();
    const revision = new LakeRevision();
    const outs = outputs.map((o) => ({ table: o.table, frame: o.frame, dts: o.dts ?? [this.dt] }));
    const { loads, rowsLoaded } = await this.chunked().writeLake(outs, this.def.tables[0]?.name, this.settings.preview, revision).catch(async (error: unknown) => {
      await revision.restore();
      throw error;
    });
    this.state.rowsLoaded = rowsLoaded;
    if (this.settings.preview) {
      this.log.info({ stage: "load" }, "preview: nothing loaded");
      return;
    }
    failpoint("lake.written");
    // the lake has every row now: the spilled ones go while DuckDB loads
    this.spill.release();
    await this.commitLoads(t0, loads, revision);
  }

  /** The load's second half: one warehouse transaction for the written lake partitions, then the record of it. */
  private async commitLoads(t0: number, loads: PartitionLoad[], revision: LakeRevision): Promise<void> {
    const lakeMs = performance.now() - t0;
    const t1 = performance.now();
    const counts = await this.commit(loads, revision);
    failpoint("warehouse.committed");
    const details = { lakeMs, warehouseMs: performance.now() - t1, partitions: loads.map((l) => `${l.table.name}/dt=${l.dt}`), ...counts };
    this.state.record({ name: "load", kind: "load", ms: performance.now() - t0, details }, null);
    this.log.info({ stage: "load", partitions: loads.length, ...counts, lake_ms: Math.round(lakeMs), warehouse_ms: Math.round(details.warehouseMs), ms: Math.round(performance.now() - t0) }, "load finished");
  }

  /**
   * The load transaction. When the warehouse refuses the data (a shrink past the table's limit, a
   * schema it cannot take), nothing was committed for sure: the lake files this run replaced are put
   * back, so the lake keeps what the warehouse has. Other failures may be ambiguous (a loader that
   * stopped answering may have committed): the new files stay, and a rerun heals both.
   */
  private async commit(loads: PartitionLoad[], revision: LakeRevision): Promise<LoadCounts> {
    try {
      this.throwIfAborted();
      const counts = await this.warehouse.commit({
        run: this.state.runRecord("succeeded", null),
        loads,
        quarantine: { rows: this.state.quarantine, dts: [this.dt] },
        checks: this.state.checks,
        marks: this.state.marks,
        ...(this.settings.fullRefresh ? { fullRefresh: true } : {}),
        ...(this.settings.allowShrink ? { allowShrink: true } : {}),
      });
      this.state.committed = true;
      for (const warning of counts.warnings ?? []) this.log.warn({ stage: "load" }, warning);
      await revision.discard();
      return counts;
    } catch (error) {
      if (error instanceof PartitionShrinkError || error instanceof SchemaError) await revision.restore();
      else await revision.discard();
      throw error;
    }
  }

  /** A corrupt neighbour: a warning naming the file, and a failed warn-level check row in sluice.checks. */
  private reportCorrupt(table: string, corrupt: ReadonlyArray<{ dt: string; error: CorruptFileError }>): void {
    const dts = new Set(this.corrupt.get(table));
    for (const { dt, error } of corrupt) {
      dts.add(dt);
      const hint = `rerun that day to rewrite it: sluice run ${this.job} --date ${dt}`;
      this.log.warn({ stage: "transform", table, partition: dt, file: error.file }, `${error.message}; read as missing, so ${this.dt}'s neighbours lack its rows (${hint})`);
    }
    this.corrupt.set(table, dts);
    this.state.checks.push({
      check: `lake: neighbouring ${table} partitions readable`,
      table,
      columns: [],
      severity: "warn",
      action: "quarantine",
      passed: false,
      failingRows: 0,
      sample: corrupt.map(({ dt, error }) => ({ key: { dt }, value: error.file })),
      dt: this.dt,
    });
  }

  /** Releases the job's lock (the run calls it when it ends, whatever happened). */
  async release(): Promise<void> {
    await this.jobLock?.release();
    this.jobLock = undefined;
    await this.spill.remove();
  }

  /** Atomic Parquet partitions; the frames are let go once written, before DuckDB takes its share of memory. */
  private async writeLake(outputs: Array<{ table: TableSpec; parts: Map<string, pl.DataFrame> }>, revision: LakeRevision): Promise<PartitionLoad[]> {
    const partitions = outputs.flatMap((out) => [...out.parts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([dt, frame]) => ({ table: out.table, dt, frame })));
    for (const out of outputs) out.parts.clear();
    // partitions write side by side on Polars' threads (a table's lake file takes ~0.2 s per 1M rows,
    // mostly on one core); every write settles before a failure is thrown, so that the caller's
    // restore of the revision cannot miss a file renamed into place after it
    const settled = await inPool(partitions, LAKE_WRITES_AT_ONCE, this.signal, ({ table, dt, frame }) =>
      this.lakePartition(table, dt, frame, revision).then(
        (load) => ({ load }),
        (error: unknown) => ({ error }),
      ),
    );
    this.throwIfAborted();
    const failed = settled.find((r) => "error" in r);
    if (failed) throw failed.error;
    const loads = settled.flatMap((r) => ("load" in r ? [r.load] : []));
    failpoint("lake.written");
    reclaimMemoryIfGrown();
    return loads;
  }

  /** One partition of writeLake: its Parquet file, and what the load needs to know of its rows. */
  private async lakePartition(table: TableSpec, dt: string, frame: pl.DataFrame, revision: LakeRevision): Promise<PartitionLoad> {
    const rows = await this.withEarlierPulls(table, dt, conform(frame, table.columns.map((c) => c.name)));
    // the key count runs on Polars' threads alongside the write (~0.1 s per 1M string keys)
    const [parquetPath, faults] = await Promise.all([writeLakePartition(this.dataDir, table.name, dt, rows, revision), keyFaults(rows, table.key) ?? distinctKeysByHash(rows, table.key)]);
    const nullColumns = Object.entries(schemaOf(rows)).flatMap(([name, dtype]) => (dtype.variant === "Null" ? [name] : []));
    failpoint("lake.partial");
    return { table, dt, parquetPath, rows: rows.height, nullColumns, ...(faults ? { keyFaults: faults } : {}) };
  }

  /**
   * An upserted table fed by an incremental source: its lake partition keeps everything the run
   * date's runs pulled (a rerun adds its delta to what is there, newest version per key), so the
   * lake stays a complete record to rebuild from. Other tables: the run's rows replace the partition.
   */
  private async withEarlierPulls(table: TableSpec, dt: string, rows: pl.DataFrame): Promise<pl.DataFrame> {
    const version = table.versionColumn;
    if (table.partitioned || version === undefined || !this.pulledIncrementally || this.settings.fullRefresh) return rows;
    const earlier = await readLakePartitions(this.dataDir, table.name, [dt]);
    if (!earlier || earlier.height === 0) return rows;
    return pl
      .concat([rows, earlier.select(...rows.columns)], { how: "verticalRelaxed" })
      .sort(version, true, true, true)
      .unique({ subset: table.key, keep: "first", maintainOrder: true });
  }

  /** The stages of chunked partitions (created on first use). */
  private chunked(): ChunkedStages {
    const groupRows = this.settings.groupRows ?? DEFAULT_GROUP_ROWS;
    const wholeRows = this.settings.groupRows ? WHOLE_GROUP_BUDGETS * groupRows : DEFAULT_WHOLE_ROWS;
    this.chunkedStages ??= new ChunkedStages({
      job: this.job,
      dt: this.dt,
      dataDir: this.dataDir,
      log: this.log,
      chunks: { store: this.spill, groupRows, wholeRows, signal: this.signal },
      extract: async (source, sink) => {
        const extracted = await this.extractWith(source, {}, sink);
        return { landed: this.landed.get(extracted), presence: this.presence.get(extracted) };
      },
      validationContext: (suite, presence) => this.validationContext(suite, presence),
      settleValidation: (table, t0, outcome, quarantined, landed, valid, raw) => this.settleValidation(table, t0, outcome, quarantined, landed, valid, raw),
    });
    return this.chunkedStages;
  }

  private async holdJobLock(): Promise<void> {
    if (this.jobLock) return;
    const onWait = (message: string): void => {
      this.log.info({ stage: "run" }, message);
      this.settings.onWait?.(message);
    };
    this.jobLock = await acquireLock(this.dataDir, `job-${this.job}`, { wait: true, timeoutMs: 30 * 60_000, signal: this.signal, owner: { runId: this.runId }, onWait, what: `the job lock of ${this.job}` });
  }

  /** The stored marks of the job's sources; read once per run, only when an incremental source asks. */
  private storedMarks(): Promise<SourceMark[]> {
    this.marks ??= this.warehouse.readMarks(this.job);
    return this.marks;
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
  private recordDrift(source: SourceSpec, drift: string[]): void {
    this.state.checks.push({
      check: "schema drift: no unknown fields",
      table: source.name,
      columns: drift,
      severity: "warn",
      action: "quarantine",
      passed: drift.length === 0,
      failingRows: 0,
      sample: drift.slice(0, 20).map((field) => ({ key: {}, value: field })),
      dt: this.dt,
    });
    if (drift.length > 0) this.log.warn({ stage: "extract", source: source.name, drift }, `schema drift: unknown fields ${drift.join(", ")}`);
  }

  private throwIfAborted(): void {
    if (this.signal.aborted) throw new CancelledError("cancelled", { context: { job: this.job, partition: this.dt } });
  }
}

/** Quarantined rows with their raw records: from the landed pages when the rows came from a source. */
async function quarantineRows(table: string, quarantined: pl.DataFrame, landed: readonly LandedListing[] | undefined, raw: readonly string[] | undefined): Promise<QuarantineRow[]> {
  if (quarantined.height === 0) return [];
  const reasons = quarantined.getColumn("_reason").toArray() as string[];
  // read while the stream went on, in the rows' order
  if (raw?.length === quarantined.height) return raw.map((record, i) => ({ table, record, reason: reasons[i] ?? "" }));
  if (landed && quarantined.columns.includes("_page") && quarantined.columns.includes("_row")) {
    const pages = quarantined.getColumn("_page").toArray() as number[];
    const rows = quarantined.getColumn("_row").toArray() as number[];
    const records = await rawRecords(landed, pages.map((page, i) => ({ page, row: rows[i] ?? 0 })));
    return records.map((record, i) => ({ table, record, reason: reasons[i] ?? "" }));
  }
  const plain = jsonRows(quarantined.drop("_reason"));
  return plain.map((row, i) => ({ table, record: JSON.stringify(row), reason: reasons[i] ?? "" }));
}

/** The raw records at (page, row) of the combined frame, read from the listing each page belongs to, in the order asked. */
async function rawRecords(landed: readonly LandedListing[], refs: ReadonlyArray<{ page: number; row: number }>): Promise<string[]> {
  const out = new Array<string>(refs.length);
  for (const listing of landed) {
    const mine = refs.flatMap((r, i) => (r.page > listing.pageOffset && r.page <= listing.pageOffset + listing.pages ? [{ i, page: r.page - listing.pageOffset, row: r.row }] : []));
    if (mine.length === 0) continue;
    const records = await readLandedRecords(listing.landingDir, listing.recordsAt, mine);
    mine.forEach((m, k) => (out[m.i] = records[k] as string));
  }
  return out;
}

/** The table's columns of a frame; a table that keeps unknown fields gets a null `_extra` from a frame without one. */
function conform(frame: pl.DataFrame, columns: readonly string[]): pl.DataFrame {
  const missing = columns.includes("_extra") && !frame.columns.includes("_extra");
  return (missing ? frame.withColumns(pl.lit(null).cast(pl.Utf8).alias("_extra")) : frame).select(...columns);
}

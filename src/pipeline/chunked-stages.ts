/**
 * The job context's stages for a partition kept in chunks (see ChunkedFrame): validating a
 * streamed extraction chunk by chunk as its pages land, validating a chunked frame group by group,
 * reading a lake window alongside one, and writing chunked outputs to the lake. The Context
 * delegates here when a stage gets a SourceStream or a ChunkedFrame; it keeps the bookkeeping
 * (state, landed pages, foreign keys) and hands what is needed through a ChunkedPort.
 */
import pl from "nodejs-polars";
import type { CorruptFileError } from "../core/errors.ts";
import { failpoint } from "../core/failpoints.ts";
import type { Logger } from "../core/log.ts";
import { MemoryPacer, reclaimMemory, releaseMemory } from "../core/memory.ts";
import type { ChunkSink, DecodedChunk } from "../extract/index.ts";
import type { SourceSpec } from "../extract/types.ts";
import { corruptPartition, lakePartitionPath, listLakePartitions, type LakeRevision } from "../load/lake.ts";
import { EXTRA_COLUMN, writeLakePartitionFromIpc, writeLakePartitionFromParts, type LakeParts } from "../load/lake-chunks.ts";
import type { PartitionLoad, TableSpec } from "../load/types.ts";
import { ChunkedValidation, SEQ_COLUMN } from "../validate/validate-chunks.ts";
import { PAGE_COLUMN, ROW_COLUMN, type CheckReport, type FieldPresence, type Suite, type ValidationContext } from "../validate/index.ts";
import { ChunkedFrame, ORDER_COLUMNS, OutputCollector, splitByIndex, wholeRowsOf, type ChunkContext, type LakeWindowFiles } from "./chunked-frame.ts";
import { dtIs, isDataFrame } from "./frames.ts";
import type { LandedListing } from "./child-listings.ts";
import { RepeatedKeys } from "./repeated-keys.ts";
import { StreamCollector } from "./stream-collector.ts";
import { exprOnce } from "../core/expr-memo.ts";

/**
 * Rows of one group when neither the settings nor SLUICE_GROUP_ROWS say otherwise (peak memory
 * follows it: a 10M-event day peaked at 963-977 MiB with groups of 500,000 rows, 881-947 MiB with
 * 350,000, in about the same time).
 */
export const DEFAULT_GROUP_ROWS = 350_000;
/** A partition of up to this many budgets of rows passes as one frame, when the budget is set (SLUICE_GROUP_ROWS, tests). */
export const WHOLE_GROUP_BUDGETS = 2;
/** Rows a partition may have and still pass as one frame under the default budget (measured at 1M events: ~2x faster than groups on disk, under 1 GiB). */
export const DEFAULT_WHOLE_ROWS = 1_000_000;
/** Rows of a streamed extraction's chunks after the first (which may hold a whole budget: a day that fits passes as one chunk). */
export const STREAM_CHUNK_ROWS = 262_144;
/** Key columns are narrow: a key group may hold this many budgets of rows (fewer groups, fewer validation passes). */
const KEY_GROUP_BUDGETS = 2;
/** Fewest rows of a chunk handed on early, while the network is the bottleneck. */
export const STREAM_MIN_CHUNK_ROWS = 131_072;

/** Options of ctx.stream. */
export interface StreamOptions {
  /**
   * A column whose equal values should meet in one group when the day is kept on disk (the column a
   * later step groups by, e.g. the key it deduplicates on): saves regrouping the day later.
   */
  groupBy?: string;
}

/** A source extracted lazily: ctx.stream(source) gives one; ctx.validate consumes it, validating each chunk as its pages land. */
export class SourceStream {
  consumed = false;

  constructor(
    readonly source: SourceSpec,
    readonly options: StreamOptions,
  ) {}
}

/** What a streamed extraction leaves for validation: where its pages landed (raw records of quarantined rows) and its presence counts. */
export interface StreamedExtract {
  landed: readonly LandedListing[] | undefined;
  presence: FieldPresence | undefined;
}

/** What the chunked stages use of the job context. */
export interface ChunkedPort {
  readonly job: string;
  readonly dt: string;
  readonly dataDir: string;
  readonly log: Logger;
  readonly chunks: ChunkContext;
  /** Extracts `source` with `sink` receiving its chunks. */
  extract(source: SourceSpec, sink: ChunkSink): Promise<StreamedExtract>;
  /** The suite's validation context (window, clock, history, references; presence when given). */
  validationContext(suite: Suite, presence: FieldPresence | undefined): Promise<ValidationContext>;
  /** Records the validation of a table (checks, quarantine with raw records, the step), throwing when a check blocks. */
  settleValidation(table: string, t0: number, outcome: { results: CheckReport[]; blocked: CheckReport[] }, quarantined: pl.DataFrame, landed: readonly LandedListing[] | undefined, valid: { rows: number; head: pl.DataFrame; chunks?: number }, raw?: readonly string[]): Promise<void>;
}

export class ChunkedStages {
  constructor(private readonly port: ChunkedPort) {}

  /** ctx.validate of a stream or a chunked frame. */
  validate(input: SourceStream | ChunkedFrame, suite: Suite): Promise<ChunkedFrame> {
    return input instanceof SourceStream ? this.validateStream(input, suite) : this.validateFrame(input, suite);
  }

  /**
   * Extracts the stream's source, validating every chunk as it is decoded; the valid rows are kept
   * in memory or spilled. A stream of one chunk (a small day) is validated at once, like a frame.
   */
  private async validateStream(stream: SourceStream, suite: Suite): Promise<ChunkedFrame> {
    if (stream.consumed) throw new Error(`the stream of ${stream.source.name} was already consumed: call ctx.stream again`);
    stream.consumed = true;
    const { port } = this;
    const budget = port.chunks.groupRows;
    const rows = Math.min(STREAM_CHUNK_ROWS, budget);
    // the checks' history is read from the warehouse while the first pages are fetched (~70 ms)
    const starting = port.validationContext(suite, undefined).then((context) => new StreamValidation(port.chunks, suite, new ChunkedValidation(suite, context), stream.options.groupBy ?? null, rows));
    starting.catch(() => undefined); // awaited by the first chunk, or after the extraction
    const sink: ChunkSink = { firstRows: wholeRowsOf(port.chunks), rows, minRows: Math.min(STREAM_MIN_CHUNK_ROWS, rows), onChunk: async (chunk) => (await starting).add(chunk) };
    const { landed, presence } = await port.extract(stream.source, sink);
    const run = await starting;
    const t0 = performance.now();
    // presence checks judge the counts of the whole extraction, known only now
    if (presence) run.validation.withPresence(presence);
    // a stream of several chunks checks uniqueness on the repeated keys matched as its chunks landed,
    // or, once kept on disk, on its key groups (a lone chunk was validated whole)
    const repeats = new Map<string, pl.Series>();
    if (!(await run.end())) {
      for (const k of run.keys) {
        if (k.repeats && !k.collector.spilled) {
          const failing = k.repeats.failing();
          run.validation.keyGroup(k.check, inKeyOrder(failing), 0, [], k.repeats.rows);
          // every value of the key that repeats, among all rows: the valid rows' repeats are among them
          const column = k.check.columns[0];
          if (column !== undefined) repeats.set(column, failing.getColumn(column).unique());
        } else {
          const found = await this.validateKeys(run.validation, k.check, k.collector.finish(run.inOrder));
          const column = k.check.columns.length === 1 ? k.check.columns[0] : undefined;
          if (column !== undefined && found) repeats.set(column, found);
        }
      }
    }
    const out = [...repeats].reduce((frame, [column, values]) => frame.withRepeats(column, values), run.valid.finish(run.inOrder));
    await port.settleValidation(suite.table, t0, run.validation.finish(), run.quarantined(), landed, { rows: out.height, head: await out.head(), chunks: run.chunks }, await run.quarantinedRaw());
    return out;
  }

  /** Validates a chunked frame group by group (one group: at once); unique checks on key groups of their own. */
  private async validateFrame(input: ChunkedFrame, suite: Suite): Promise<ChunkedFrame> {
    // the checks' history is read (DuckDB's threads) while this thread collects the garbage
    const context = this.port.validationContext(suite, undefined);
    context.catch(() => undefined); // awaited below
    reclaimMemory();
    // every validation pass builds its plan anew: as few passes as the budget allows
    const frame = input.coalesce(input.inMemory ? wholeRowsOf(this.port.chunks) : this.port.chunks.groupRows);
    const t0 = performance.now();
    const validation = new ChunkedValidation(suite, await context);
    const whole = frame.groups.length === 1;
    const keys = whole ? [] : validation.uniqueChecks.map((check) => ({ check, collector: new StreamCollector(this.port.chunks, `keys-${suite.table}`, check.columns[0] ?? null, KEY_GROUP_BUDGETS * this.port.chunks.groupRows) }));
    const quarantined: pl.DataFrame[] = [];
    let seq = 0;
    const valid = await frame.mapGroups(async (rows) => {
      for (const k of keys) {
        const keyed = rows.withRowIndex(SEQ_COLUMN, seq);
        await k.collector.add(keyed.select(...validation.keyColumns(k.check, keyed.columns)));
      }
      seq += rows.height;
      const out = whole ? validation.whole(rows) : validation.chunk(rows);
      if (out.quarantined.height > 0) quarantined.push(out.quarantined);
      return out.valid;
    }, `valid-${suite.table}`);
    for (const k of keys) await this.validateKeys(validation, k.check, k.collector.finish(true));
    const rows = quarantined.length > 0 ? pl.concat(quarantined, { how: "diagonalRelaxed" }) : pl.DataFrame({});
    await this.port.settleValidation(suite.table, t0, validation.finish(), rows, undefined, { rows: valid.height, head: await valid.head() });
    return valid;
  }

  /**
   * Runs a unique check group by group of its keys. For a one-column key, returns the values that
   * repeat (every group filtered its failing rows; else null): a later dedupe on that column then
   * compares only their rows (see ChunkedFrame.repeatsOf).
   */
  private async validateKeys(validation: ChunkedValidation, check: ChunkedValidation["uniqueChecks"][number], keys: ChunkedFrame): Promise<pl.Series | null> {
    const column = check.columns.length === 1 ? check.columns[0] : undefined;
    let repeats: pl.Series[] | null = column === undefined ? null : [];
    for (let g = 0; g < keys.groups.length; g++) {
      // a group of several buckets is in bucket order: samples are the first failures in partition order
      if (g > 0) await releaseMemory();
      const frame = await keys.readGroup(g);
      const order = keyOrder(frame);
      const failing = validation.keyGroup(check, frame, g, order.length > 0 && (!keys.inMemory || !keys.inOrder) ? order : []);
      if (failing && column !== undefined) repeats?.push(failing.getColumn(column).unique());
      else repeats = null;
    }
    return repeats && repeats.length > 0 ? pl.concat(repeats) : null;
  }

  /** The lake partitions of `table` among `days` that exist, read group by group alongside a chunked frame; unreadable ones go to `onCorrupt`. */
  async readWindow(table: string, days: readonly string[], onCorrupt: (error: CorruptFileError, dt: string) => void): Promise<LakeWindowFiles> {
    const existing = new Set(await listLakePartitions(this.port.dataDir, table));
    const files: Array<{ file: string; rows: number }> = [];
    for (const dt of days.filter((d) => existing.has(d)).sort()) {
      const file = lakePartitionPath(this.port.dataDir, table, dt);
      try {
        files.push({ file, rows: Number(pl.scanParquet(file, { hivePartitioning: false }).select(pl.len()).collectSync().getColumn("len").get(0) ?? 0) });
      } catch (cause) {
        onCorrupt(corruptPartition(file, table, dt, cause), dt);
      }
    }
    return { files };
  }

  /**
   * Writes chunked (and plain) outputs to the lake: each table's rows split by dt group by group,
   * then one Parquet file per partition. Returns the loads and the rows of the run's own day in
   * the job's main table.
   */
  async writeLake(outputs: ReadonlyArray<{ table: TableSpec; frame: pl.DataFrame | ChunkedFrame; dts: readonly string[] }>, mainTable: string | undefined, preview: boolean, revision: LakeRevision): Promise<{ loads: PartitionLoad[]; rowsLoaded: number }> {
    const loads: PartitionLoad[] = [];
    let rowsLoaded = 0;
    for (const out of outputs) {
      const pieces = isDataFrame(out.frame) ? null : ipcPieces(out.frame);
      if (pieces) {
        const written = await this.writeLakeFromPieces(out.table, out.frame as ChunkedFrame, pieces, out.dts, preview, revision);
        loads.push(...written.loads);
        if (out.table.name === mainTable) rowsLoaded = written.rowsOfDay;
        continue;
      }
      const byDay = await this.splitByDay(out.table, out.frame, out.dts);
      if (out.table.name === mainTable) rowsLoaded = byDay.find((p) => p.dt === this.port.dt)?.rows ?? 0;
      if (preview) continue;
      for (const part of byDay) {
        loads.push({ table: out.table, dt: part.dt, rows: part.rows, parquetPath: await writeLakePartitionFromParts(this.port.dataDir, out.table.name, part.dt, part, revision) });
        failpoint("lake.partial");
        await releaseMemory();
      }
    }
    return { loads, rowsLoaded };
  }

  /**
   * A spilled table written to the lake straight from its IPC pieces: one streamed, filtered read
   * of the pieces per partition (splitting the rows by day first would write and read them twice).
   */
  private async writeLakeFromPieces(table: TableSpec, frame: ChunkedFrame, files: string[], dts: readonly string[], preview: boolean, revision: LakeRevision): Promise<{ loads: PartitionLoad[]; rowsOfDay: number }> {
    const columns = table.columns.map((c) => c.name);
    const schema = lakeSchema(frame, columns);
    const loads: PartitionLoad[] = [];
    let rowsOfDay = 0;
    for (const dt of table.partitioned ? [...dts] : [this.port.dt]) {
      const where = table.partitioned ? dtIs(dt, schema["dt"]) : null;
      if (preview) {
        if (dt === this.port.dt) rowsOfDay = countRows(files.map((f) => pl.scanIPC(f)), where);
        continue;
      }
      const parquetPath = await writeLakePartitionFromIpc(this.port.dataDir, table.name, dt, { files, where, schema, columns }, revision);
      loads.push({ table, dt, parquetPath });
      if (dt === this.port.dt) rowsOfDay = countRows([pl.scanParquet(parquetPath, { hivePartitioning: false })], null);
      failpoint("lake.partial");
      await releaseMemory();
    }
    return { loads, rowsOfDay };
  }

  /** A table's rows split into its partitions (unpartitioned tables: everything in the run's day). */
  private async splitByDay(table: TableSpec, input: pl.DataFrame | ChunkedFrame, dts: readonly string[]): Promise<Array<LakeParts & { dt: string; rows: number }>> {
    const frame = isDataFrame(input) ? ChunkedFrame.fromFrames(this.port.chunks, [input]) : input;
    const days = table.partitioned ? [...dts] : [this.port.dt];
    const columns = table.columns.map((c) => c.name);
    const collector = new OutputCollector(this.port.chunks, `lake-${table.name}`, frame.inMemory, days.length, "parquet");
    const dayIndex = table.partitioned ? dayIndexExpr(days, frame.schema["dt"]) : pl.lit(0).cast(pl.Int32);
    for (let g = 0; g < frame.groups.length; g++) {
      for (const [d, slice] of splitByIndex(await frame.groupFrame(g), dayIndex)) if (d >= 0) await collector.add(d, conformed(slice, columns));
      if (!frame.inMemory) await releaseMemory();
    }
    const split = collector.build({ kind: "none" }, lakeSchema(frame, columns));
    return days.map((dt, d) => {
      const group = split.groups[d] ?? { parts: [], rows: 0 };
      const frames = group.parts.flatMap((p) => (p.kind === "frame" ? [p.frame] : []));
      const files = group.parts.flatMap((p) => (p.kind === "file" ? [p.file] : []));
      return { dt, rows: group.rows, frames, files, schema: split.schema, columns };
    });
  }
}

/**
 * The spilled IPC pieces of a frame, in order, when the lake can be written by scanning them: every
 * part a piece, no helper columns to sort by, no key=value segment in their paths (a lazy IPC scan
 * takes those for columns). Null otherwise.
 */
function ipcPieces(frame: ChunkedFrame): string[] | null {
  const parts = frame.groups.flatMap((g) => g.parts);
  if (parts.length === 0 || ORDER_COLUMNS.some((c) => c in frame.schema)) return null;
  const files = parts.flatMap((p) => (p.kind === "file" && p.file.endsWith(".ipc") && !p.file.split(/[\\/]/).some((s) => s.includes("=")) ? [p.file] : []));
  return files.length === parts.length ? files : null;
}

/** The columns that give a key frame's rows their order in the partition. */
function keyOrder(frame: pl.DataFrame): string[] {
  return frame.columns.includes(SEQ_COLUMN) ? [SEQ_COLUMN] : [PAGE_COLUMN, ROW_COLUMN].filter((c) => frame.columns.includes(c));
}

/** A key frame sorted into partition order. */
function inKeyOrder(frame: pl.DataFrame): pl.DataFrame {
  const order = keyOrder(frame);
  return order.length > 0 && frame.height > 1 ? frame.sort(order) : frame;
}

/** Rows of the scans together where `where` holds. */
function countRows(scans: pl.LazyDataFrame[], where: pl.Expr | null): number {
  const counts = scans.map((s) => (where ? s.filter(where) : s).select(pl.len()).collectSync().getColumn("len").get(0));
  return counts.reduce((n: number, c) => n + Number(c ?? 0), 0);
}

/** The types of a table's columns in the lake: the frame's, else Utf8 for a missing `_extra` and Null for other missing ones. */
function lakeSchema(frame: ChunkedFrame, columns: readonly string[]): Record<string, pl.DataType> {
  return Object.fromEntries(columns.map((c) => [c, frame.schema[c] ?? (c === EXTRA_COLUMN ? pl.Utf8 : pl.Null)]));
}

/** The table's columns of a slice; a table that keeps unknown fields gets a null `_extra` from a slice without one. */
function conformed(slice: pl.DataFrame, columns: readonly string[]): pl.DataFrame {
  const missing = columns.includes(EXTRA_COLUMN) && !slice.columns.includes(EXTRA_COLUMN);
  return (missing ? slice.withColumns(pl.lit(null).cast(pl.Utf8).alias(EXTRA_COLUMN)) : slice).select(...columns);
}

/** Per row, the index of its dt among `days`, or -1 (rows of other days are not written). */
function dayIndexExpr(days: readonly string[], dtype: pl.DataType | undefined): pl.Expr {
  let index: pl.Expr = pl.lit(-1).cast(pl.Int32);
  days.forEach((day, i) => {
    index = pl.when(dtIs(day, dtype)).then(pl.lit(i).cast(pl.Int32)).otherwise(index);
  });
  return index;
}

/**
 * The chunks of one streamed validation as they arrive: the first one waits until a second one
 * shows the stream has several (a stream of one chunk is validated at once, like a frame); then
 * every chunk's key columns go to the unique checks' key groups, its row checks run, its valid
 * rows are collected and its quarantined rows kept.
 */
class StreamValidation {
  readonly valid: StreamCollector;
  readonly keys: Array<{ check: ChunkedValidation["uniqueChecks"][number]; collector: StreamCollector; repeats: RepeatedKeys | null }>;
  inOrder = true;
  private first: DecodedChunk | null = null;
  /** Chunks taken so far (validated as their pages landed, but for a lone one). */
  chunks = 0;
  private highestPage = 0;
  private readonly rejected: pl.DataFrame[] = [];
  /** Per entry of `rejected`: its raw records being read, or null. */
  private readonly raw: Array<Promise<string[]> | null> = [];
  private readonly pacer: MemoryPacer;

  constructor(
    chunks: ChunkContext,
    suite: Suite,
    readonly validation: ChunkedValidation,
    groupBy: string | null,
    /** Rows of the chunks after the first (the size the first one is checked in once the stream has several). */
    private readonly sliceRows: number,
  ) {
    this.valid = new StreamCollector(chunks, `valid-${suite.table}`, groupBy);
    this.pacer = new MemoryPacer(Math.ceil(chunks.groupRows / 2));
    this.keys = validation.uniqueChecks.map((check) => ({
      check,
      collector: new StreamCollector(chunks, `keys-${suite.table}`, check.columns[0] ?? null, KEY_GROUP_BUDGETS * chunks.groupRows),
      // one-column keys are matched as chunks land, while the day is held in memory
      repeats: check.columns.length === 1 && check.columns[0] ? new RepeatedKeys(check.columns[0]) : null,
    }));
  }

  /** Takes the next chunk of the stream. */
  async add(chunk: DecodedChunk): Promise<void> {
    if (chunk.firstPage < this.highestPage) this.inOrder = false;
    this.highestPage = Math.max(this.highestPage, chunk.lastPage);
    if (this.chunks++ === 0) {
      this.first = chunk;
      return;
    }
    const first = this.first;
    this.first = null;
    // the first chunk may hold a whole budget: checked in slices of a later chunk's size, its peak is theirs
    if (first) for (let offset = 0; offset < first.frame.height; offset += this.sliceRows) await this.validateChunk({ ...first, frame: first.frame.slice(offset, this.sliceRows) });
    await this.validateChunk(chunk);
  }

  /** The stream has ended: a lone chunk is validated now, at once (then true). */
  async end(): Promise<boolean> {
    if (!this.first) return false;
    const out = this.validation.whole(withOrderColumns(this.first.frame));
    this.first = null;
    this.keep(out.quarantined);
    await this.valid.add(out.valid);
    return true;
  }

  /** The quarantined rows, in landed order. */
  quarantined(): pl.DataFrame {
    if (this.rejected.length === 0) return pl.DataFrame({});
    const rows = this.rejected.length === 1 ? (this.rejected[0] as pl.DataFrame) : pl.concat(this.rejected, { how: "vertical" });
    return this.inOrder ? rows : rows.sort([PAGE_COLUMN, ROW_COLUMN]);
  }

  private async validateChunk(chunk: DecodedChunk): Promise<void> {
    for (const k of this.keys) {
      const keys = chunk.frame.select(...this.validation.keyColumns(k.check, chunk.frame.columns));
      await k.collector.add(keys);
      if (k.collector.spilled) k.repeats = null;
      else await k.repeats?.add(keys);
    }
    const out = await this.validation.chunkAsync(withOrderColumns(chunk.frame));
    this.keep(out.quarantined, chunk);
    await this.valid.add(out.valid);
    // the chunk's frames (decoded, validated, split and spilled) are garbage now
    if (this.valid.spilled) await this.pacer.after(chunk.frame.height);
  }

  /** The raw records of the quarantined rows, in their order, when every chunk read its own while the stream went on (else undefined). */
  async quarantinedRaw(): Promise<string[] | undefined> {
    if (!this.inOrder || this.raw.some((r) => r === null)) return undefined;
    try {
      return (await Promise.all(this.raw as Array<Promise<string[]>>)).flat();
    } catch {
      return undefined;
    }
  }

  /** Keeps a chunk's quarantined rows, and starts reading their raw records (null: this chunk cannot). */
  private keep(quarantined: pl.DataFrame, chunk?: DecodedChunk): void {
    if (quarantined.height === 0) return;
    this.rejected.push(quarantined.drop(...ORDER_COLUMNS));
    if (!chunk?.rawRecords || !quarantined.columns.includes(PAGE_COLUMN) || !quarantined.columns.includes(ROW_COLUMN)) {
      this.raw.push(null);
      return;
    }
    const pages = quarantined.getColumn(PAGE_COLUMN).toArray() as number[];
    const rows = quarantined.getColumn(ROW_COLUMN).toArray() as number[];
    const raw = chunk.rawRecords(pages.map((page, i) => ({ page, row: rows[i] ?? 0 })));
    // awaited by quarantinedRaw; a failure there falls back to reading them at the end
    raw.catch(() => undefined);
    this.raw.push(raw);
  }
}

/** The chunk with its landed page and row copied into ORDER_COLUMNS (validation drops _page and _row from the rows that load). */
function withOrderColumns(frame: pl.DataFrame): pl.DataFrame {
  return frame.withColumns(exprOnce("order-page", () => pl.col(PAGE_COLUMN).alias(ORDER_COLUMNS[0])), exprOnce("order-row", () => pl.col(ROW_COLUMN).alias(ORDER_COLUMNS[1])));
}

/**
 * The consumer side of a streamed extraction: decodes landed pages like PageDecoder, but hands
 * them on in chunks instead of keeping the whole partition, so a day of any size passes through
 * bounded memory. One chunk is handed on while the next one accumulates; decoding waits when the
 * receiver falls behind (the queue then holds the fetcher back).
 *
 * Chunk size adapts to where the time goes: while decoding waits for the network more than it
 * works (a slow API), a chunk is handed on as soon as it has `minRows`, so its processing fills
 * time spent waiting anyway; while pages arrive faster than they are decoded, chunks grow to
 * `rows`, because every chunk has a fixed cost downstream (a validation pass builds its plan anew).
 */
import type { RecordBatch } from "apache-arrow";
import type pl from "nodejs-polars";
import type { ColumnSpec } from "./record-columns.ts";
import { batchesToFrameInSlices, decodeRecords } from "./record-decoder.ts";
import type { QueuedPage } from "./listing-fetcher.ts";
import type { BoundedQueue } from "./page-queue.ts";
import { laterMark, markOf } from "./source-mark.ts";
import type { SourceSpec } from "./types.ts";
import { nextTurn } from "../core/next-turn.ts";

/** A chunk of decoded pages: the declared columns plus _page, _row, _error, pages in ascending order. */
export interface DecodedChunk {
  frame: pl.DataFrame;
  /** 0-based position of the chunk in the stream. */
  seq: number;
  firstPage: number;
  lastPage: number;
  /** The raw records at (page, row) of the landed pages, in the order asked (for quarantine, read while later pages land). */
  rawRecords?: RawRecords;
}

/** Reads raw records of landed pages by (page, row). */
export type RawRecords = (refs: ReadonlyArray<{ page: number; row: number }>) => Promise<string[]>;

/** Where a streamed extraction's chunks go, and how large they are. */
export interface ChunkSink {
  /** Most rows per chunk (a chunk ends at the first page boundary at or past it). */
  rows: number;
  /**
   * Most rows of the first chunk; default `rows`. A larger first chunk lets a partition that fits
   * in it pass as one chunk (validated at once, like a frame), while a larger one continues in
   * chunks of `rows`.
   */
  firstRows?: number;
  /** Fewest rows of a chunk handed on early, while the network is the bottleneck; default `rows`. */
  minRows?: number;
  /** Receives each chunk; the next chunk is not handed on before this settles. A rejection fails the extraction. */
  onChunk(chunk: DecodedChunk): Promise<void>;
}

/**
 * Decoding is "waiting on the network" when it waited this many times longer than it worked: an API
 * 20 ms away waits 4x or more; a fast local one, on a busy machine, often waits about as long as it
 * decodes, and handing its day on early in chunks would only add the costs of chunks (measured at
 * 1M events: extract 12-15 s instead of 5-8 s).
 */
const WAIT_BOUND = 3;

export class ChunkDecoder {
  readonly drift = new Set<string>();
  /** Per column: records whose object had the field's key (as PageDecoder counts them). */
  readonly present: Int32Array;
  /** An incremental source's mark over every chunk handed on (the latest value of its mark column). */
  mark: string | undefined;
  records = 0;
  pages = 0;
  /** False once a chunk started below a page of an earlier chunk (pages of a parallel listing arrive out of order). */
  inPageOrder = true;
  private pending: Array<{ pageNo: number; batch: RecordBatch }> = [];
  private pendingRows = 0;
  private seq = 0;
  private highestPage = 0;
  private handing: Promise<void> = Promise.resolve();
  /** Time spent waiting for pages and decoding them since the last chunk was handed on. */
  private waitedMs = 0;
  private workedMs = 0;

  constructor(
    private readonly columns: readonly ColumnSpec[],
    private readonly sink: ChunkSink,
    private readonly onPage?: (info: { page: number; records: number; bytes: number }) => void,
    /** Column-based incremental sources: the mark is taken chunk by chunk (the frame is never whole). */
    private readonly spec?: SourceSpec,
    private readonly rawRecords?: RawRecords,
  ) {
    this.present = new Int32Array(columns.length);
  }

  /** Column name -> records in which its field was present (its key sent, even with a null value). */
  presence(): Record<string, number> {
    return Object.fromEntries(this.columns.map((c, i) => [c.name, this.present[i] ?? 0]));
  }

  /** Decodes every page the queue yields until it is closed; resolves once the last chunk was handed on. */
  async drain(queue: BoundedQueue<QueuedPage>): Promise<void> {
    for (;;) {
      const waitStart = performance.now();
      const item = await queue.shift();
      if (!item) break;
      // a page is decoded only once its raw body is landed
      await item.landed;
      const workStart = performance.now();
      this.waitedMs += workStart - waitStart;
      this.pending.push({ pageNo: item.pageNo, batch: decodeRecords(item.records, this.columns, item.pageNo, { drift: this.drift, present: this.present }) });
      this.pendingRows += item.records.length;
      this.records += item.records.length;
      this.pages++;
      this.onPage?.({ page: item.pageNo, records: item.records.length, bytes: item.bytes });
      this.workedMs += performance.now() - workStart;
      if (this.pendingRows >= this.chunkRows(queue.length)) await this.handOn();
      // let socket reads and timers run between decodes
      else await nextTurn();
    }
    if (this.pending.length > 0 || this.seq === 0) await this.handOn();
    await this.handing;
  }

  /** Rows the pending chunk needs before it is handed on: fewer while decoding mostly waits and no page is queued. */
  private chunkRows(queued: number): number {
    const max = this.seq === 0 ? (this.sink.firstRows ?? this.sink.rows) : this.sink.rows;
    return queued === 0 && this.waitedMs > WAIT_BOUND * this.workedMs ? Math.min(this.sink.minRows ?? max, max) : max;
  }

  /** Turns the pending pages into a chunk and hands it on once the previous one has been taken. */
  private async handOn(): Promise<void> {
    this.waitedMs = 0;
    this.workedMs = 0;
    const pages = this.pending.sort((a, b) => a.pageNo - b.pageNo);
    this.pending = [];
    this.pendingRows = 0;
    const firstPage = pages[0]?.pageNo ?? 0;
    const lastPage = pages.at(-1)?.pageNo ?? 0;
    if (firstPage < this.highestPage) this.inPageOrder = false;
    this.highestPage = Math.max(this.highestPage, lastPage);
    const frame = await batchesToFrameInSlices(pages.map((p) => p.batch), this.columns, nextTurn);
    if (this.spec?.incremental && this.spec.incremental.cursorPath === undefined && frame.height > 0) this.mark = laterMark(this.spec, this.mark, markOf(this.spec, frame, undefined));
    const chunk: DecodedChunk = { frame, seq: this.seq++, firstPage, lastPage, ...(this.rawRecords ? { rawRecords: this.rawRecords } : {}) };
    await this.handing;
    this.handing = this.sink.onChunk(chunk);
    // a failure surfaces from the next handOn or the end of drain; never as an unhandled rejection
    this.handing.catch(() => undefined);
  }
}

/**
 * The consumer side of a streamed extraction: decodes landed pages like PageDecoder, but hands
 * them on in chunks of about `rows` rows instead of keeping the whole partition, so a day of any
 * size passes through bounded memory. One chunk is handed on while the next one accumulates;
 * decoding waits when the receiver falls behind (the queue then holds the fetcher back).
 */
import type { RecordBatch } from "apache-arrow";
import type pl from "nodejs-polars";
import type { ColumnSpec } from "./record-columns.ts";
import { batchesToFrame, decodeRecords } from "./record-decoder.ts";
import type { QueuedPage } from "./listing-fetcher.ts";
import type { BoundedQueue } from "./page-queue.ts";

/** A chunk of decoded pages: the declared columns plus _page, _row, _error, pages in ascending order. */
export interface DecodedChunk {
  frame: pl.DataFrame;
  /** 0-based position of the chunk in the stream. */
  seq: number;
  firstPage: number;
  lastPage: number;
}

/** Where a streamed extraction's chunks go, and how large they are. */
export interface ChunkSink {
  /** Rows per chunk (a chunk ends at the first page boundary at or past it). */
  rows: number;
  /** Receives each chunk; the next chunk is not handed on before this settles. A rejection fails the extraction. */
  onChunk(chunk: DecodedChunk): Promise<void>;
}

export class ChunkDecoder {
  readonly drift = new Set<string>();
  records = 0;
  pages = 0;
  /** False once a chunk started below a page of an earlier chunk (pages of a parallel listing arrive out of order). */
  inPageOrder = true;
  private pending: Array<{ pageNo: number; batch: RecordBatch }> = [];
  private pendingRows = 0;
  private seq = 0;
  private highestPage = 0;
  private handing: Promise<void> = Promise.resolve();

  constructor(
    private readonly columns: readonly ColumnSpec[],
    private readonly sink: ChunkSink,
    private readonly onPage?: (info: { page: number; records: number; bytes: number }) => void,
  ) {}

  /** Decodes every page the queue yields until it is closed; resolves once the last chunk was handed on. */
  async drain(queue: BoundedQueue<QueuedPage>): Promise<void> {
    for (;;) {
      const item = await queue.shift();
      if (!item) break;
      // a page is decoded only once its raw body is landed
      await item.landed;
      this.pending.push({ pageNo: item.pageNo, batch: decodeRecords(item.records, this.columns, item.pageNo, { drift: this.drift }) });
      this.pendingRows += item.records.length;
      this.records += item.records.length;
      this.pages++;
      this.onPage?.({ page: item.pageNo, records: item.records.length, bytes: item.bytes });
      if (this.pendingRows >= this.sink.rows) await this.handOn();
      // let socket reads and timers run between decodes
      else await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.pending.length > 0 || this.seq === 0) await this.handOn();
    await this.handing;
  }

  /** Turns the pending pages into a chunk and hands it on once the previous one has been taken. */
  private async handOn(): Promise<void> {
    const pages = this.pending.sort((a, b) => a.pageNo - b.pageNo);
    this.pending = [];
    this.pendingRows = 0;
    const firstPage = pages[0]?.pageNo ?? 0;
    const lastPage = pages.at(-1)?.pageNo ?? 0;
    if (firstPage < this.highestPage) this.inPageOrder = false;
    this.highestPage = Math.max(this.highestPage, lastPage);
    const frame = batchesToFrame(pages.map((p) => p.batch), this.columns);
    const chunk: DecodedChunk = { frame, seq: this.seq++, firstPage, lastPage };
    await this.handing;
    this.handing = this.sink.onChunk(chunk);
    // a failure surfaces from the next handOn or the end of drain; never as an unhandled rejection
    this.handing.catch(() => undefined);
  }
}

/** The consumer side of an extraction: decodes queued pages into Arrow batches once they are landed. */
import type { RecordBatch } from "apache-arrow";
import type { ColumnSpec } from "./record-columns.ts";
import { decodeRecords } from "./record-decoder.ts";
import type { QueuedPage } from "./listing-fetcher.ts";
import type { BoundedQueue } from "./page-queue.ts";
import { nextTurn } from "../core/next-turn.ts";

/** Decoded pages of one extraction, in landing order once sorted. */
export class PageDecoder {
  readonly decoded: Array<{ pageNo: number; batch: RecordBatch }> = [];
  readonly drift = new Set<string>();
  /** Per column: records whose object had the field's key (presence checks tell absent from null). */
  readonly present: Int32Array;
  records = 0;

  constructor(
    private readonly columns: readonly ColumnSpec[],
    private readonly onPage?: (info: { page: number; records: number; bytes: number }) => void,
  ) {
    this.present = new Int32Array(columns.length);
  }

  /** Decodes every page the queue yields until it is closed. */
  async drain(queue: BoundedQueue<QueuedPage>): Promise<void> {
    for (;;) {
      const item = await queue.shift();
      if (!item) return;
      // a page is decoded only once its raw body is landed
      await item.landed;
      this.decoded.push({ pageNo: item.pageNo, batch: decodeRecords(item.records, this.columns, item.pageNo, { drift: this.drift, present: this.present }) });
      this.records += item.records.length;
      this.onPage?.({ page: item.pageNo, records: item.records.length, bytes: item.bytes });
      // let socket reads and timers run between decodes
      await nextTurn();
    }
  }

  /** Column name -> records in which its field was present (its key sent, even with a null value). */
  presence(): Record<string, number> {
    return Object.fromEntries(this.columns.map((c, i) => [c.name, this.present[i] ?? 0]));
  }

  /** The batches in page order. */
  batches(): RecordBatch[] {
    return this.decoded.sort((a, b) => a.pageNo - b.pageNo).map((d) => d.batch);
  }
}

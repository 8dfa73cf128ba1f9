/**
 * Collects the chunks of a stream (validated extraction chunks, key columns of every row) into a
 * ChunkedFrame: in memory while they fit the budget; beyond it every chunk is spilled, split into
 * hash buckets of a column so that rows with equal values meet in one group later (the copies of an
 * event_id), and the buckets are packed into groups that fit the budget.
 */
import pl from "nodejs-polars";
import { ChunkedFrame, splitByIndex, wholeRowsOf, type ChunkContext, type Group } from "./chunked-frame.ts";
import { pieceName } from "./spill-store.ts";
import { exprOnce } from "../core/expr-memo.ts";
import { schemaOf } from "../core/frame-schema.ts";

/** Hash buckets of a spilled stream; groups are runs of whole buckets, so a day may reach about this many budgets. */
export const HASH_BUCKETS = 32;

export class StreamCollector {
  private held: pl.DataFrame[] = [];
  private heldRows = 0;
  private schema: Record<string, pl.DataType> | null = null;
  /** Spilled files per bucket, in chunk order; null while everything is held in memory. */
  private buckets: Array<Array<{ file: string; rows: number }>> | null = null;
  private dir: Promise<string> | null = null;
  private chunks = 0;

  constructor(
    private readonly ctx: ChunkContext,
    private readonly name: string,
    /** Rows with equal values of it end in one group; null: chunks stay whole, groups follow arrival. */
    private readonly column: string | null,
    /** Rows of a group once spilled; default the budget (narrow rows, such as key columns, may take more per group). */
    private readonly groupRows = ctx.groupRows,
  ) {}

  /** Adds the next chunk (in stream order). */
  async add(frame: pl.DataFrame): Promise<void> {
    this.schema ??= schemaOf(frame);
    if (this.buckets === null && this.heldRows + frame.height <= wholeRowsOf(this.ctx)) {
      this.held.push(frame);
      this.heldRows += frame.height;
      return;
    }
    if (this.buckets === null) {
      this.buckets = Array.from({ length: this.column ? HASH_BUCKETS : 0 }, () => []);
      const held = this.held;
      this.held = [];
      for (const chunk of held) await this.spill(chunk);
    }
    await this.spill(frame);
  }

  /** True once chunks go to disk. */
  get spilled(): boolean {
    return this.buckets !== null;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.heldRows + (this.buckets ?? []).flat().reduce((n, f) => n + f.rows, 0);
  }

  /** The collected rows: one group in memory, or the spilled buckets packed into groups that fit the budget. */
  finish(inOrder: boolean): ChunkedFrame {
    const schema = this.schema ?? {};
    if (this.buckets === null) {
      const frame = ChunkedFrame.fromFrames(this.ctx, this.held, schema);
      return new ChunkedFrame(this.ctx, frame.groups, this.column ? { kind: "hash", column: this.column } : { kind: "none" }, schema, inOrder);
    }
    const groups: Group[] = [];
    let current: Group = { parts: [], rows: 0 };
    for (const files of this.buckets) {
      const rows = files.reduce((n, f) => n + f.rows, 0);
      if (current.rows > 0 && current.rows + rows > this.groupRows) {
        groups.push(current);
        current = { parts: [], rows: 0 };
      }
      current.parts.push(...files.map((f) => ({ kind: "file" as const, ...f })));
      current.rows += rows;
    }
    if (current.rows > 0 || groups.length === 0) groups.push(current);
    return new ChunkedFrame(this.ctx, groups, this.column ? { kind: "hash", column: this.column } : { kind: "none" }, schema, inOrder);
  }

  /** Writes one chunk: whole (no column: one bucket per chunk), or split into the hash buckets of the column. */
  private async spill(frame: pl.DataFrame): Promise<void> {
    this.dir ??= this.ctx.store.dir(this.name);
    const dir = await this.dir;
    const chunk = this.chunks++;
    if (!this.column) {
      const file = `${dir}/${pieceName(0, chunk)}`;
      frame.writeIPC(file);
      this.buckets?.push([{ file, rows: frame.height }]);
      return;
    }
    const column = this.column;
    const bucket = exprOnce(`bucket|${column}`, () => pl.col(column).hash(11, 23, 37, 41).cast(pl.UInt64).rem(pl.lit(HASH_BUCKETS).cast(pl.UInt64)).cast(pl.Int32));
    const pieces = splitByIndex(frame, bucket).map(([b, slice]) => ({ b, slice, file: `${dir}/${pieceName(b, chunk)}` }));
    // written on Polars' threads: the extraction that feeds this is bound by the main thread (JSON
    // parsing), and writing a 10M-event day's buckets there took ~4.7 s of it
    await Promise.all(pieces.map(({ slice, file }) => slice.lazy().sinkIpc(file).collect()));
    for (const { b, slice, file } of pieces) this.buckets?.[b]?.push({ file, rows: slice.height });
  }
}

/**
 * ChunkedFrame: a partition's rows in groups, held in memory while they fit the run's budget
 * (`groupRows` rows) and kept on disk (Arrow IPC pieces in the run's spill store) beyond it.
 * Rows that must meet (the copies of an event_id, a user's events) are put into one group first
 * (`groupMap`), then a function runs group by group: memory follows the size of a group, not of
 * the day. With one group (a day that fits) nothing touches the disk.
 *
 * Range groups keep the global order: groups are ranges of the key in ascending order, so a
 * function that sorts by the key gives, group after group, exactly the rows one sort of the
 * whole partition gives.
 */
import pl from "nodejs-polars";
import { CancelledError, ConfigError } from "../core/errors.ts";
import { MemoryPacer, releaseMemory } from "../core/memory.ts";
import { emptyFrame } from "../load/lake-chunks.ts";
import { isDataFrame } from "./frames.ts";
import { pieceName, type SpillStore } from "./spill-store.ts";
import { schemaOf } from "../core/frame-schema.ts";

/** Columns carrying a streamed row's landed page and position (extract's _page/_row survive validation under these names). */
export const ORDER_COLUMNS = ["__sluice_o_page", "__sluice_o_row"] as const;
/** Rows per spilled piece: small pieces keep every reader and writer of a group's files in bounded memory. */
export const PIECE_ROWS = 131_072;

/** Rows in memory, a spilled Arrow IPC file, or a lake Parquet file read (projected, filtered) when its group is. */
export type Part =
  | { kind: "frame"; frame: pl.DataFrame; rows: number }
  | { kind: "file"; file: string; rows: number }
  | { kind: "lake"; file: string; rows: number; columns: readonly string[] | null; filter: pl.Expr | null };

export interface Group {
  parts: Part[];
  /** Exact for frames and files; for lake parts, the file's rows (an upper bound once filtered). */
  rows: number;
}

/**
 * How rows were assigned to groups: arrival order, a hash of a column, or ascending ranges of a
 * column. Ranges planned for a lake window (groupMap's `into`) keep their bounds and that window:
 * a groupMap by the column with the same window then only adds the window's rows to each range.
 */
export type Grouping =
  | { kind: "none" }
  | { kind: "hash"; column: string }
  | { kind: "range"; column: string; plan?: { bounds: readonly unknown[]; window: LakeWindowFiles | null } };

/** Where groupMap's `into` collects its outputs: ascending ranges of `column`, sized for the day's rows plus the window's. */
export interface RangeTarget {
  column: string;
  with?: LakeWindowFiles;
}

/** What every chunked operation needs: where to spill, the memory budget, cancellation. */
export interface ChunkContext {
  store: SpillStore;
  /** Rows one group may hold (the memory budget of a stage). */
  groupRows: number;
  /**
   * Rows a partition may have and still pass as one frame, in memory (default groupRows): a day
   * that fits is processed exactly as one frame is, without the costs of groups on disk.
   */
  wholeRows?: number;
  signal: AbortSignal;
}

/** Lake partitions of a table, read group by group alongside a chunked frame (ctx.readWindow with `chunked`). */
export interface LakeWindowFiles {
  files: ReadonlyArray<{ file: string; rows: number }>;
}

/** A function of one group's rows: one frame out, or several named ones. */
export type GroupFn<T extends pl.DataFrame | Record<string, pl.DataFrame>> = (frame: pl.DataFrame, group: number) => T | Promise<T>;
/** What mapGroups returns for a GroupFn's output type. */
export type Chunked<T> = T extends pl.DataFrame ? ChunkedFrame : { [K in keyof T]: ChunkedFrame };

export class ChunkedFrame {
  constructor(
    private readonly ctx: ChunkContext,
    readonly groups: readonly Group[],
    readonly grouping: Grouping,
    readonly schema: Record<string, pl.DataType>,
    /** False when the rows of a group must be sorted by ORDER_COLUMNS to be in landed order. */
    readonly inOrder = true,
    /** Per column, the values that may occur more than once (see repeatsOf). */
    private readonly repeats: ReadonlyMap<string, pl.Series> = new Map(),
  ) {}

  /**
   * The values of `column` that may occur more than once in this frame, every other value
   * occurring once at most (nulls aside), or null when that is not known. A stream validated with
   * a one-column unique check on `column` knows them: its chunks were matched as its pages landed.
   * For firstCopies: deduplicating then compares only those values' rows.
   */
  repeatsOf(column: string): pl.Series | null {
    return this.repeats.get(column) ?? null;
  }

  /** The same frame, knowing that only `values` of `column` may repeat in it (see repeatsOf). */
  withRepeats(column: string, values: pl.Series): ChunkedFrame {
    return new ChunkedFrame(this.ctx, this.groups, this.grouping, this.schema, this.inOrder, new Map([...this.repeats, [column, values]]));
  }

  /** One group of frames held in memory. */
  static fromFrames(ctx: ChunkContext, frames: pl.DataFrame[], schema?: Record<string, pl.DataType>): ChunkedFrame {
    const parts: Part[] = frames.map((frame) => ({ kind: "frame", frame, rows: frame.height }));
    const rows = parts.reduce((n, p) => n + p.rows, 0);
    return new ChunkedFrame(ctx, [{ parts, rows }], { kind: "none" }, schema ?? (frames[0] ? schemaOf(frames[0]) : {}));
  }

  /** Rows in all groups (lake parts counted whole). */
  get height(): number {
    return this.groups.reduce((n, g) => n + g.rows, 0);
  }

  get columns(): string[] {
    return Object.keys(this.schema).filter((c) => !(ORDER_COLUMNS as readonly string[]).includes(c));
  }

  /** True when nothing of it is on disk. */
  get inMemory(): boolean {
    return this.groups.every((g) => g.parts.every((p) => p.kind === "frame"));
  }

  /** The rows of group `index` as one frame (for the job's functions: in landed order, helper columns dropped). */
  async groupFrame(index: number): Promise<pl.DataFrame> {
    return this.userFrame(await this.readGroup(index));
  }

  /** Runs `fn` on each group in turn; its outputs keep this frame's grouping (in memory when this frame is). */
  async mapGroups<T extends pl.DataFrame | Record<string, pl.DataFrame>>(fn: GroupFn<T>, name = "map"): Promise<Chunked<T>> {
    const outputs = new Map<string, OutputCollector>();
    let single = false;
    await this.eachOutput(fn, async (out, g) => {
      single = isDataFrame(out);
      for (const [key, frame] of Object.entries(single ? { "": out as pl.DataFrame } : (out as Record<string, pl.DataFrame>))) {
        let collector = outputs.get(key);
        if (!collector) outputs.set(key, (collector = new OutputCollector(this.ctx, key ? `${name}-${key}` : name, this.inMemory, this.groups.length)));
        await collector.add(g, frame);
      }
    });
    const built = Object.fromEntries([...outputs].map(([key, c]) => [key, c.build(this.grouping)]));
    return (single ? built[""] : built) as Chunked<T>;
  }

  /**
   * Puts rows with equal `column` values into one group (ascending ranges; kept as is when already
   * grouped by it), adds each range's rows of the lake window `with` (this frame's columns only),
   * then runs `fn` group by group.
   */
  groupMap<T extends pl.DataFrame | Record<string, pl.DataFrame>>(column: string, fn: GroupFn<T>, options?: { with?: LakeWindowFiles }): Promise<Chunked<T>>;
  /**
   * With `into`: the outputs go straight into the ascending ranges of `into.column` that a later
   * groupMap by that column (with that window) takes, instead of being written, read back and
   * split again there: a day kept on disk is written once less.
   */
  groupMap(column: string, fn: GroupFn<pl.DataFrame>, options: { with?: LakeWindowFiles; into: RangeTarget }): Promise<ChunkedFrame>;
  async groupMap<T extends pl.DataFrame | Record<string, pl.DataFrame>>(column: string, fn: GroupFn<T>, options: { with?: LakeWindowFiles; into?: RangeTarget } = {}): Promise<Chunked<T> | ChunkedFrame> {
    const grouped = await this.regroup(column, options.with);
    if (options.into) return grouped.mapGroupsInto(fn as GroupFn<pl.DataFrame>, `by-${column}`, options.into);
    return grouped.mapGroups(fn, `by-${column}`);
  }

  /** mapGroups with the outputs split into the ranges of `into` as they come (see groupMap's `into`). */
  private async mapGroupsInto(fn: GroupFn<pl.DataFrame>, name: string, into: RangeTarget): Promise<ChunkedFrame> {
    this.requireColumn(into.column);
    if (!this.inMemory) this.ctx.store.assertHeld();
    // the ranges come from this frame's values: the outputs' rows are among them (a filter, a dedupe)
    const bounds = await this.boundsFor(into.column, into.with);
    // one range (a day that fits): nothing to split, the later groupMap takes the outputs as they are
    if (bounds.length === 0) return this.mapGroups(fn, name);
    const collector = new OutputCollector(this.ctx, name, this.inMemory, bounds.length + 1);
    const index = rangeIndex(into.column, bounds, this.schema[into.column]);
    await this.eachOutput(fn, async (out) => {
      if (!out.columns.includes(into.column)) throw new ConfigError(`cannot group the output by ${into.column}: it has no such column (it has ${out.columns.join(", ")})`);
      await collector.addSplit(out, index, !this.inMemory);
    });
    return collector.build({ kind: "range", column: into.column, plan: { bounds, window: into.with ?? null } });
  }

  /** Runs `fn` on each group in turn and hands its output to `take`, letting each group's frames go before the next. */
  private async eachOutput<T extends pl.DataFrame | Record<string, pl.DataFrame>>(fn: GroupFn<T>, take: (out: T, group: number) => Promise<void>): Promise<void> {
    for (let g = 0; g < this.groups.length; g++) {
      throwIfAborted(this.ctx.signal);
      // the previous group's frames are garbage now: let their native memory go before the next one
      if (g > 0) await releaseMemory();
      await take(await fn(await this.groupFrame(g), g), g);
    }
  }

  /** Throws a ConfigError naming the frame's columns when it has no `column`. */
  private requireColumn(column: string): void {
    if (!(column in this.schema)) throw new ConfigError(`cannot group by ${column}: the frame has no such column (it has ${this.columns.join(", ")})`);
  }

  /**
   * The same rows with consecutive groups merged while they hold at most `rows` together (nothing
   * is read or moved): fewer, larger groups for work that has a fixed cost per group. Rows with
   * equal values of the grouping column stay in one group.
   */
  coalesce(rows: number): ChunkedFrame {
    const merged: Group[] = [];
    for (const group of this.groups) {
      const last = merged.at(-1);
      if (last && last.rows + group.rows <= rows) merged[merged.length - 1] = { parts: [...last.parts, ...group.parts], rows: last.rows + group.rows };
      else merged.push(group);
    }
    // merged groups no longer match planned ranges one to one
    const grouping = merged.length === this.groups.length ? this.grouping : unplanned(this.grouping);
    return new ChunkedFrame(this.ctx, merged, grouping, this.schema, this.inOrder);
  }

  /**
   * Keeps the rows where `predicate` holds, group by group; small groups (e.g. the sessions of a
   * day's groups of users) are coalesced up to the budget first, since each group pass has a fixed cost.
   */
  filter(predicate: pl.Expr): Promise<ChunkedFrame> {
    return this.coalesce(this.inMemory ? wholeRowsOf(this.ctx) : this.ctx.groupRows).mapGroups((frame) => frame.filter(predicate), "filter");
  }

  /** The first `n` rows (of the first groups). */
  async head(n = 5): Promise<pl.DataFrame> {
    const frames: pl.DataFrame[] = [];
    let rows = 0;
    for (let g = 0; g < this.groups.length && rows < n; g++) {
      const frame = (this.inOrder ? await this.leadingRows(g, n - rows) : await this.groupFrame(g)).head(n - rows);
      frames.push(frame);
      rows += frame.height;
    }
    return frames.length > 0 ? pl.concat(frames, { how: "diagonalRelaxed" }) : emptyFrame(this.schema, this.columns);
  }

  /** At least the first `n` rows of group `index` (all of them when it has fewer), reading only the parts that hold them: a group in order. */
  private async leadingRows(index: number, n: number): Promise<pl.DataFrame> {
    const group = this.groups[index];
    if (!group) throw new RangeError(`no group ${index} (of ${this.groups.length})`);
    let held = 0;
    // a lake part's rows are an upper bound once filtered: it counts for none
    const parts = group.parts.filter((p) => (held < n ? ((held += p.kind === "lake" ? 0 : p.rows), true) : false));
    return this.userFrame(this.readParts(parts));
  }

  /** Every row as one frame: for small partitions, previews and tests (a large day does not fit, by definition). */
  async collect(): Promise<pl.DataFrame> {
    const frames: pl.DataFrame[] = [];
    for (let g = 0; g < this.groups.length; g++) frames.push(await this.groupFrame(g));
    return frames.length > 0 ? pl.concat(frames, { how: "diagonalRelaxed" }) : emptyFrame(this.schema, this.columns);
  }

  /** Group `index` as stored: parts concatenated in order, lake parts read, helper columns kept. */
  async readGroup(index: number): Promise<pl.DataFrame> {
    const group = this.groups[index];
    if (!group) throw new RangeError(`no group ${index} (of ${this.groups.length})`);
    return this.readParts(group.parts);
  }

  /** Parts read and concatenated in order (helper columns kept). */
  private readParts(parts: readonly Part[]): pl.DataFrame {
    if (parts.some((p) => p.kind === "file")) this.ctx.store.assertHeld();
    const frames = parts.map(readPart).filter((f) => f.width > 0);
    if (frames.length === 0) return emptyFrame(this.schema, Object.keys(this.schema));
    const lake = parts.some((p) => p.kind === "lake");
    return frames.length === 1 ? (frames[0] as pl.DataFrame) : pl.concat(frames, { how: lake ? "diagonalRelaxed" : "vertical", rechunk: false });
  }

  /** Regroups by ascending ranges of `column` so that each group (with the window's rows of its range) fits the budget. */
  async regroup(column: string, window?: LakeWindowFiles): Promise<ChunkedFrame> {
    if (!this.inMemory) this.ctx.store.assertHeld();
    if (!window && this.grouping.kind !== "none" && this.grouping.column === column) return this.grouping.kind === "hash" ? this.splitOversized(column) : this;
    this.requireColumn(column);
    const plan = this.grouping.kind === "range" && this.grouping.column === column ? this.grouping.plan : undefined;
    // already in the ranges planned for this window (groupMap's `into`): only the window's rows are added
    if (plan && window && plan.window === window) return this.withWindow(column, plan.bounds, window);
    const bounds = await this.boundsFor(column, window);
    const grouped = bounds.length === 0 ? this.asOneGroup(column) : await this.splitByRanges(column, bounds);
    return window ? grouped.withWindow(column, bounds, window) : grouped;
  }

  /** Bounds of ascending ranges of `column` such that each range, with the window's rows of it, fits the budget; none when one group does. */
  private async boundsFor(column: string, window: LakeWindowFiles | undefined): Promise<unknown[]> {
    const windowRows = window?.files.reduce((n, f) => n + f.rows, 0) ?? 0;
    const total = this.height + windowRows;
    const wanted = this.inMemory && total <= wholeRowsOf(this.ctx) ? 1 : Math.ceil(total / this.ctx.groupRows);
    return wanted > 1 ? rangeBounds(this, column, wanted) : [];
  }

  /** Each range group (by `bounds`) with the window's rows of its range added first, as one frame of the window would hold them. */
  private withWindow(column: string, bounds: readonly unknown[], window: LakeWindowFiles): ChunkedFrame {
    const ranges = rangeExprs(column, bounds, this.schema[column]);
    const groups = this.groups.map((group, i) => {
      const lake: Part[] = window.files.map((f) => ({ kind: "lake", file: f.file, rows: f.rows, columns: this.columns, filter: ranges[i] ?? null }));
      return { parts: [...lake, ...group.parts], rows: group.rows + lake.reduce((n, p) => n + p.rows, 0) };
    });
    return new ChunkedFrame(this.ctx, groups, { kind: "range", column }, this.schema, this.inOrder);
  }

  /**
   * Hash groups over the budget (a spilled stream has a fixed number of buckets, so a day of more
   * budgets than buckets has larger ones) split by a second hash of the column, read a budget of
   * rows at a time: equal values still meet in one group, and each group holds about a budget.
   */
  private async splitOversized(column: string): Promise<ChunkedFrame> {
    const budget = this.ctx.groupRows;
    if (this.inMemory || this.groups.every((g) => g.rows <= budget)) return this;
    const groups: Group[] = [];
    for (const group of this.groups) {
      if (group.rows <= budget) {
        groups.push(group);
        continue;
      }
      const parts = Math.ceil(group.rows / budget);
      const collector = new OutputCollector(this.ctx, `split-${column}`, false, parts);
      const index = pl.col(column).hash(5, 7, 13, 17).cast(pl.UInt64).rem(pl.lit(parts).cast(pl.UInt64)).cast(pl.Int32);
      for (const run of budgetRuns(group.parts, budget)) {
        throwIfAborted(this.ctx.signal);
        await collector.addSplit(concatParts(run), index, true);
        await releaseMemory();
      }
      groups.push(...collector.build(this.grouping).groups);
    }
    return new ChunkedFrame(this.ctx, groups, this.grouping, this.schema, this.inOrder);
  }

  /** Every part in one group (as is: nothing is read or written). */
  private asOneGroup(column: string): ChunkedFrame {
    const parts = this.groups.flatMap((g) => g.parts);
    return new ChunkedFrame(this.ctx, [{ parts, rows: this.height }], { kind: "range", column }, this.schema, this.inOrder);
  }

  /**
   * Reads every part once and splits it into the ranges; spilled parts are spilled again, frames stay
   * in memory. A group's spilled parts are read and split together (a group fits the budget): fewer
   * splits, fewer and larger files, and one collection per group instead of per part.
   */
  private async splitByRanges(column: string, bounds: readonly unknown[]): Promise<ChunkedFrame> {
    const collector = new OutputCollector(this.ctx, `by-${column}`, this.inMemory, bounds.length + 1);
    const index = rangeIndex(column, bounds, this.schema[column]);
    const pacer = new MemoryPacer(Math.ceil(this.ctx.groupRows / 4));
    for (const group of this.groups) {
      throwIfAborted(this.ctx.signal);
      // runs of spilled files together; frames (kept in memory) and lake parts (columns of their own) alone
      for (const run of partRuns(group.parts)) {
        await collector.addSplit(run.length === 1 ? readPart(run[0] as Part) : concatParts(run), index, run[0]?.kind !== "frame");
        if (run[0]?.kind !== "frame") await pacer.after(run.reduce((n, p) => n + p.rows, 0));
      }
    }
    return collector.build({ kind: "range", column }, this.schema, this.inOrder);
  }

  /** A frame as the job's functions see it: in landed order, without the helper columns. */
  private userFrame(frame: pl.DataFrame): pl.DataFrame {
    const helpers: string[] = ORDER_COLUMNS.filter((c) => frame.columns.includes(c));
    if (helpers.length === 0) return frame;
    const ordered = this.inOrder ? frame : frame.sort([...ORDER_COLUMNS]);
    return ordered.drop(helpers);
  }
}

/** The grouping without planned ranges (its groups were merged or changed). */
function unplanned(grouping: Grouping): Grouping {
  return grouping.kind === "range" ? { kind: "range", column: grouping.column } : grouping;
}

/** Rows a partition may have and still pass as one frame (ChunkContext.wholeRows). */
export function wholeRowsOf(ctx: ChunkContext): number {
  return Math.max(ctx.wholeRows ?? ctx.groupRows, ctx.groupRows);
}

/** Collects the outputs of a group-by-group operation: in memory, or as spilled pieces per group. */
export class OutputCollector {
  private readonly frames: pl.DataFrame[][];
  private readonly files: Array<Array<{ file: string; rows: number }>>;
  private schema: Record<string, pl.DataType> | null = null;
  private dir: Promise<string> | null = null;
  private pieces = 0;

  constructor(
    private readonly ctx: ChunkContext,
    private readonly name: string,
    private readonly inMemory: boolean,
    groups: number,
    /**
     * Format of spilled pieces: Arrow IPC, lz4-compressed (~5x fewer bytes to write and later
     * remove, read back about as fast as uncompressed; a 10M-event day's transforms spill ~3 GB
     * uncompressed), or Parquet for
     * pieces that are streamed into a lake file (a lazy scan of IPC files takes key=value segments
     * of their path for columns, so it could replace a `dt` column with the spill directory's).
     */
    private readonly format: "ipc" | "parquet" = "ipc",
  ) {
    this.frames = Array.from({ length: groups }, () => []);
    this.files = Array.from({ length: groups }, () => []);
  }

  /** Adds one frame to group `group`. */
  async add(group: number, frame: pl.DataFrame, spill = !this.inMemory): Promise<void> {
    this.schema ??= schemaOf(frame);
    if (frame.height === 0) return;
    if (!spill) {
      this.frames[group]?.push(frame);
      return;
    }
    this.ctx.store.assertHeld();
    this.dir ??= this.ctx.store.dir(this.name);
    const dir = await this.dir;
    for (let offset = 0; offset < frame.height; offset += PIECE_ROWS) {
      const piece = frame.slice(offset, PIECE_ROWS);
      const file = `${dir}/${pieceName(group, this.pieces++, this.format)}`;
      if (this.format === "ipc") piece.writeIPC(file, { compression: "lz4" });
      else piece.writeParquet(file, { compression: "uncompressed" });
      this.files[group]?.push({ file, rows: piece.height });
    }
  }

  /** Splits `frame` by `index` (a group number per row) and adds each slice to its group. */
  async addSplit(frame: pl.DataFrame, index: pl.Expr, spill: boolean): Promise<void> {
    this.schema ??= schemaOf(frame);
    if (this.frames.length === 1) return this.add(0, frame, spill);
    for (const [group, slice] of splitByIndex(frame, index)) await this.add(group, slice, spill);
  }

  /** The collected groups as a ChunkedFrame. */
  build(grouping: Grouping, schema?: Record<string, pl.DataType>, inOrder = true): ChunkedFrame {
    const groups: Group[] = this.frames.map((frames, g) => {
      const parts: Part[] = [...frames.map((frame): Part => ({ kind: "frame", frame, rows: frame.height })), ...(this.files[g] ?? []).map((f): Part => ({ kind: "file", ...f }))];
      return { parts, rows: parts.reduce((n, p) => n + p.rows, 0) };
    });
    return new ChunkedFrame(this.ctx, groups, grouping, schema ?? this.schema ?? {}, inOrder);
  }
}

/** The helper column splitByIndex partitions on. */
const GROUP_COLUMN = "__sluice_g";
/** Its distinct values in order of first appearance: the order of partitionBy's stable parts. */
const GROUPS_IN_ORDER = pl.col(GROUP_COLUMN).unique(true);

/** Slices of `frame` by a group-number expression, in group order; rows keep their order within a group. */
export function splitByIndex(frame: pl.DataFrame, index: pl.Expr): Array<[number, pl.DataFrame]> {
  // one hash partitioning pass (cheaper than a stable sort of every column, or a filter per group)
  const keyed = frame.withColumns(index.alias(GROUP_COLUMN));
  // the parts' group numbers in one Series (a Series per part costs ~1 ms in nodejs-polars: seconds on a large day)
  const groups = keyed.select(GROUPS_IN_ORDER).getColumn(GROUP_COLUMN).toArray() as number[];
  const parts = keyed.partitionBy(GROUP_COLUMN, true, false);
  if (parts.length !== groups.length) throw new Error(`splitByIndex: ${parts.length} parts for ${groups.length} groups`);
  return parts.map((part, i): [number, pl.DataFrame] => [Number(groups[i]), part]).sort((a, b) => a[0] - b[0]);
}

/** Up to `groups - 1` ascending, distinct bounds of `column` that cut its values into groups of about equal rows. */
async function rangeBounds(frame: ChunkedFrame, column: string, groups: number): Promise<unknown[]> {
  const parts = sampledParts(frame.groups.flatMap((g) => g.parts).filter((p) => p.kind !== "lake"));
  // a sample of about 100 values per group is plenty to balance the groups
  const step = Math.max(1, Math.floor(parts.reduce((n, p) => n + p.rows, 0) / (groups * 100)));
  const samples: pl.Series[] = [];
  for (const part of parts) {
    const values = part.kind === "frame" ? part.frame.getColumn(column) : pl.readIPC(part.file, { columns: [column] }).getColumn(column);
    samples.push(values.dropNulls().gatherEvery(step));
  }
  if (samples.length === 0) return [];
  const sorted = (samples.length === 1 ? (samples[0] as pl.Series) : pl.concat(samples)).sort().toArray() as unknown[];
  const bounds: unknown[] = [];
  for (let i = 1; i < groups; i++) {
    const value = sorted[Math.floor((i * sorted.length) / groups)];
    if (value !== undefined && (bounds.length === 0 || compareValues(value, bounds.at(-1)) > 0)) bounds.push(value);
  }
  return bounds;
}

/** Parts a range sample reads: all of them, or as many spread evenly over them (a day's spill has ~1,000 small pieces, ~2.5 ms to open each). */
const SAMPLED_PARTS = 64;

/** Up to SAMPLED_PARTS of `parts`, spread evenly over them (over every bucket and every chunk of a spilled stream). */
function sampledParts(parts: readonly Part[]): Part[] {
  if (parts.length <= SAMPLED_PARTS) return [...parts];
  return Array.from({ length: SAMPLED_PARTS }, (_, i) => parts[Math.floor((i * parts.length) / SAMPLED_PARTS)] as Part);
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return Number(a) - Number(b);
}

function literalOf(value: unknown, dtype: pl.DataType | undefined): pl.Expr {
  const lit = pl.lit(typeof value === "bigint" ? Number(value) : (value as string | number));
  return dtype ? lit.cast(dtype) : lit;
}

/** The group number of each row: how many bounds its value reaches (nulls: group 0, where a sort puts them first). */
function rangeIndex(column: string, bounds: readonly unknown[], dtype: pl.DataType | undefined): pl.Expr {
  if (bounds.length === 0) return pl.lit(0).cast(pl.Int32);
  const col = pl.col(column);
  return pl.sumHorizontal(bounds.map((b) => col.gtEq(literalOf(b, dtype)).cast(pl.Int32))).fillNull(0).cast(pl.Int32);
}

/** Per group, the predicate of its range (what a lake file contributes to it). */
function rangeExprs(column: string, bounds: readonly unknown[], dtype: pl.DataType | undefined): Array<pl.Expr | null> {
  if (bounds.length === 0) return [null];
  const col = pl.col(column);
  const lits = bounds.map((b) => literalOf(b, dtype));
  return Array.from({ length: bounds.length + 1 }, (_, g) => {
    if (g === 0) return col.lt(lits[0] as pl.Expr).or(col.isNull());
    if (g === bounds.length) return col.gtEq(lits[g - 1] as pl.Expr);
    return col.gtEq(lits[g - 1] as pl.Expr).and(col.lt(lits[g] as pl.Expr));
  });
}

/** A group's parts in order, consecutive spilled files in one run, every other part a run of its own. */
function partRuns(parts: readonly Part[]): Part[][] {
  const runs: Part[][] = [];
  for (const part of parts) {
    const last = runs.at(-1);
    if (part.kind === "file" && last?.[0]?.kind === "file") last.push(part);
    else runs.push([part]);
  }
  return runs;
}

/** Consecutive parts in runs of at most `rows` rows (a part larger than that is a run of its own). */
function budgetRuns(parts: readonly Part[], rows: number): Part[][] {
  const runs: Part[][] = [];
  let held = 0;
  for (const part of parts) {
    const last = runs.at(-1);
    if (last && held + part.rows <= rows) {
      last.push(part);
      held += part.rows;
    } else {
      runs.push([part]);
      held = part.rows;
    }
  }
  return runs;
}

/** Spilled parts read as one frame, in order. */
function concatParts(parts: readonly Part[]): pl.DataFrame {
  const frames = parts.map(readPart);
  return frames.length === 1 ? (frames[0] as pl.DataFrame) : pl.concat(frames, { how: "vertical", rechunk: false });
}

function readPart(part: Part): pl.DataFrame {
  switch (part.kind) {
    case "frame":
      return part.frame;
    case "file":
      return part.file.endsWith(".parquet") ? pl.readParquet(part.file) : pl.readIPC(part.file);
    case "lake": {
      let scan = pl.scanParquet(part.file, { hivePartitioning: false });
      // a partition written before a column was added lacks it: the group's concat fills it with nulls
      if (part.columns) {
        const present = new Set(scan.columns);
        scan = scan.select(...part.columns.filter((c) => present.has(c)));
      }
      if (part.filter) scan = scan.filter(part.filter);
      return scan.collectSync();
    }
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError("cancelled", { cause: signal.reason, context: { stage: "transform" } });
}

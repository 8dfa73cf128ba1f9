/**
 * Frames printed the way Polars prints them: a shape line, a box with each column's name and
 * dtype, middle rows elided as "…", and (on a terminal) middle columns elided to fit its width.
 */
import { clipToWidth, displayWidth, padToWidth, terminalSafe } from "../core/terminal-text.ts";

/** What a frame shows: names, short dtypes, the first and last rows as display text, and the total. */
export interface FrameView {
  columns: string[];
  dtypes: string[];
  /** The first rows, as display text (escaped here). */
  head: string[][];
  /** The last rows, shown after a "…" row when rows were left out between head and tail. */
  tail: string[][];
  /** Rows in the whole frame. */
  height: number;
  /** Columns to right-align (numbers). */
  rightAligned?: boolean[];
}

export interface FrameLayout {
  /** Terminal columns to fit in; undefined: full width (piped output, --wide). */
  width: number | undefined;
  /** Longest cell shown when fitting a terminal, in columns (Polars' default is 32). */
  maxCell?: number;
}

const DEFAULT_MAX_CELL = 32;
/** Left border plus, per column, two spaces of padding and a separator. */
const BORDER = 1;
const PER_COLUMN = 3;
const ELLIPSIS = "…";

/** Thousands with underscores, as Polars writes a shape: 3_000_000. */
export function underscored(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "_");
}

/** The frame as text: `shape: (rows, columns)` then the box. */
export function renderFrame(view: FrameView, layout: FrameLayout): string {
  const maxCell = layout.width === undefined ? Infinity : (layout.maxCell ?? DEFAULT_MAX_CELL);
  const cell = (s: string): string => (maxCell === Infinity ? terminalSafe(s) : clipToWidth(terminalSafe(s), maxCell));
  const rows = [...view.head, ...(view.head.length + view.tail.length < view.height ? [view.columns.map(() => ELLIPSIS)] : []), ...view.tail];
  const columns = view.columns.map((name, i) => ({
    name: cell(name),
    dtype: cell(view.dtypes[i] ?? ""),
    cells: rows.map((r) => cell(r[i] ?? "")),
    right: view.rightAligned?.[i] ?? false,
  }));
  const widths = columns.map((c) => Math.max(displayWidth(c.name), displayWidth(c.dtype), 3, ...c.cells.map(displayWidth)));
  const shown = fitColumns(widths, layout.width);
  const pick = <T>(values: T[], gap: T): T[] => shown.map((i) => (i === -1 ? gap : (values[i] as T)));
  const w = shrinkToFit(pick(widths, 1), layout.width);
  const fitted = (text: string, width: number, right: boolean): string => padToWidth(clipToWidth(text, width), width, right ? "right" : "left");
  const line = (cells: string[], rightAligned: boolean[]): string => `│ ${cells.map((c, k) => fitted(c, w[k] ?? 1, rightAligned[k] ?? false)).join(" ┆ ")} │`;
  const rule = (left: string, fill: string, mid: string, right: string): string => `${left}${w.map((x) => fill.repeat(x + 2)).join(mid)}${right}`;
  const none = w.map(() => false);
  const right = pick(columns.map((c) => c.right), false);
  const out = [
    `shape: (${underscored(view.height)}, ${underscored(view.columns.length)})`,
    rule("┌", "─", "┬", "┐"),
    line(pick(columns.map((c) => c.name), ELLIPSIS), none),
    line(w.map((_, k) => (shown[k] === -1 ? "" : "---")), none),
    line(pick(columns.map((c) => c.dtype), ""), none),
    rule("╞", "═", "╪", "╡"),
    ...rows.map((_, r) => line(pick(columns.map((c) => c.cells[r] ?? ""), ELLIPSIS), right)),
    rule("└", "─", "┴", "┘"),
  ];
  return out.join("\n");
}

/**
 * Which columns fit `width`: all of them, or as many as fit taken alternately from the left and
 * the right, with -1 marking the elided middle. The first column is always shown (clipped if it must).
 */
export function fitColumns(widths: number[], width: number | undefined): number[] {
  const all = widths.map((_, i) => i);
  if (width === undefined || totalWidth(widths) <= width || widths.length === 1) return all;
  const left: number[] = [];
  const right: number[] = [];
  let used = BORDER + 1 + PER_COLUMN; // the elided column
  for (let k = 0; k < widths.length; k++) {
    const i = k % 2 === 0 ? left.length : widths.length - 1 - right.length;
    const cost = (widths[i] ?? 0) + PER_COLUMN;
    if (used + cost > width && k > 0) break;
    used += cost;
    if (k % 2 === 0) left.push(i);
    else right.unshift(i);
  }
  return [...left, -1, ...right];
}

/** Terminal columns a box of these column widths takes. */
function totalWidth(widths: number[]): number {
  return BORDER + widths.reduce((sum, x) => sum + x + PER_COLUMN, 0);
}

/** When even the first column alone overflows `width`, narrows it (its cells are clipped with "…"). */
function shrinkToFit(widths: number[], width: number | undefined): number[] {
  const over = width === undefined ? 0 : totalWidth(widths) - width;
  if (over <= 0) return widths;
  return widths.map((x, k) => (k === 0 ? Math.max(1, x - over) : x));
}

/**
 * Graded limits of row checks: how many failing rows a check tolerates before it fails (warn) and
 * before it blocks the partition (block, a.k.a. quarantine, or the allowance). A limit is a count
 * or a fraction of the partition's rows; exceeding it means strictly more.
 */
import type { CheckSpec, Limit, Thresholds } from "./check-types.ts";
import { limitText, percent } from "./describe.ts";
import type { Severity } from "./types.ts";

/** A limit made explicit. */
export type ResolvedLimit = { rows: number } | { fraction: number };

/** The limits that apply to one check, and where its block limit came from (for messages). */
export interface CheckLimits {
  warn: ResolvedLimit;
  /** Null: the check never blocks (warnings). */
  block: ResolvedLimit | null;
  /** "allowance" keeps today's wording in messages; "block" names thresholds.block/quarantine. */
  blockFrom: "allowance" | "block" | "first failing row";
}

/** How a check's failing rows grade against its limits. */
export interface Grade {
  passed: boolean;
  blocks: boolean;
  detail: string | null;
}

/** Null when `value` is a valid Limit, else why not. */
export function limitProblem(value: unknown): string | null {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 1) return null;
    if (value >= 0 && value < 1) return null;
    return `${value} is neither a fraction below 1 nor a whole number of rows`;
  }
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    const v = (value as Record<string, unknown>)[keys[0] ?? ""];
    if (keys.length === 1 && keys[0] === "rows" && typeof v === "number" && Number.isInteger(v) && v >= 0) return null;
    if (keys.length === 1 && keys[0] === "fraction" && typeof v === "number" && v >= 0 && v <= 1) return null;
  }
  return `expected a fraction below 1, a whole number of rows, { rows } or { fraction }, got ${JSON.stringify(value)}`;
}

/** Cross-limit rules of a check's thresholds; null when fine. */
export function limitsProblem(thresholds: Thresholds, severity: Severity): string | null {
  const boundary = thresholds.block ?? thresholds.quarantine;
  if (severity === "warn" && boundary !== undefined) return "a warning never blocks: give only thresholds.warn";
  if (thresholds.block !== undefined && thresholds.quarantine !== undefined && JSON.stringify(resolve(thresholds.block)) !== JSON.stringify(resolve(thresholds.quarantine))) {
    return "thresholds.quarantine and thresholds.block name the same boundary (quarantine up to it, block above it): give one";
  }
  if (thresholds.warn !== undefined && boundary !== undefined) {
    const warn = resolve(thresholds.warn);
    const block = resolve(boundary);
    const same = ("rows" in warn) === ("rows" in block);
    if (same && value(warn) > value(block)) return `thresholds.warn (${limitText(thresholds.warn)}) is above the block limit (${limitText(boundary)})`;
  }
  return null;
}

/** A Limit with its unit made explicit: numbers below 1 are fractions, whole numbers from 1 are rows. */
export function resolve(limit: Limit): ResolvedLimit {
  if (typeof limit === "number") return limit >= 1 ? { rows: limit } : { fraction: limit };
  return limit;
}

function value(limit: ResolvedLimit): number {
  return "rows" in limit ? limit.rows : limit.fraction;
}

/** True when `failing` of `rows` is strictly more than the limit. */
export function exceeds(limit: ResolvedLimit, failing: number, rows: number): boolean {
  // failing / rows, not fraction * rows: 0.29 * 100 is 28.999999999999996 in binary floating point.
  return "rows" in limit ? failing > limit.rows : rows > 0 && failing / rows > limit.fraction;
}

/** The limits of a row check (or of the built-in decode check, given as its allowance). */
export function limitsOf(check: Pick<CheckSpec, "severity" | "onFail" | "allowance" | "thresholds">): CheckLimits {
  const warn = resolve(check.thresholds?.warn ?? { rows: 0 });
  if (check.severity === "warn") return { warn, block: null, blockFrom: "allowance" };
  if (check.onFail === "block") return { warn, block: { rows: 0 }, blockFrom: "first failing row" };
  const boundary = check.thresholds?.block ?? check.thresholds?.quarantine;
  return boundary === undefined ? { warn, block: { fraction: check.allowance }, blockFrom: "allowance" } : { warn, block: resolve(boundary), blockFrom: "block" };
}

/** Grades `failing` of `rows` against the limits. */
export function grade(limits: CheckLimits, failing: number, rows: number): Grade {
  const blocks = limits.block !== null && failing > 0 && exceeds(limits.block, failing, rows);
  const warns = exceeds(limits.warn, failing, rows);
  const passed = !blocks && !warns;
  const share = rows > 0 ? ` (${percent(failing / rows)})` : "";
  let detail: string | null = null;
  if (blocks && limits.blockFrom === "allowance") detail = `${failing} of ${rows} rows${share} failed, more than the allowance of ${limitText(limits.block as ResolvedLimit)}`;
  else if (blocks && limits.blockFrom === "block") detail = `${failing} of ${rows} rows${share} failed, more than the block limit of ${limitText(limits.block as ResolvedLimit)}`;
  else if (failing > 0 && !warns) detail = `${failing} of ${rows} rows${share} failed, within the warn limit of ${limitText(limits.warn)}`;
  else if (failing > 0 && value(limits.warn) > 0) detail = `${failing} of ${rows} rows${share} failed, more than the warn limit of ${limitText(limits.warn)}`;
  else if (failing > 0) detail = `${failing} of ${rows} rows failed`;
  return { passed, blocks, detail };
}

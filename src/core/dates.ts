/** UTC day partitions: parsing, ranges and time windows. */
import { UsageError } from "./errors.ts";

/** Milliseconds in a UTC day. */
export const DAY_MS = 86_400_000;

/**
 * The days Sluice partitions: 0001-01-01 to 9999-12-30. A partition is named `dt=YYYY-MM-DD` (four
 * digits, as RFC 3339 and DuckDB print years), and its window ends at the next day's midnight, which
 * must be such a day too: the day after 9999-12-31 prints as `+010000-01-01`. Before year 1, DuckDB
 * and ISO 8601 number years differently (DuckDB's 0001-01-01 (BC) is ISO's 0000).
 */
export const FIRST_DAY = "0001-01-01";
export const LAST_DAY = "9999-12-30";

/** A UTC day partition and its half-open time window [start, end). */
export interface PartitionWindow {
  /** The partition key, YYYY-MM-DD. */
  dt: string;
  start: Date;
  end: Date;
  /** RFC 3339 strings of start and end, e.g. 2026-11-20T00:00:00Z. */
  startIso: string;
  endIso: string;
  /** Unix seconds of start and end (Stripe's created[gte], Zendesk's start_time). */
  startEpoch: number;
  endEpoch: number;
}

/** Parses YYYY-MM-DD strictly (real calendar dates from FIRST_DAY to LAST_DAY only); throws UsageError naming the value. */
export function parseDay(value: string, flag = "date"): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) throw new UsageError(`--${flag} "${value}" is not a date of the form YYYY-MM-DD`);
  // Not Date.UTC(y, ...): it reads years 0-99 as 1900-1999, so 0050-06-01 would not round-trip.
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (formatDay(d) !== value) throw new UsageError(`--${flag} "${value}" is not a real calendar date`);
  checkDayInDomain(value, flag);
  return value;
}

/** UsageError when a well-formed day lies outside FIRST_DAY..LAST_DAY. */
export function checkDayInDomain(value: string, flag = "date"): void {
  if (value < FIRST_DAY || value > LAST_DAY) {
    throw new UsageError(`--${flag} "${value}" is outside the days Sluice partitions, ${FIRST_DAY} to ${LAST_DAY} (a partition's window ends at the next midnight, which must have a four-digit year)`);
  }
}

/** YYYY-MM-DD of a Date, in UTC. */
export function formatDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The day `n` days after `dt` (negative n goes back). */
export function addDays(dt: string, n: number): string {
  return formatDay(new Date(Date.parse(`${dt}T00:00:00Z`) + n * DAY_MS));
}

/** Yesterday in UTC, relative to `now`. */
export function yesterday(now: Date = new Date()): string {
  return addDays(formatDay(now), -1);
}

/** How many days `from` to `to` spans, both included (0 when from is after to). */
export function dayCount(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1);
}

/** Every day from `from` to `to`, inclusive; UsageError when from is after to or either is outside the domain. */
export function dayRange(from: string, to: string): string[] {
  checkDayInDomain(from, "from");
  checkDayInDomain(to, "to");
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`, { hint: "swap the two dates" });
  // Counted, not compared as strings: a formatted day past the domain would not sort after `to`.
  const n = dayCount(from, to);
  const days = new Array<string>(n);
  for (let i = 0; i < n; i++) days[i] = addDays(from, i);
  return days;
}

/** The time window of a UTC day partition. */
export function dayWindow(dt: string): PartitionWindow {
  const start = new Date(`${dt}T00:00:00Z`);
  const end = new Date(start.getTime() + DAY_MS);
  return { dt, start, end, startIso: `${dt}T00:00:00Z`, endIso: `${formatDay(end)}T00:00:00Z`, startEpoch: start.getTime() / 1000, endEpoch: end.getTime() / 1000 };
}

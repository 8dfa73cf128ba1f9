/** UTC day partitions: parsing, ranges and time windows. */
import { UsageError } from "./errors.ts";

const DAY_MS = 86_400_000;

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

/** Parses YYYY-MM-DD strictly (real calendar dates only); throws UsageError naming the value. */
export function parseDay(value: string, flag = "date"): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) throw new UsageError(`--${flag} "${value}" is not a date of the form YYYY-MM-DD`);
  // Not Date.UTC(y, ...): it reads years 0-99 as 1900-1999, so 0050-06-01 would not round-trip.
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (formatDay(d) !== value) throw new UsageError(`--${flag} "${value}" is not a real calendar date`);
  return value;
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

/** Every day from `from` to `to`, inclusive; UsageError when from is after to. */
export function dayRange(from: string, to: string): string[] {
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`, { hint: "swap the two dates" });
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return days;
}

/** The time window of a UTC day partition. */
export function dayWindow(dt: string): PartitionWindow {
  const start = new Date(`${dt}T00:00:00Z`);
  const end = new Date(start.getTime() + DAY_MS);
  return { dt, start, end, startIso: `${dt}T00:00:00Z`, endIso: `${formatDay(end)}T00:00:00Z`, startEpoch: start.getTime() / 1000, endEpoch: end.getTime() / 1000 };
}

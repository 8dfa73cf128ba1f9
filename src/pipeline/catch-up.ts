/**
 * `sluice catch-up <job> [--lookback N]`: which days to run so that a job that runs every night
 * (or missed some nights) is complete up to yesterday. A pure function of the partitions' last
 * statuses, the job's start, today and the lookback; the CLI and the scheduled catch-up both run
 * its days like a backfill.
 */
import { addDays, dayRange, parseDay } from "../core/dates.ts";
import { UsageError } from "../core/errors.ts";

/** The last run of one partition (as readPartitionStatus returns it). */
export interface PartitionLastStatus {
  dt: string;
  /** succeeded, failed, cancelled, abandoned, running... */
  status: string;
}

export interface CatchUpInput {
  job: string;
  /** Last status per partition of this job, any order. */
  statuses: readonly PartitionLastStatus[];
  /** The first day the job has data for: its declared start or --from; days before it are never run. */
  start?: string;
  /** Today (UTC, YYYY-MM-DD): the catch-up runs up to the day before. */
  today: string;
  /** Days before today rerun even when they succeeded, for records that arrive late. */
  lookback: number;
}

/** Why a day is in the plan. */
export type CatchUpReason =
  /** never run */
  | "missing"
  /** its last run failed, was cancelled or abandoned, or is still marked running */
  | "not-succeeded"
  /** it succeeded, and is within the lookback: rerun for late data */
  | "lookback";

export interface CatchUpDay {
  dt: string;
  reason: CatchUpReason;
  /** The status of its last run; null when it never ran. */
  lastStatus: string | null;
}

export interface CatchUpPlan {
  /** The first day of the contiguous range: the last successful partition, else the start, else the earliest day that ran. */
  from: string;
  /** The days to run, in date order. */
  days: CatchUpDay[];
  /** Days before `from` (and on or after the start) that never ran: not run by a catch-up (a backfill fills them), reported so they are not forgotten. */
  gaps: string[];
}

/**
 * Every day from the last successful partition (or the start when none succeeded) to yesterday
 * that has not succeeded; every earlier day whose last run did not succeed (nothing that failed is
 * skipped); and the `lookback` days before today even when they succeeded. Throws a UsageError
 * when nothing ever ran and no start is known.
 */
export function planCatchUp(input: CatchUpInput): CatchUpPlan {
  const today = parseDay(input.today, "today");
  const start = input.start === undefined ? undefined : parseDay(input.start, "from");
  if (!Number.isInteger(input.lookback) || input.lookback < 0) {
    throw new UsageError(`--lookback "${input.lookback}" must be a whole number of days, 0 or more`, { hint: `e.g. sluice catch-up ${input.job} --lookback 2` });
  }
  const yesterday = addDays(today, -1);
  const inScope = (dt: string): boolean => dt <= yesterday && (start === undefined || dt >= start);
  const last = new Map(input.statuses.filter((s) => inScope(s.dt)).map((s) => [s.dt, s.status]));
  const from = firstDay(input.job, last, start, yesterday);

  const days = new Map<string, CatchUpDay>();
  const add = (dt: string, reason: CatchUpReason): void => {
    if (!days.has(dt)) days.set(dt, { dt, reason, lastStatus: last.get(dt) ?? null });
  };
  const unfinished = (dt: string): CatchUpReason => (last.has(dt) ? "not-succeeded" : "missing");

  if (from <= yesterday) for (const dt of dayRange(from, yesterday)) if (last.get(dt) !== "succeeded") add(dt, unfinished(dt));
  for (const [dt, status] of last) if (dt < from && status !== "succeeded") add(dt, "not-succeeded");
  for (let n = 1; n <= input.lookback; n++) {
    const dt = addDays(today, -n);
    if (start !== undefined && dt < start) break;
    add(dt, last.get(dt) === "succeeded" ? "lookback" : unfinished(dt));
  }
  return { from, days: [...days.values()].sort((a, b) => (a.dt < b.dt ? -1 : 1)), gaps: gapsBefore(from, last, start) };
}

/** The last success up to yesterday; else the start; else the earliest day that ran. */
function firstDay(job: string, last: ReadonlyMap<string, string>, start: string | undefined, yesterday: string): string {
  let lastSuccess: string | undefined;
  let earliest: string | undefined;
  for (const [dt, status] of last) {
    if (status === "succeeded" && (lastSuccess === undefined || dt > lastSuccess)) lastSuccess = dt;
    if (earliest === undefined || dt < earliest) earliest = dt;
  }
  const from = lastSuccess ?? start ?? earliest;
  if (from === undefined) {
    throw new UsageError(`catch-up ${job}: no partition of ${job} has run yet and the job declares no start date, so there is no day to catch up from`, {
      hint: `pass --from YYYY-MM-DD (e.g. sluice catch-up ${job} --from ${yesterday}), or declare the job's start date`,
    });
  }
  return from;
}

/** Days between the start (or the earliest day that ran) and `from` that never ran. */
function gapsBefore(from: string, last: ReadonlyMap<string, string>, start: string | undefined): string[] {
  let lower = start;
  for (const dt of last.keys()) if (lower === undefined || dt < lower) lower = dt;
  if (lower === undefined || lower >= from) return [];
  return dayRange(lower, addDays(from, -1)).filter((dt) => !last.has(dt));
}

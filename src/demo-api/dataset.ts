/**
 * What determines the demo data: seed, events per day, users, and the injected day anomalies.
 * The same options always give the same records.
 */
import { formatDay } from "../core/dates.ts";
import { UsageError } from "../core/errors.ts";
import { DAY_ANOMALIES, type DayAnomaly } from "./anomalies.ts";

/** What determines the data: the same options always give the same records. */
export interface DatasetOptions {
  seed?: number;
  /** Approximate number of events per day (exact count is deterministic). */
  eventsPerDay?: number;
  /** Number of users; default max(50, eventsPerDay / 40). */
  users?: number;
  /** Days (YYYY-MM-DD) whose events listing misbehaves silently, e.g. `{ "2026-11-24": "half_empty" }`. */
  anomalies?: Readonly<Record<string, DayAnomaly>>;
}

/** DatasetOptions with defaults applied. */
export interface Dataset {
  seed: number;
  eventsPerDay: number;
  users: number;
  anomalies: ReadonlyMap<string, DayAnomaly>;
}

/** Share of dirty records and of at-least-once duplicates. */
export const DIRTY_SHARE = 0.001;
export const DUPLICATE_SHARE = 0.005;
/** A duplicate lands at least this many records after its original: a later page for limits <= 1000. */
export const DUPLICATE_MIN_DISTANCE = 1000;

export const SEC_US = 1_000_000;
export const MIN_US = 60 * SEC_US;
export const DAY_US = 86_400 * SEC_US;
export const DAY_MS = 86_400_000;
export const TIMEOUT_US = 30 * MIN_US;

// PRNG stream ids: every random decision reads from a stream named by what it decides.
export const S_PROFILE = 1;
export const S_DAY = 2;
export const S_CROSS = 3;
export const S_LISTING = 4;
export const S_USER_DIRT = 5;
export const S_MIDNIGHT = 8;
export const S_USER_UPDATES = 9;
/** Stream ids used by the server. */
export const S_FAULTS = 6;
export const S_CURSOR = 7;

export const SIGNUP_FROM_S = Date.UTC(2024, 0, 1) / 1000;
export const SIGNUP_TO_S = Date.UTC(2026, 8, 30) / 1000;
/** The users snapshot is "as of" this instant (fixed, so the data does not depend on the clock). */
export const SNAPSHOT_S = Date.UTC(2026, 10, 30) / 1000;

/** Applies defaults and checks ranges; UsageError names the bad option. */
export function resolveDataset(options: DatasetOptions = {}): Dataset {
  const seed = options.seed ?? 42;
  const eventsPerDay = options.eventsPerDay ?? 20_000;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`seed ${seed} is not an integer`);
  if (!Number.isSafeInteger(eventsPerDay) || eventsPerDay < 0 || eventsPerDay > 20_000_000) {
    throw new UsageError(`events per day ${eventsPerDay} is not an integer in 0..20000000`);
  }
  const users = options.users ?? Math.max(50, Math.round(eventsPerDay / 40));
  if (!Number.isSafeInteger(users) || users < 1 || users > 10_000_000) {
    throw new UsageError(`users ${users} is not an integer in 1..10000000`);
  }
  return { seed, eventsPerDay, users, anomalies: resolveAnomalies(options.anomalies ?? {}) };
}

function resolveAnomalies(byDay: Readonly<Record<string, DayAnomaly>>): ReadonlyMap<string, DayAnomaly> {
  const anomalies = new Map<string, DayAnomaly>();
  for (const [dt, anomaly] of Object.entries(byDay)) {
    const ms = /^\d{4}-\d{2}-\d{2}$/.test(dt) ? Date.parse(`${dt}T00:00:00Z`) : Number.NaN;
    if (Number.isNaN(ms) || formatDay(new Date(ms)) !== dt) {
      throw new UsageError(`anomaly day "${dt}" is not a YYYY-MM-DD date`);
    }
    if (!DAY_ANOMALIES.includes(anomaly)) {
      throw new UsageError(`unknown anomaly "${String(anomaly)}" for ${dt}`, { hint: `one of ${DAY_ANOMALIES.join(", ")}` });
    }
    anomalies.set(dt, anomaly);
  }
  return anomalies;
}

/** The cache key of a dataset's users and profiles (a day's listing adds the day and its anomaly). */
export function datasetKey(ds: Dataset): string {
  return `${ds.seed}|${ds.eventsPerDay}|${ds.users}`;
}

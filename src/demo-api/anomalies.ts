/**
 * Day anomalies: a day's events listing that misbehaves without any error, for volume and
 * aggregate checks to catch. Deterministic: the same day of the same dataset always looks the same.
 */
import type { Cols } from "./event-columns.ts";
import type { Listing } from "./listing.ts";
import { PURCHASE } from "./vocabulary.ts";

/**
 * `half_empty`: the listing silently stops after about half of the day's records (fewer records,
 * a normal last page). `zero_amounts`: every purchase of the day carries amount 0.
 */
export const DAY_ANOMALIES = ["half_empty", "zero_amounts"] as const;
export type DayAnomaly = (typeof DAY_ANOMALIES)[number];

/** Applies an anomaly to the generated events of a day, before they are written as records. */
export function anomalousEvents(cols: Cols, anomaly: DayAnomaly | undefined): void {
  if (anomaly !== "zero_amounts") return;
  for (let i = 0; i < cols.n; i++) if (cols.type[i] === PURCHASE) cols.cents[i] = 0;
}

/** Applies an anomaly to a day's finished listing; the listing itself when it has none to apply. */
export function anomalousListing(listing: Listing, anomaly: DayAnomaly | undefined): Listing {
  if (anomaly !== "half_empty") return listing;
  // The listing order is a shuffle of the day, so the first half is a random half of its records.
  const count = Math.floor(listing.count / 2);
  return {
    count,
    buf: listing.buf,
    offsets: listing.offsets.subarray(0, count + 1),
    keys: listing.keys === null ? null : listing.keys.subarray(0, count),
    bytes: listing.bytes,
  };
}

/**
 * How users change over time. Every user has a version history: created at signup, updated on
 * some days (each day with a small probability, at a second of that day), and the version the
 * fixed users snapshot has always shown (`updated_at` before SNAPSHOT_S). The snapshot "as of" an
 * instant shows each user's latest version at or before it, so `updated_at` only moves forward
 * as the instant does, and the snapshot as of SNAPSHOT_S is the one served before versions existed.
 */
import { hash32 } from "./prng.ts";
import { S_USER_UPDATES, SNAPSHOT_S, type Dataset } from "./dataset.ts";
import { planIndex, type Profiles } from "./profiles.ts";

/** Probability that a user is updated on a given day. */
const UPDATE_SHARE = 0.02;
const DAY_S = 86_400;

/** A user's version: when it was written and its plan (index into PLANS); the country never changes. */
export interface UserVersion {
  updatedS: number;
  plan: number;
}

/** The instant (epoch s) of user `u`'s update on day `day` (days since the epoch), or null. */
function updateOn(ds: Dataset, u: number, day: number): number | null {
  if (hash32(ds.seed, u, day, S_USER_UPDATES) / 2 ** 32 >= UPDATE_SHARE) return null;
  return day * DAY_S + 1 + (hash32(ds.seed, u, day, S_USER_UPDATES + 1) % (DAY_S - 1)); // never at midnight
}

/** The version written at `updatedS` by an update (its plan is drawn from the same weights as at signup). */
function versionAt(ds: Dataset, u: number, updatedS: number): UserVersion {
  return { updatedS, plan: planIndex(hash32(ds.seed, u, updatedS, S_USER_UPDATES + 2) / 2 ** 32) };
}

/** The latest update of `u` in (after, upTo], walking back day by day from upTo; null when none. */
function latestUpdate(ds: Dataset, u: number, after: number, upTo: number): number | null {
  for (let day = Math.floor(upTo / DAY_S); day >= Math.floor(after / DAY_S); day--) {
    const t = updateOn(ds, u, day);
    if (t !== null && t > after && t <= upTo) return t;
  }
  return null;
}

/** User `u`'s version as of `asOfS` (epoch s), or null when the user had not signed up yet. */
export function userVersion(ds: Dataset, prof: Profiles, u: number, asOfS: number): UserVersion | null {
  const signup = prof.signupS[u]!;
  const snapshot = prof.updatedS[u]!; // the version the fixed snapshot shows, written before SNAPSHOT_S
  if (asOfS < signup) return null;
  if (asOfS >= SNAPSHOT_S) {
    const t = latestUpdate(ds, u, SNAPSHOT_S, asOfS);
    return t === null ? { updatedS: snapshot, plan: prof.plan[u]! } : versionAt(ds, u, t);
  }
  if (asOfS >= snapshot) return { updatedS: snapshot, plan: prof.plan[u]! };
  const t = latestUpdate(ds, u, signup, Math.min(asOfS, snapshot - 1));
  return versionAt(ds, u, t ?? signup);
}

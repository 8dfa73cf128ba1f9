/** The users snapshot listing, as of an instant. */
import { rngFrom } from "./prng.ts";
import { DIRTY_SHARE, S_USER_DIRT, type Dataset } from "./dataset.ts";
import { buildListing, type Listing } from "./listing.ts";
import { profiles } from "./profiles.ts";
import { userVersion } from "./user-versions.ts";
import { COUNTRIES, DIRTY_USER_KINDS, PLANS } from "./vocabulary.ts";

const BAD_COUNTRIES = ["Germany", "United States", "de", "GBR"];
const BAD_PLANS = ["gold", "Pro", "premium"];

function isoSeconds(s: number): string {
  return `${new Date(s * 1000).toISOString().slice(0, 19)}Z`;
}

/** Which users are served dirty: user_id -> index in DIRTY_USER_KINDS (independent of the instant). */
function dirtyUsers(ds: Dataset): Map<number, number> {
  const rng = rngFrom(ds.seed, ds.users, S_USER_DIRT);
  const dirtyCount = Math.min(ds.users, Math.max(DIRTY_USER_KINDS.length, Math.round(ds.users * DIRTY_SHARE)));
  const dirty = new Map<number, number>();
  for (let j = 0; j < dirtyCount; ) {
    const u = 1 + Math.floor(rng() * ds.users);
    if (dirty.has(u)) continue;
    dirty.set(u, j % DIRTY_USER_KINDS.length);
    j++;
  }
  return dirty;
}

/**
 * Every user signed up by `asOfS` (epoch s) in user_id order, at their version as of then; the
 * listing's keys are the records' updated_at (epoch µs), for `updated_since`.
 */
export function generateUsers(ds: Dataset, asOfS: number): Listing {
  const prof = profiles(ds);
  const dirty = dirtyUsers(ds);
  const records: string[] = [];
  const updated: number[] = [];
  for (let u = 1; u <= ds.users; u++) {
    const version = userVersion(ds, prof, u, asOfS);
    if (version === null) continue;
    const user = (id: string, country: string, plan: string): void => {
      records.push(`{"user_id":${id},"country":"${country}","plan":"${plan}","signup_ts":"${isoSeconds(prof.signupS[u]!)}","updated_at":"${isoSeconds(version.updatedS)}"}`);
      updated.push(version.updatedS * 1_000_000);
    };
    const country = COUNTRIES[prof.country[u]!]![0];
    const plan = PLANS[version.plan]!;
    const kind = dirty.get(u);
    if (kind === 0) user(String(u), BAD_COUNTRIES[u % BAD_COUNTRIES.length]!, plan);
    else if (kind === 1) user(String(u), country, BAD_PLANS[u % BAD_PLANS.length]!);
    else user(String(u), country, plan);
    // A ghost record next to a real one: the real user stays in the snapshot.
    if (kind === 2) user("null", country, plan);
  }
  const listing = buildListing(records.length, (k) => records[k]!, records.length * 140);
  const keys = Float64Array.from(updated);
  return { ...listing, keys, bytes: listing.bytes + keys.byteLength };
}

/** Positions of the records updated at or after `sinceUs` (epoch µs), in listing order. */
export function updatedSince(l: Listing, sinceUs: number): number[] {
  const positions: number[] = [];
  for (let k = 0; k < l.count; k++) if (l.keys![k]! >= sinceUs) positions.push(k);
  return positions;
}

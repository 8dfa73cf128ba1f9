/** User profiles: stable per user, shared by the users snapshot and the event generator. */
import { rngFrom, gauss } from "./prng.ts";
import { datasetKey, S_PROFILE, SIGNUP_FROM_S, SIGNUP_TO_S, SNAPSHOT_S, type Dataset } from "./dataset.ts";
import { COUNTRIES, COUNTRY_WEIGHT_TOTAL, ODD_OFFSETS } from "./vocabulary.ts";

export interface Profiles {
  country: Uint8Array;
  plan: Uint8Array;
  signupS: Float64Array;
  updatedS: Float64Array;
  /** Relative activity (log-normal): a few power users, many light ones. */
  weight: Float64Array;
  offset: Uint8Array;
}

const LOGNORMAL_MEAN = Math.exp(0.8 * 0.8 / 2);

const profileCache = new Map<string, Profiles>();

/** The profiles of a dataset's users (index = user_id; generated once, kept for the last few datasets). */
export function profiles(ds: Dataset): Profiles {
  const key = datasetKey(ds);
  const hit = profileCache.get(key);
  if (hit) return hit;
  const n = ds.users + 1;
  const p: Profiles = {
    country: new Uint8Array(n), plan: new Uint8Array(n), signupS: new Float64Array(n),
    updatedS: new Float64Array(n), weight: new Float64Array(n), offset: new Uint8Array(n),
  };
  for (let u = 1; u <= ds.users; u++) {
    const rng = rngFrom(ds.seed, u, S_PROFILE);
    let pick = rng() * COUNTRY_WEIGHT_TOTAL;
    let c = 0;
    while (c < COUNTRIES.length - 1 && pick >= COUNTRIES[c]![1]) pick -= COUNTRIES[c++]![1];
    p.country[u] = c;
    const r = rng();
    p.plan[u] = planIndex(r);
    const signup = Math.floor(SIGNUP_FROM_S + rng() * (SIGNUP_TO_S - SIGNUP_FROM_S));
    p.signupS[u] = signup;
    p.updatedS[u] = Math.floor(signup + rng() * (SNAPSHOT_S - signup));
    p.weight[u] = Math.exp(0.8 * gauss(rng)) / LOGNORMAL_MEAN;
    const offs = COUNTRIES[c]![2];
    p.offset[u] = rng() < 0.02 ? ODD_OFFSETS[Math.floor(rng() * ODD_OFFSETS.length)]! : offs[Math.floor(rng() * offs.length)]!;
  }
  if (profileCache.size >= 4) profileCache.delete(profileCache.keys().next().value!);
  profileCache.set(key, p);
  return p;
}

/** The plan (index into PLANS) a uniform draw picks: most users are free, a few enterprise. */
export function planIndex(r: number): number {
  return r < 0.72 ? 0 : r < 0.95 ? 1 : 2;
}

/** Forgets the cached profiles. */
export function clearProfiles(): void {
  profileCache.clear();
}

/** The listing cache: generated listings kept in a small LRU shared by every server of the process. */
import { datasetKey, SNAPSHOT_S, type Dataset } from "./dataset.ts";
import { generateDay } from "./day-listing.ts";
import type { Listing } from "./listing.ts";
import { clearProfiles } from "./profiles.ts";
import { generateUsers } from "./users.ts";

/** Bytes of generated listings kept in memory across all servers of the process. */
const CACHE_MAX_BYTES = 640 * 1024 * 1024;
const CACHE_MAX_ENTRIES = 6;
const cache = new Map<string, Listing>();

function cached(key: string, make: () => Listing): Listing {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // re-insert: Map order is the LRU order
    cache.set(key, hit);
    return hit;
  }
  const listing = make();
  cache.set(key, listing);
  let bytes = 0;
  for (const l of cache.values()) bytes += l.bytes;
  for (const [k, l] of cache) {
    if (cache.size <= 1 || (bytes <= CACHE_MAX_BYTES && cache.size <= CACHE_MAX_ENTRIES)) break;
    if (k === key) continue;
    cache.delete(k);
    bytes -= l.bytes;
  }
  return listing;
}

/** The listing served for a UTC day (generated on first use, then cached). */
export function dayListing(ds: Dataset, dt: string): Listing {
  return cached(`events|${datasetKey(ds)}|${dt}|${ds.anomalies.get(dt) ?? ""}`, () => generateDay(ds, dt));
}

/** The users snapshot listing as of an instant (epoch s, default the fixed snapshot; generated on first use, then cached). */
export function usersListing(ds: Dataset, asOfS = SNAPSHOT_S): Listing {
  return cached(`users|${datasetKey(ds)}|${asOfS}`, () => generateUsers(ds, asOfS));
}

/** Forgets every cached listing (frees memory; the next request regenerates). */
export function clearDemoApiCache(): void {
  cache.clear();
  clearProfiles();
}

/** Bytes currently held by the listing cache. */
export function demoApiCacheBytes(): number {
  let bytes = 0;
  for (const l of cache.values()) bytes += l.bytes;
  return bytes;
}

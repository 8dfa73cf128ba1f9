/** The records the server serves, parsed: the truth that tests and benchmarks compare against. */
import { parseDay } from "../core/dates.ts";
import { UsageError } from "../core/errors.ts";
import { dayListing, usersListing } from "./cache.ts";
import { resolveDataset, type DatasetOptions } from "./dataset.ts";
import { parseListing, recordsAt } from "./listing.ts";
import { parseRfc3339Micros } from "./rfc3339.ts";
import { updatedSince } from "./users.ts";

/** Which users: the snapshot as of an instant (default: the fixed snapshot), only those updated since one. */
export interface UsersQuery {
  /** RFC 3339; what `as_of` asks the server. */
  asOf?: string;
  /** RFC 3339; what `updated_since` asks the server. */
  updatedSince?: string;
}

/**
 * Exactly the sequence of event records the server serves for the day across all pages in order
 * (duplicates included, dirty ones included, anomalies applied), independent of page size.
 */
export function dayEvents(options: DatasetOptions, dt: string): unknown[] {
  return parseListing(dayListing(resolveDataset(options), parseDay(dt)));
}

/** Every record of the users snapshot the query selects, in the order the users endpoint serves them. */
export function allUsers(options: DatasetOptions, query: UsersQuery = {}): unknown[] {
  const listing = usersListing(resolveDataset(options), query.asOf === undefined ? undefined : Math.floor(instant(query.asOf) / 1e6));
  if (query.updatedSince === undefined) return parseListing(listing);
  const positions = updatedSince(listing, instant(query.updatedSince));
  return positions.length === 0 ? [] : (JSON.parse(`[${recordsAt(listing, positions).toString("latin1")}]`) as unknown[]);
}

function instant(value: string): number {
  const us = parseRfc3339Micros(value);
  if (us === null) throw new UsageError(`"${value}" is not an RFC 3339 timestamp`);
  return us;
}

/**
 * GET /v1/users?offset&limit[&updated_since][&as_of]: the users snapshot, offset-paginated.
 * `updated_since` keeps the users with updated_at >= it; `as_of` (a demo extension) picks the
 * instant of the snapshot, defaulting to the server's users clock.
 */
import { Buffer } from "node:buffer";
import { usersListing } from "./cache.ts";
import type { Dataset } from "./dataset.ts";
import { recordsAt, recordsJoined } from "./listing.ts";
import { DEFAULT_LIMIT, intParam, optionalInstantParam, type Answer } from "./params.ts";
import { updatedSince } from "./users.ts";

const USERS_OPEN = Buffer.from(`{"users":[`);

/** How the users endpoint behaves. */
export interface UsersEndpointOptions {
  maxPageSize: number;
  /** A server that does not know `updated_since`: it serves the whole snapshot. */
  ignoreUpdatedSince: boolean;
  /** The instant (epoch s) the snapshot is as of when the request has no `as_of`. */
  asOfS: () => number;
}

/** Serves /v1/users pages of one dataset. */
export class UsersEndpoint {
  constructor(
    private readonly ds: Dataset,
    private readonly options: UsersEndpointOptions,
  ) {}

  /** The page the query asks for; ClientError when the query is wrong. */
  page(params: URLSearchParams): Answer {
    const offset = intParam(params, "offset", 0, 0);
    const limit = Math.min(intParam(params, "limit", DEFAULT_LIMIT, 1), this.options.maxPageSize);
    const since = this.options.ignoreUpdatedSince ? null : optionalInstantParam(params, "updated_since");
    const asOfUs = optionalInstantParam(params, "as_of");
    const l = usersListing(this.ds, asOfUs === null ? this.options.asOfS() : Math.floor(asOfUs / 1e6));
    const selected = since === null ? null : updatedSince(l, since);
    const total = selected === null ? l.count : selected.length;
    const from = Math.min(offset, total);
    const to = Math.min(from + limit, total);
    const records = selected === null ? recordsJoined(l, from, to) : recordsAt(l, selected.slice(from, to));
    const tail = Buffer.from(`],"total":${total}}`);
    return { status: 200, body: Buffer.concat([USERS_OPEN, records, tail]) };
  }
}

/**
 * GET /v1/events?start&end&limit[&cursor]: the events of a time window, cursor-paginated. A window
 * is read day listing by day listing; a whole day's page is one slice of its listing.
 */
import { Buffer } from "node:buffer";
import { formatDay } from "../core/dates.ts";
import { dayListing } from "./cache.ts";
import { DAY_MS, DAY_US, type Dataset } from "./dataset.ts";
import type { CursorState, Cursors } from "./cursors.ts";
import { recordsAt, recordsJoined, type Listing } from "./listing.ts";
import { ClientError, DEFAULT_LIMIT, instantParam, intParam, type Answer } from "./params.ts";

/** Longest window of one events request: a guard against accidental year-long requests. */
const MAX_WINDOW_DAYS = 31;
const DATA_OPEN = Buffer.from(`{"data":[`);
const COMMA = Buffer.from(",");

function badCursor(): ClientError {
  return new ClientError(400, "bad_cursor", "cursor is invalid or does not belong to this window");
}

/** The requested window [start, end) (epoch µs) over its day listings. */
class EventsWindow {
  readonly firstDay: number;
  /** Day listings the window touches. */
  readonly days: number;

  constructor(
    private readonly ds: Dataset,
    readonly start: number,
    readonly end: number,
  ) {
    this.firstDay = Math.floor(start / DAY_US);
    this.days = end === start ? 0 : Math.floor((end - 1) / DAY_US) - this.firstDay + 1;
  }

  listing(d: number): Listing {
    return dayListing(this.ds, formatDay(new Date((this.firstDay + d) * DAY_MS)));
  }

  /** Whether day `d` lies wholly inside the window. */
  covers(d: number): boolean {
    return this.start <= (this.firstDay + d) * DAY_US && (this.firstDay + d + 1) * DAY_US <= this.end;
  }

  inWindow(l: Listing, k: number): boolean {
    const key = l.keys![k]!;
    return key >= this.start && key < this.end;
  }
}

/** Serves /v1/events pages of one dataset. */
export class EventsEndpoint {
  constructor(
    private readonly ds: Dataset,
    private readonly cursors: Cursors,
    private readonly maxPageSize: number,
  ) {}

  /** The page the query asks for; ClientError when the query is wrong. */
  page(params: URLSearchParams): Answer {
    const start = instantParam(params, "start");
    const end = instantParam(params, "end");
    const limit = Math.min(intParam(params, "limit", DEFAULT_LIMIT, 1), this.maxPageSize);
    if (end < start) throw new ClientError(400, "bad_request", "end is before start");
    if (end - start > MAX_WINDOW_DAYS * DAY_US) throw new ClientError(400, "bad_request", `window longer than ${MAX_WINDOW_DAYS} days`);
    const w = new EventsWindow(this.ds, start, end);
    const cursorParam = params.get("cursor");
    const at = cursorParam === null || cursorParam === "" ? { day: 0, offset: 0 } : this.cursors.decode(start, end, cursorParam);
    if (at.day > w.days) throw badCursor();
    const parts = takePage(w, at, limit);
    skipOutside(w, at);
    const next = at.day < w.days ? JSON.stringify(this.cursors.encode(start, end, at)) : "null";
    parts.push(Buffer.from(`],"next_cursor":${next}}`));
    return { status: 200, body: Buffer.concat(parts) };
  }
}

/** Up to `limit` records of the window from `at` (which it advances), as body parts after `{"data":[`. */
function takePage(w: EventsWindow, at: CursorState, limit: number): Buffer[] {
  const parts: Buffer[] = [DATA_OPEN];
  let taken = 0;
  while (taken < limit && at.day < w.days) {
    const l = w.listing(at.day);
    if (at.offset > l.count) throw badCursor();
    if (w.covers(at.day)) {
      // A whole day (what jobs ask for): the page is one slice of the listing.
      const take = Math.min(limit - taken, l.count - at.offset);
      if (take > 0) {
        if (taken > 0) parts.push(COMMA);
        parts.push(recordsJoined(l, at.offset, at.offset + take));
        at.offset += take;
        taken += take;
      }
    } else {
      const positions: number[] = [];
      for (; at.offset < l.count && taken < limit; at.offset++) {
        if (!w.inWindow(l, at.offset)) continue;
        positions.push(at.offset);
        taken++;
      }
      if (positions.length > 0) {
        if (parts.length > 1) parts.push(COMMA);
        parts.push(recordsAt(l, positions));
      }
    }
    if (at.offset >= l.count) {
      at.day++;
      at.offset = 0;
    }
  }
  return parts;
}

/** Skips what is left outside the window, so the last page names no cursor. */
function skipOutside(w: EventsWindow, at: CursorState): void {
  while (at.day < w.days) {
    if (w.covers(at.day)) {
      if (at.offset < w.listing(at.day).count) break;
    } else {
      const l = w.listing(at.day);
      while (at.offset < l.count && !w.inWindow(l, at.offset)) at.offset++;
      if (at.offset < l.count) break;
    }
    at.day++;
    at.offset = 0;
  }
}

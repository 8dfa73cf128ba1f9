/**
 * Speculative next requests: for listings whose next position can be read off the raw response
 * (a byte scan for the cursor, the Link header), page N+1 goes on the wire while page N is parsed.
 * Only the page being waited for may speculate (one page ahead at most, so backpressure holds),
 * and the paginator's next() on the parsed page confirms the guess or the request is cancelled.
 */
import type { ListingFetcher } from "./listing-fetcher.ts";
import { samePosition, type PageView, type Paginator, type Position } from "./paginators/index.ts";

interface Ahead {
  pos: Position;
  pageNo: number;
  page: Promise<PageView | null>;
  cancel: AbortController;
}

export class Speculator {
  private awaiting = 0;
  private ahead: Ahead | null = null;

  constructor(
    private readonly fetcher: ListingFetcher,
    private readonly paginator: Paginator,
  ) {}

  /** Fetches page `no` at `at`; its raw body may start the request of the page after it. */
  fetch(at: Position, no: number, cancel?: AbortSignal): Promise<PageView | null> {
    const page = this.fetcher.fetchAt(at, no, {
      ...(cancel ? { signal: cancel } : {}),
      onBody: (body, res) => this.guess(no, this.paginator.speculate({ body, headers: res.headers, url: res.url })),
    });
    // it is issued ahead of being awaited, and never awaited if the run fails first
    page.catch(() => undefined);
    return page;
  }

  /** Waits for page `no` (only the awaited page speculates). */
  async await(page: Promise<PageView | null>, no: number): Promise<PageView | null> {
    this.awaiting = no;
    try {
      return await page;
    } finally {
      this.awaiting = 0;
    }
  }

  /** The speculative request for page `no` if it guessed `at`, else a fresh request. */
  adoptOrFetch(no: number, at: Position): Promise<PageView | null> {
    const ahead = this.ahead;
    if (ahead && ahead.pageNo === no && samePosition(ahead.pos, at)) {
      this.ahead = null;
      return ahead.page;
    }
    this.drop();
    return this.fetch(at, no);
  }

  /** Cancels any speculative request; returns null (no next page). */
  drop(): null {
    this.ahead?.cancel.abort(new Error("speculative request not needed"));
    this.ahead = null;
    return null;
  }

  private guess(no: number, guess: Position | undefined): boolean {
    if (this.awaiting !== no || !guess) return false;
    if (this.ahead && this.ahead.pageNo === no + 1 && samePosition(this.ahead.pos, guess)) return false;
    this.drop();
    const cancel = new AbortController();
    this.ahead = { pos: guess, pageNo: no + 1, page: this.fetch(guess, no + 1, cancel.signal), cancel };
    return true;
  }
}

/**
 * The producer side of an extraction: walks a listing page by page (or in parallel when its size
 * is known), lands each raw body before anything else happens to it, and queues it for decoding.
 * A rerun first queues what already landed, then continues where the landing state says.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PaginationError, SourceFormatError, type ErrorContext } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { FetchPageOptions, HttpClient } from "./http-client.ts";
import { showPath } from "./json-path.ts";
import type { Lander } from "./lander.ts";
import { pageFileName, recordsOf, type LandingState, type RecordsLocation } from "./landing.ts";
import type { BoundedQueue } from "./page-queue.ts";
import type { PageView, Paginator, ParallelPlan, Position } from "./paginators/index.ts";
import { Speculator } from "./speculator.ts";
import type { RequestPolicy } from "./types.ts";

/** A fetched or reused page waiting to be decoded. */
export interface QueuedPage {
  pageNo: number;
  records: readonly unknown[];
  bytes: number;
  /** Resolves once the raw body is landed (file and state); decoding waits for it. */
  landed: Promise<void>;
}

/** A landed page that cannot be read back: the landing is discarded and the partition refetched. */
export class CorruptLandingError extends Error {}

/** A listing past its declared page or record cap: a server that never stops. */
export class ListingTooLongError extends PaginationError {}

/** What the fetcher works with. */
export interface ListingParts {
  source: string;
  paginator: Paginator;
  client: HttpClient;
  lander: Lander;
  queue: BoundedQueue<QueuedPage>;
  /** The landing state found at the start (null: nothing landed). */
  prior: LandingState | null;
  landingDir: string;
  records: RecordsLocation;
  policy: RequestPolicy;
  signal: AbortSignal;
  log: Logger;
  context: ErrorContext;
}

export class ListingFetcher {
  /** True once landed pages were reused. */
  resumed = false;
  /** The parsed body of the listing's last page (by page number): where a server cursor is read. */
  lastJson: unknown = undefined;
  private lastPageNo = 0;
  private pages = 0;
  private recordCount = 0;

  constructor(private readonly p: ListingParts) {}

  /** Fetches (or reuses) every page of the listing into the queue, then closes it. */
  async run(): Promise<void> {
    const { prior } = this.p;
    try {
      await this.reuseLanded(prior?.landed ?? []);
      if (prior?.complete) return;
      if (prior?.plan) {
        await this.runParallel(prior.plan, new Set(prior.landed));
      } else {
        const start = prior && prior.landed.length > 0 ? prior.next : this.p.paginator.start();
        const pageNo = (prior?.landed.length ? Math.max(...prior.landed) : 0) + 1;
        if (start) await this.runSequential(start, pageNo);
      }
      await this.p.lander.complete();
    } finally {
      this.p.queue.close();
    }
  }

  /** Fetches one page; null when the source's rules say the response means "no records". */
  fetchAt(pos: Position, pageNo: number, call: FetchPageOptions = {}): Promise<PageView | null> {
    const req = this.p.paginator.request(pos);
    return this.p.client.send(req, this.parser(req.url), call).then((page) => {
      if (page.empty) return null;
      this.p.log.debug({ source: this.p.source, page: pageNo, records: page.value.records.length, bytes: page.body.length, attempts: page.attempts }, "page fetched");
      return { pageNo, json: page.value.json, records: page.value.records, headers: page.headers, url: page.url, body: page.body };
    });
  }

  /** Checks the caps on a listing's size (a server that never stops); throws PaginationError past them. */
  count(page: PageView): void {
    this.noteLast(page.pageNo, page.json);
    this.pages++;
    this.recordCount += page.records.length;
    const { maxPages, maxRecords } = this.p.policy;
    if (this.pages > maxPages || this.recordCount > maxRecords) {
      const over = this.pages > maxPages ? `${this.pages} pages, more than its cap of ${maxPages}` : `${this.recordCount} records, more than its cap of ${maxRecords}`;
      throw new ListingTooLongError(`the listing of ${this.p.source} reached ${over}; what it landed is removed`, {
        context: this.p.context,
        hint: "if the API really serves this much for one partition, raise the source's policy.maxPages / policy.maxRecords; otherwise its pagination never ends",
      });
    }
  }

  private noteLast(pageNo: number, json: unknown): void {
    if (pageNo < this.lastPageNo) return;
    this.lastPageNo = pageNo;
    this.lastJson = json;
  }

  private parser(url: string) {
    return (body: Buffer) => {
      const parsed = recordsOf(body, this.p.records);
      if (parsed) return parsed;
      const snippet = this.p.client.redactor.text(body.subarray(0, 120).toString("utf8").replace(/\s+/g, " ").trim());
      const what = this.p.records.single ? "an object" : "an array";
      throw new SourceFormatError(`${this.p.client.redact(url)} answered 2xx with a body that is not JSON with ${what} at ${showPath(this.p.records.path)}: ${snippet || "(empty body)"}`, {
        context: this.p.context,
      });
    };
  }

  /** Queues the landed pages for decoding, reading a few files ahead. */
  private async reuseLanded(pages: readonly number[]): Promise<void> {
    const READ_AHEAD = 4;
    const reads: Array<Promise<Buffer> | undefined> = [];
    for (let i = 0; i < pages.length; i++) {
      while (reads.length < i + READ_AHEAD && reads.length < pages.length) {
        const read = this.readLanded(pages[reads.length]!);
        read.catch(() => undefined);
        reads.push(read);
      }
      const pageNo = pages[i]!;
      const body = await reads[i]!;
      reads[i] = undefined; // do not keep every body alive
      const parsed = recordsOf(body, this.p.records);
      if (!parsed) throw new CorruptLandingError(`page ${pageNo} is not JSON with records at ${showPath(this.p.records.path)}`);
      this.resumed = true;
      this.noteLast(pageNo, parsed.json);
      this.pages++;
      this.recordCount += parsed.records.length;
      await this.p.queue.push({ pageNo, records: parsed.records, bytes: body.length, landed: Promise.resolve() });
    }
  }

  private async readLanded(pageNo: number): Promise<Buffer> {
    try {
      return await readFile(path.join(this.p.landingDir, pageFileName(pageNo)));
    } catch {
      throw new CorruptLandingError(`page ${pageNo} is missing`);
    }
  }

  /** Pages of a known-size listing, `concurrency` at a time. */
  private async runParallel(plan: ParallelPlan, already: ReadonlySet<number>): Promise<void> {
    const todo: number[] = [];
    for (let p = 1; p <= plan.pages; p++) if (!already.has(p)) todo.push(p);
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !this.p.signal.aborted) {
        const pageNo = todo[next++]!;
        const page = await this.fetchAt(this.p.paginator.positionOfPage(pageNo, plan), pageNo);
        if (!page) continue;
        this.p.paginator.guard(page);
        this.count(page);
        const landed = this.p.lander.land(pageNo, this.p.client.redactor.body(page.body), () => undefined);
        // waits while the queue is full: at most `concurrency` pages in flight plus the queue
        await this.p.queue.push({ pageNo, records: page.records, bytes: page.body.length, landed });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.p.policy.concurrency, todo.length) }, worker));
  }

  /** Page after page; the next request may go out (speculatively) while the current page is parsed. */
  private async runSequential(start: Position, firstPageNo: number): Promise<void> {
    const { paginator, policy } = this.p;
    paginator.visited(start);
    const speculator = new Speculator(this, paginator);
    let pos: Position | null = start;
    let pageNo = firstPageNo;
    try {
      let current: Promise<PageView | null> | null = speculator.fetch(pos, pageNo);
      while (pos && current) {
        const page = await speculator.await(current, pageNo);
        if (!page) return; // "no records": the listing ends here
        paginator.guard(page);
        this.count(page);
        const nextPos = paginator.next(pos, page);
        const plan = pageNo === 1 && policy.concurrency > 1 && nextPos !== null ? paginator.planParallel(page) : null;
        const next = nextPos && !plan ? speculator.adoptOrFetch(pageNo + 1, nextPos) : speculator.drop();
        const landed = this.p.lander.land(pageNo, this.p.client.redactor.body(page.body), (s) => {
          s.plan = plan;
          s.next = plan ? null : nextPos;
        });
        // waits while the queue is full (backpressure); at most the next page is in flight
        await this.p.queue.push({ pageNo, records: page.records, bytes: page.body.length, landed });
        if (plan) {
          await landed;
          return await this.runParallel(plan, new Set([1]));
        }
        pos = nextPos;
        pageNo++;
        current = next;
      }
    } finally {
      speculator.drop();
    }
  }
}

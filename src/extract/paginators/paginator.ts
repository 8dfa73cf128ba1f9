/**
 * What every paginator is: where the first page is, what request fetches a position, where the
 * next page is (or that the listing ended), and guards against an API that loops.
 */
import { createHash } from "node:crypto";
import { PaginationError } from "../../core/errors.ts";
import { describeKeys, readPath, showPath } from "../json-path.ts";
import type { JsonPath } from "../json-path.ts";

/** Where a page is in the listing; plain JSON, saved in the landing state so a rerun can continue. */
export type Position = Readonly<Record<string, string | number | null>>;

/** The HTTP request that fetches one page. */
export interface PageRequest {
  method: "GET" | "POST";
  url: string;
  /** JSON body (POST listings). */
  body?: Record<string, unknown>;
}

/** What a paginator sees of a fetched page. */
export interface PageView {
  pageNo: number;
  json: unknown;
  records: readonly unknown[];
  headers: Record<string, string | string[] | undefined>;
  /** Final URL of the response (after redirects): the base of relative next URLs. */
  url: string;
  body: Buffer;
}

/** The raw response a speculative guess may read before the body is parsed. */
export interface RawPage {
  body: Buffer;
  headers: PageView["headers"];
  url: string;
}

/** A listing whose size is known after its first page: pages 2..pages can be fetched in parallel. */
export interface ParallelPlan {
  pages: number;
  pageSize: number;
}

/** A paginator bound to one request (base URL, path, params, body). */
export interface Paginator {
  readonly kind: string;
  /** Position of the first page. */
  start(): Position;
  /** The request of the page at `pos`. */
  request(pos: Position): PageRequest;
  /** The URL of the page at `pos` (for logs). */
  urlFor(pos: Position): string;
  /** Position of the page after `page`, or null when the listing ends; throws PaginationError on a loop. */
  next(pos: Position, page: PageView): Position | null;
  /** After the first page: the whole listing's size when known and parallel pages make sense. */
  planParallel(first: PageView): ParallelPlan | null;
  /** Position of page `pageNo` (1-based) of a parallel plan. */
  positionOfPage(pageNo: number, plan: ParallelPlan): Position;
  /** Marks a position as already visited (resume), so a loop back to it is caught. */
  visited(pos: Position): void;
  /** Called on every fetched page (sequential or parallel): throws when the API serves the same page twice. */
  guard(page: PageView): void;
  /** A guess of the next position from the raw response (undefined: none); next() confirms it. */
  speculate(raw: RawPage): Position | undefined;
}

/** The request every page shares: base URL + path, query params, optional JSON body. */
export interface RequestTemplate {
  method: "GET" | "POST";
  /** Base URL joined with the source's path. */
  base: string;
  params: Record<string, string>;
  body?: Record<string, unknown>;
  /** Query parameters that carry a secret (query API keys): stripped from URLs kept in positions. */
  secretParams: readonly string[];
}

/** The request URL of `base` with query parameters set. */
export function buildUrl(base: string, params: Record<string, string | number>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  return u.href;
}

/** Joins a base URL (which may carry a path prefix) and a source path. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

/** True when two positions address the same page. */
export function samePosition(a: Position, b: Position): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Defaults for paginators that are sequential and guess nothing; subclasses override what they do. */
export abstract class BasePaginator implements Paginator {
  abstract readonly kind: string;

  constructor(protected readonly template: RequestTemplate) {}

  abstract start(): Position;
  abstract next(pos: Position, page: PageView): Position | null;

  request(pos: Position): PageRequest {
    const url = this.urlFor(pos);
    return this.template.body === undefined ? { method: this.template.method, url } : { method: this.template.method, url, body: this.template.body };
  }

  urlFor(_pos: Position): string {
    return buildUrl(this.template.base, this.template.params);
  }

  planParallel(_first: PageView): ParallelPlan | null {
    return null;
  }

  positionOfPage(_pageNo: number, _plan: ParallelPlan): Position {
    throw new Error(`${this.kind} pagination is sequential`);
  }

  visited(_pos: Position): void {}

  guard(_page: PageView): void {}

  speculate(_raw: RawPage): Position | undefined {
    return undefined;
  }

  /** A URL read from a response, without the query params that carry secrets (re-added when sent). */
  protected withoutSecrets(url: string): string {
    if (this.template.secretParams.length === 0) return url;
    const u = new URL(url);
    for (const p of this.template.secretParams) u.searchParams.delete(p);
    return u.href;
  }
}

/** A pagination loop: the API keeps returning the same listing. */
export function loopError(what: string, pageNo: number): PaginationError {
  return new PaginationError(`pagination loop: ${what} (after page ${pageNo}); the API keeps returning the same listing`, {
    hint: "check the source's pagination settings (paginator kind, param names) against the API",
  });
}

export function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

/** A non-negative integer at `path` (numbers or numeric strings), undefined otherwise. */
export function numberAt(json: unknown, path: JsonPath | undefined): number | undefined {
  if (path === undefined) return undefined;
  const v = readPath(json, path).value;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
}

/** True when a declared has_more-style flag says the listing is over (false, "false", 0). */
export function saysNoMore(json: unknown, path: JsonPath | undefined): boolean {
  if (path === undefined) return false;
  const v = readPath(json, path).value;
  return v === false || v === "false" || v === 0;
}

/** True when a declared end-of-stream flag says the listing is over (true, "true"). */
export function saysEnd(json: unknown, path: JsonPath | undefined): boolean {
  if (path === undefined) return false;
  const v = readPath(json, path).value;
  return v === true || v === "true";
}

/**
 * Reads a next pointer (cursor, token, URL). null, "" or undefined end the listing. An ABSENT path
 * ends it only if the path was seen on an earlier page (APIs drop the key on the last page) or the
 * page is not full; a full page without the path is a mistyped path, never a silent stop.
 */
export class NextPointer {
  private seenPresent = false;

  constructor(
    private readonly path: JsonPath,
    private readonly what: string,
    private readonly pageSize: number | undefined,
  ) {}

  read(page: PageView): string | null {
    const { present, value } = readPath(page.json, this.path);
    if (!present) {
      const full = this.pageSize !== undefined && page.records.length >= this.pageSize;
      if (full && !this.seenPresent) {
        throw new PaginationError(
          `the ${this.what} at ${showPath(this.path)} is absent from page ${page.pageNo}, which is full (${page.records.length} records); the body has the keys ${describeKeys(page.json)}`,
          {
            hint: "declare the path as the API sends it: dotted (\"links.next\"), a list of keys for keys with dots ([\"@odata.nextLink\"]) or a JSON Pointer (\"/links/next\"); if the API leaves it out of its last page, declare absentAtEnd: true",
          },
        );
      }
      return null;
    }
    this.seenPresent = true;
    if (value === null || value === undefined || value === "") return null;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new PaginationError(`the ${this.what} at ${showPath(this.path)} is ${Array.isArray(value) ? "an array" : `a ${typeof value}`}, expected a string (page ${page.pageNo})`);
    }
    return String(value);
  }
}

/** The page size a template asks for, from the usual parameter names; undefined when unknown. */
export function requestedPageSize(template: RequestTemplate): number | undefined {
  for (const name of ["limit", "per_page", "page_size", "pageSize", "$top", "count", "size"]) {
    const raw = template.params[name] ?? (template.body?.[name] as string | number | undefined);
    const n = Number(raw);
    if (raw !== undefined && Number.isInteger(n) && n > 0) return n;
  }
  return undefined;
}

/**
 * Offset and page-number APIs that ignore the position serve the same page forever (or, with a
 * known total, N copies of it): a non-empty body seen twice is a loop.
 */
export class SameBodyGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly what: string) {}

  check(page: PageView): void {
    if (page.records.length === 0) return;
    const digest = createHash("sha1").update(page.body).digest("base64");
    const first = this.seen.get(digest);
    if (first !== undefined && first !== page.pageNo) throw loopError(`${this.what} pages ${first} and ${page.pageNo} have identical bodies`, page.pageNo);
    this.seen.set(digest, page.pageNo);
  }
}

/** Values handed out once: a second sighting is a loop. */
export class SeenSet {
  private readonly seen = new Set<string>();

  has(v: string): boolean {
    return this.seen.has(v);
  }

  add(v: string): void {
    this.seen.add(v);
  }

  /** Records `v`, throwing a loop error when it was handed out before. */
  claim(v: string, what: string, pageNo: number): void {
    if (this.seen.has(v)) throw loopError(`${what} "${shorten(v)}" was returned twice`, pageNo);
    this.seen.add(v);
  }
}

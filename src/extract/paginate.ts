/**
 * Paginators: where the next page is (cursor, offset/limit, page number, RFC 8288 Link header),
 * when the listing ends, and guards against an API that loops.
 */
import { createHash } from "node:crypto";
import { SourceFormatError } from "../core/errors.ts";
import type { PaginatorSpec } from "./types.ts";

/** One link of a Link header. */
export interface LinkValue {
  /** Target URL, resolved against the base URL when one is given. */
  url: string;
  /** Relation types, lowercased (`rel="next last"` gives ["next", "last"]). */
  rel: string[];
  /** All parameters, names lowercased, first occurrence wins; quoted values unescaped. */
  params: Record<string, string>;
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

/**
 * Parses RFC 8288 Link header(s): several links per header, quoted parameters (commas and
 * semicolons inside quotes are data), relation lists; relative targets resolved against `baseUrl`.
 * Malformed entries are skipped, never thrown.
 */
export function parseLinkHeader(header: string | readonly string[] | undefined | null, baseUrl?: string): LinkValue[] {
  if (header === undefined || header === null) return [];
  const s = Array.isArray(header) ? header.join(", ") : (header as string);
  const out: LinkValue[] = [];
  const n = s.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && isSpace(s[i])) i++;
  };
  // skips to just after the next top-level comma (quotes respected)
  const skipEntry = () => {
    let quoted = false;
    for (; i < n; i++) {
      const c = s[i];
      if (quoted) {
        if (c === "\\") i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === ",") {
        i++;
        return;
      }
    }
  };
  while (i < n) {
    while (i < n && (isSpace(s[i]) || s[i] === ",")) i++;
    if (i >= n) break;
    if (s[i] !== "<") {
      skipEntry();
      continue;
    }
    const close = s.indexOf(">", i);
    if (close < 0) break;
    const target = s.slice(i + 1, close).trim();
    i = close + 1;
    const params: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (s[i] !== ";") break;
      i++;
      skipSpace();
      const nameStart = i;
      while (i < n && !isSpace(s[i]) && s[i] !== "=" && s[i] !== ";" && s[i] !== ",") i++;
      const name = s.slice(nameStart, i).toLowerCase();
      skipSpace();
      let value = "";
      if (s[i] === "=") {
        i++;
        skipSpace();
        if (s[i] === '"') {
          i++;
          let v = "";
          while (i < n && s[i] !== '"') {
            if (s[i] === "\\" && i + 1 < n) i++;
            v += s[i];
            i++;
          }
          i++; // closing quote
          value = v;
        } else {
          const start = i;
          while (i < n && !isSpace(s[i]) && s[i] !== ";" && s[i] !== ",") i++;
          value = s.slice(start, i);
        }
      }
      if (name && !(name in params)) params[name] = value;
    }
    skipSpace();
    if (i < n && s[i] !== ",") skipEntry();
    let url = target;
    if (baseUrl !== undefined) {
      try {
        url = new URL(target, baseUrl).href;
      } catch {
        continue;
      }
    }
    const rel = (params["rel"] ?? "").toLowerCase().split(/\s+/).filter(Boolean);
    out.push({ url, rel, params });
  }
  return out;
}

/** The value at a dotted path ("data", "meta.next_cursor"); "" or "." is the value itself. */
export function getPath(value: unknown, path: string): unknown {
  if (path === "" || path === ".") return value;
  let v: unknown = value;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Where a page is in the listing; saved in the landing state so a rerun can continue. */
export type Position =
  | { kind: "cursor"; cursor: string | null }
  | { kind: "offset"; offset: number; limit?: number }
  | { kind: "page"; page: number }
  | { kind: "link"; url: string | null };

/** What a paginator sees of a fetched page. */
export interface PageView {
  pageNo: number;
  json: unknown;
  records: readonly unknown[];
  headers: Record<string, string | string[] | undefined>;
  /** Final URL of the response (after redirects): the base of relative Link targets. */
  url: string;
  body: Buffer;
}

/** A listing whose size is known after its first page: pages 2..pages can be fetched in parallel. */
export interface ParallelPlan {
  pages: number;
  pageSize: number;
}

/** A paginator bound to one request (base URL, path, params). */
export interface Paginator {
  readonly kind: PaginatorSpec["kind"];
  /** Position of the first page. */
  start(): Position;
  /** The URL of the page at `pos`. */
  urlFor(pos: Position): string;
  /** Position of the page after `page`, or null when the listing ends; throws on a pagination loop. */
  next(pos: Position, page: PageView): Position | null;
  /** After the first page: the whole listing's size when known and parallel pages make sense. */
  planParallel(first: PageView): ParallelPlan | null;
  /** Position of page `pageNo` (1-based) of a parallel plan. */
  positionOfPage(pageNo: number, plan: ParallelPlan): Position;
  /** Marks a position as already visited (resume), so a loop back to it is caught. */
  visited(pos: Position): void;
  /** Called on every fetched page (sequential or parallel): throws when the API serves the same page twice. */
  guard(page: PageView): void;
  /**
   * A guess of the next position from the raw response, before the body is parsed (undefined: no
   * guess). Lets the next request go out while this page is parsed; next() confirms it.
   */
  speculate(raw: { body: Buffer; headers: PageView["headers"]; url: string }): Position | undefined;
}

/** True when two positions address the same page. */
export function samePosition(a: Position, b: Position): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "cursor":
      return a.cursor === (b as typeof a).cursor;
    case "offset":
      return a.offset === (b as typeof a).offset && a.limit === (b as typeof a).limit;
    case "page":
      return a.page === (b as typeof a).page;
    case "link":
      return a.url === (b as typeof a).url;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * The value of the last `"key": <string|number|null>` in raw JSON bytes, without parsing the
 * document; undefined when there is none or it is something else. A heuristic (the key may also
 * occur inside records): callers must confirm against the parsed body.
 */
export function scanLastKeyValue(body: Buffer, key: string): string | null | undefined {
  const needle = Buffer.from(JSON.stringify(key));
  let at = body.length;
  for (let tries = 0; tries < 4; tries++) {
    const idx = body.lastIndexOf(needle, at - 1);
    if (idx < 0) return undefined;
    at = idx;
    let i = idx + needle.length;
    while (isJsonSpace(body[i])) i++;
    if (body[i] !== 0x3a) continue; // ':' - it was a value, not a key
    i++;
    while (isJsonSpace(body[i])) i++;
    const c = body[i];
    if (c === QUOTE) {
      let j = i + 1;
      while (j < body.length && body[j] !== QUOTE) j += body[j] === BACKSLASH ? 2 : 1;
      if (j >= body.length) return undefined;
      try {
        return JSON.parse(body.toString("utf8", i, j + 1)) as string;
      } catch {
        return undefined;
      }
    }
    if (c === 0x6e && body.toString("latin1", i, i + 4) === "null") return null;
    let j = i;
    while (j < body.length && ((body[j]! >= 0x30 && body[j]! <= 0x39) || body[j] === 0x2d)) j++;
    return j > i ? body.toString("latin1", i, j) : undefined;
  }
  return undefined;
}

/** The request URL of `base` (base URL + path) with query parameters set. */
export function buildUrl(base: string, params: Record<string, string | number>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  return u.href;
}

/** Joins a base URL (which may carry a path prefix) and a source path. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

function loopError(what: string, pageNo: number): SourceFormatError {
  return new SourceFormatError(`pagination loop: ${what} (after page ${pageNo}); the API keeps returning the same listing`, {
    retryable: false,
    hint: "check the source's pagination settings (paginator kind, param names) against the API",
  });
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

function numberAt(json: unknown, path: string | undefined): number | undefined {
  if (path === undefined) return undefined;
  const v = getPath(json, path);
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
}

/** The paginator of a spec, bound to the request `base` (base URL + path) and its params. */
export function createPaginator(spec: PaginatorSpec, base: string, params: Record<string, string | number>): Paginator {
  const firstUrl = buildUrl(base, params);
  switch (spec.kind) {
    case "cursor": {
      const seen = new Set<string>();
      return {
        kind: "cursor",
        start: () => ({ kind: "cursor", cursor: null }),
        urlFor: (pos) => (pos.kind === "cursor" && pos.cursor !== null ? buildUrl(base, { ...params, [spec.param]: pos.cursor }) : firstUrl),
        next(pos, page) {
          const v = getPath(page.json, spec.nextPath);
          if (v === null || v === undefined || v === "") return null;
          if (typeof v !== "string" && typeof v !== "number") {
            throw new SourceFormatError(`next cursor at "${spec.nextPath}" is ${Array.isArray(v) ? "an array" : `a ${typeof v}`}, expected a string (page ${page.pageNo})`, { retryable: false });
          }
          const cursor = String(v);
          if (seen.has(cursor) || (pos.kind === "cursor" && pos.cursor === cursor)) loopErrorThrow(`cursor "${shorten(cursor)}" was returned twice`, page.pageNo);
          seen.add(cursor);
          return { kind: "cursor", cursor };
        },
        planParallel: () => null,
        speculate(raw) {
          const v = scanLastKeyValue(raw.body, spec.nextPath.split(".").pop()!);
          return typeof v === "string" && v !== "" && !seen.has(v) ? { kind: "cursor", cursor: v } : undefined;
        },
        positionOfPage: () => {
          throw new Error("cursor pagination is sequential");
        },
        visited(pos) {
          if (pos.kind === "cursor" && pos.cursor !== null) seen.add(pos.cursor);
        },
        guard: () => undefined,
      };
    }
    case "offset": {
      const guard = sameBodyGuard("offset");
      return {
        kind: "offset",
        start: () => ({ kind: "offset", offset: 0 }),
        urlFor: (pos) => {
          const p = pos.kind === "offset" ? pos : { offset: 0, limit: undefined };
          return buildUrl(base, { ...params, [spec.offsetParam]: p.offset, [spec.limitParam]: p.limit ?? spec.limit });
        },
        next(pos, page) {
          const n = page.records.length;
          if (n === 0 || pos.kind !== "offset") return null;
          const nextOffset = pos.offset + n; // not + limit: a server may cap the page size
          const total = numberAt(page.json, spec.totalPath);
          if (total !== undefined) return nextOffset >= total ? null : { kind: "offset", offset: nextOffset, ...(pos.limit === undefined ? {} : { limit: pos.limit }) };
          if (n < (pos.limit ?? spec.limit)) return null;
          return { kind: "offset", offset: nextOffset, ...(pos.limit === undefined ? {} : { limit: pos.limit }) };
        },
        planParallel(first) {
          const total = numberAt(first.json, spec.totalPath);
          if (total === undefined) return null;
          const n = first.records.length;
          if (n === 0 || n >= total) return { pages: 1, pageSize: Math.max(1, n) };
          // a first page shorter than asked while more exist: the server caps the page size
          const pageSize = n < spec.limit ? n : spec.limit;
          return { pages: Math.ceil(total / pageSize), pageSize };
        },
        positionOfPage: (pageNo, plan) => ({ kind: "offset", offset: (pageNo - 1) * plan.pageSize, limit: plan.pageSize }),
        visited: () => undefined,
        guard,
        speculate: () => undefined,
      };
    }
    case "page": {
      const guard = sameBodyGuard("page number");
      const sized = (page: number) => ({ ...params, [spec.pageParam]: page, ...(spec.sizeParam !== undefined && spec.size !== undefined ? { [spec.sizeParam]: spec.size } : {}) });
      return {
        kind: "page",
        start: () => ({ kind: "page", page: spec.firstPage }),
        urlFor: (pos) => buildUrl(base, sized(pos.kind === "page" ? pos.page : spec.firstPage)),
        next(pos, page) {
          if (page.records.length === 0 || pos.kind !== "page") return null;
          const totalPages = numberAt(page.json, spec.totalPagesPath);
          if (totalPages !== undefined && pos.page - spec.firstPage + 1 >= totalPages) return null;
          return { kind: "page", page: pos.page + 1 };
        },
        planParallel(first) {
          const totalPages = numberAt(first.json, spec.totalPagesPath);
          if (totalPages === undefined) return null;
          return { pages: Math.max(1, first.records.length === 0 ? 1 : totalPages), pageSize: spec.size ?? first.records.length };
        },
        positionOfPage: (pageNo) => ({ kind: "page", page: spec.firstPage + pageNo - 1 }),
        visited: () => undefined,
        guard,
        speculate: () => undefined,
      };
    }
    case "link": {
      const seen = new Set<string>([firstUrl]);
      return {
        kind: "link",
        start: () => ({ kind: "link", url: null }),
        urlFor: (pos) => (pos.kind === "link" && pos.url !== null ? pos.url : firstUrl),
        next(_pos, page) {
          const link = parseLinkHeader(page.headers["link"], page.url).find((l) => l.rel.includes("next"));
          if (!link) return null;
          if (seen.has(link.url)) loopErrorThrow(`next link ${shorten(link.url)} was returned twice`, page.pageNo);
          seen.add(link.url);
          return { kind: "link", url: link.url };
        },
        planParallel: () => null,
        speculate(raw) {
          // the next link is in the headers: known before the body is parsed
          const link = parseLinkHeader(raw.headers["link"], raw.url).find((l) => l.rel.includes("next"));
          return link && !seen.has(link.url) ? { kind: "link", url: link.url } : undefined;
        },
        positionOfPage: () => {
          throw new Error("link pagination is sequential");
        },
        visited(pos) {
          if (pos.kind === "link" && pos.url !== null) seen.add(pos.url);
        },
        guard: () => undefined,
      };
    }
  }
}

/**
 * Offset and page-number APIs that ignore the position serve the same page forever (or, with a
 * known total, N copies of it): a non-empty body seen twice is a loop.
 */
function sameBodyGuard(what: string): (page: PageView) => void {
  const seen = new Map<string, number>();
  return (page) => {
    if (page.records.length === 0) return;
    const digest = createHash("sha1").update(page.body).digest("base64");
    const first = seen.get(digest);
    if (first !== undefined && first !== page.pageNo) loopErrorThrow(`${what} pages ${first} and ${page.pageNo} have identical bodies`, page.pageNo);
    seen.set(digest, page.pageNo);
  };
}

function loopErrorThrow(what: string, pageNo: number): never {
  throw loopError(what, pageNo);
}

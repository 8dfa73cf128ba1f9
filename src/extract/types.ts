/** The declared shape of a source: what a job says about an HTTP API, with no code of its own. */
import type { z } from "zod";
import type { PartitionWindow } from "../core/dates.ts";

/** Cursor pagination: the next token is at `nextPath` in the body, sent back as query param `param`. */
export interface CursorPaginator {
  kind: "cursor";
  /** Dotted JSON path of the next cursor in the response body; null/absent/"" ends the listing. */
  nextPath: string;
  param: string;
}

/** Offset/limit pagination: stops on `offset >= total`, an empty page or a short page. */
export interface OffsetPaginator {
  kind: "offset";
  offsetParam: string;
  limitParam: string;
  limit: number;
  /** Dotted JSON path of the total count, when the API reports it. */
  totalPath?: string;
}

/** Page-number pagination: stops after the total number of pages or on an empty page. */
export interface PageNumberPaginator {
  kind: "page";
  pageParam: string;
  /** First page number, usually 1. */
  firstPage: number;
  sizeParam?: string;
  size?: number;
  /** Dotted JSON path of the total number of pages, when the API reports it. */
  totalPagesPath?: string;
}

/** RFC 8288 Link header pagination: follow rel="next" until there is none. */
export interface LinkHeaderPaginator {
  kind: "link";
}

export type PaginatorSpec = CursorPaginator | OffsetPaginator | PageNumberPaginator | LinkHeaderPaginator;

/** Where a secret comes from and how it is sent. The secret itself is never stored in a spec. */
export type AuthSpec =
  | { kind: "bearer"; env: string }
  | { kind: "header"; header: string; env: string };

export interface RetryPolicy {
  /** Total attempts per request, including the first. */
  maxAttempts: number;
  /** Base delay of the exponential backoff (full jitter: uniform in [0, min(cap, base * 2^n)]). */
  baseDelayMs: number;
  /** Cap of any single delay, Retry-After included. */
  maxDelayMs: number;
}

export interface RequestPolicy {
  /** Timeout of one request, headers and body together. */
  timeoutMs: number;
  /** Deadline for extracting the whole partition. */
  partitionDeadlineMs: number;
  retry: RetryPolicy;
  /** Client-side rate limit: a token bucket of `burst` tokens refilled at `rps` per second. */
  rateLimit?: { rps: number; burst: number };
  /** Pages in flight at once, for paginators that allow parallel pages (offset, page number). */
  concurrency: number;
}

/** A source declared by a job: an HTTP API endpoint bound to a partition's time window. */
export interface SourceSpec<Schema extends z.ZodObject = z.ZodObject> {
  /** Short name used in logs, metrics and the landing directory. */
  name: string;
  /** Path below the base URL, e.g. /v1/events. */
  path: string;
  /** Query parameters for a partition (pagination params are added by the paginator). */
  params: (window: PartitionWindow) => Record<string, string | number>;
  /** Dotted JSON path of the records array in a response body, e.g. "data". */
  recordsPath: string;
  paginator: PaginatorSpec;
  /** The record schema. Column names and Arrow types are derived from it (see extract/arrow.ts). */
  schema: Schema;
  auth?: AuthSpec;
  /** Overrides of the default request policy. */
  policy?: Partial<Omit<RequestPolicy, "retry">> & { retry?: Partial<RetryPolicy> };
}

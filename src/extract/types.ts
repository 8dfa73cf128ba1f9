/** The declared shape of a source: what a job says about an HTTP API, with no code of its own. */
import type { z } from "zod";
import type { PartitionWindow } from "../core/dates.ts";

export type { JsonPath } from "./json-path.ts";
import type { JsonPath } from "./json-path.ts";
import type { PaginatorSpec } from "./paginators/index.ts";
export type { PaginatorSpec };

/** A value read from the environment at run time (a secret, a URL); never stored in a spec. */
export interface EnvRef {
  env: string;
}

/** A URL with an optional environment override: `{ default: "https://api.stripe.com", env: "STRIPE_API_URL" }`. */
export interface EndpointSpec {
  /** Used when the environment variable is unset. Omit to make the variable required. */
  default?: string;
  env?: string;
  /** The built-in demo API, started in-process when no override is set. */
  demo?: true;
}

/** Offset/limit pagination: stops on `offset >= total`, a has_more flag, an empty page or a short page. */
/**
 * How a source authenticates. Secrets come from the environment at run time and go only to their
 * own origin. An unset variable fails before the first request, unless the auth is `optional`.
 */
export type AuthSpec =
  | { kind: "bearer"; env: string; optional?: boolean }
  | { kind: "header"; header: string; env: string; optional?: boolean }
  | { kind: "query"; param: string; env: string }
  | { kind: "basic"; username: EnvRef & { suffix?: string }; password?: EnvRef }
  | {
      kind: "oauth2_client_credentials";
      tokenUrl: EndpointSpec;
      clientId: EnvRef;
      clientSecret: EnvRef;
      scope?: string;
      /** Refresh this long before the token expires; default 30 s (or a tenth of its lifetime if shorter). */
      refreshMarginMs?: number;
    };

/** Rate-limit headers that say when to come back. */
export interface RateLimitHeaders {
  /** Remaining requests in the window, e.g. "x-ratelimit-remaining" or "ratelimit-remaining". */
  remaining?: string;
  /** When the window resets, e.g. "x-ratelimit-reset". */
  reset?: string;
  /** "epoch": unix seconds (GitHub); "seconds": seconds from now (IETF RateLimit). */
  resetKind?: "epoch" | "seconds";
}

/** What statuses and headers mean for this source, on top of the defaults. */
export interface ResponseRules {
  /** Statuses that mean "no records": an empty page that ends the listing (404 on a child, 204). */
  empty?: number[];
  /** Extra statuses worth retrying (the defaults are 408, 429, 500, 502-504, 520-524). */
  retry?: number[];
  /** Statuses retried only when the remaining-requests header says 0 (GitHub's 403). */
  rateLimitStatuses?: number[];
  rateLimitHeaders?: RateLimitHeaders;
  /** Longest wait the server may ask for (Retry-After, reset header) before the partition fails; default 15 min. */
  maxWaitMs?: number;
  /** Spread the remaining requests until the reset once fewer than this many remain (adaptive slowdown); default 0: off. */
  slowDownBelow?: number;
}

export interface RetryPolicy {
  /** Total attempts per request, including the first (rate-limit waits do not count). */
  maxAttempts: number;
  /** Base delay of the exponential backoff (full jitter: uniform in [0, min(cap, base * 2^n)]). */
  baseDelayMs: number;
  /** Cap of one backoff delay (waits the server asks for are capped by responses.maxWaitMs instead). */
  maxDelayMs: number;
  /** Rate-limit waits one request may make before it fails. */
  maxRateLimitWaits: number;
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
  /** A listing longer than this fails (a server that returns new cursors forever). */
  maxPages: number;
  /** A listing with more records than this fails. */
  maxRecords: number;
}

/**
 * An incremental source: its high-water mark is stored in sluice.state and advances in the same
 * transaction as the load that used it, so a run killed anywhere pulls again from the old mark.
 */
export interface IncrementalSpec {
  /** A record field whose highest value is the mark (e.g. "updated_at", "lastmodifieddate"). */
  field?: JsonPath;
  /** Or a server cursor in the last page's body to continue from next time (Zendesk's "after_cursor"). */
  cursorPath?: JsonPath;
  /** The mark before the first run (e.g. "2024-01-01T00:00:00Z"); default none: the first run pulls everything. */
  initial?: string;
  /** How far before the mark to ask from, for late or equal-time updates: ms for timestamp fields, units for numbers. */
  lookback?: number;
}

/** The fields of the parent record a child listing belongs to (empty for a top-level source). */
export type ParentRecord = Readonly<Record<string, unknown>>;

/**
 * A source whose requests come from another source's records: `{name}` placeholders in its path
 * are filled from the parent's columns (one listing per distinct combination), chosen parent
 * columns are copied into its rows, and its listings land and resume one by one.
 */
export interface ChildOf {
  /** Child column name -> parent column copied into every child row, e.g. { repo: "full_name" }. */
  copy?: Record<string, string>;
  /** Listings fetched at once (under the source's rate limit); default the source's policy.concurrency. */
  concurrency?: number;
  /** Incremental children: one mark per parent ("parent"), or one for the whole source ("source", default). */
  marks?: "parent" | "source";
}

/** Where an incremental source continues (both undefined: from the start; the source decides what to ask). */
export interface IncrementalFrom {
  /** Field marks: the mark minus the lookback (ISO 8601 for timestamp fields). */
  since: string | undefined;
  /** Server cursors: the cursor the last run ended at. */
  cursor: string | undefined;
}

/** A source declared by a job: an HTTP API endpoint bound to a partition's time window. */
export interface SourceSpec<Schema extends z.ZodObject = z.ZodObject> {
  /** Short name used in logs, metrics and the landing directory. */
  name: string;
  /** The API's base URL; default: the demo API with SLUICE_API_URL as override. */
  baseUrl?: EndpointSpec;
  /** Path below the base URL, e.g. /v1/events. */
  path: string;
  /** GET (default) or POST for listings that take a JSON body (search endpoints). */
  method?: "GET" | "POST";
  /**
   * Query parameters for a partition (pagination params are added by the paginator); `from` is where
   * an incremental source continues; `parent` the parent record of a child listing.
   */
  params?: (window: PartitionWindow, from: IncrementalFrom, parent: ParentRecord) => Record<string, string | number | boolean>;
  /** JSON request body for a partition (POST listings). */
  body?: (window: PartitionWindow, from: IncrementalFrom, parent: ParentRecord) => Record<string, unknown>;
  /** Extra request headers, e.g. { "Stripe-Version": "2024-06-20" }. Not for secrets: use auth. */
  headers?: Record<string, string>;
  /** Path of the records array in a response body, e.g. "data"; "" for a body that is the array. */
  records: JsonPath;
  /** The value at `records` is one record object, not an array of them. */
  single?: boolean;
  paginator: PaginatorSpec;
  /** The record schema. Column names and Arrow types are derived from it (see extract/record-columns.ts). */
  schema: Schema;
  auth?: AuthSpec;
  responses?: ResponseRules;
  /** Pull only what changed since the last successful run (see IncrementalSpec). */
  incremental?: IncrementalSpec;
  /** A child source: one listing per record of a parent source (see ChildOf). */
  parent?: ChildOf;
  /**
   * Fields the schema does not declare: "keep" (default) stores them as JSON in each row's `_extra`
   * column; "warn" drops them and reports the drift; "block" fails the partition naming them.
   */
  unknownFields?: "keep" | "warn" | "block";
  /** Overrides of the default request policy. */
  policy?: Partial<Omit<RequestPolicy, "retry">> & { retry?: Partial<RetryPolicy> };
}

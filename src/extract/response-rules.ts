/**
 * What a response's status and headers mean for a source: records, "no records", try again (and
 * when), or fail. Defaults cover what APIs commonly do; sources declare the rest (responses: ...).
 */
import { parseRemaining, parseResetHeader, parseRetryAfter } from "./retry.ts";
import type { ResponseRules } from "./types.ts";

/** Retried by default: timeouts, throttling, server errors, and Cloudflare's origin errors. */
export const DEFAULT_RETRY_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524];
/** Longest wait a server may ask for before the partition fails, by default. */
export const DEFAULT_MAX_WAIT_MS = 15 * 60_000;

/** A source's response rules with defaults applied. */
export interface ResolvedResponseRules {
  empty: ReadonlySet<number>;
  retry: ReadonlySet<number>;
  rateLimitStatuses: ReadonlySet<number>;
  remainingHeaders: readonly string[];
  resetHeaders: readonly string[];
  resetKind: "epoch" | "seconds" | undefined;
  maxWaitMs: number;
  slowDownBelow: number;
}

/** Applies the defaults to a source's declared rules. */
export function resolveResponseRules(rules: ResponseRules = {}): ResolvedResponseRules {
  const declared = rules.rateLimitHeaders ?? {};
  return {
    empty: new Set(rules.empty ?? []),
    retry: new Set([...DEFAULT_RETRY_STATUSES, ...(rules.retry ?? [])]),
    rateLimitStatuses: new Set(rules.rateLimitStatuses ?? []),
    remainingHeaders: [...(declared.remaining ? [declared.remaining.toLowerCase()] : []), "x-ratelimit-remaining", "ratelimit-remaining"],
    resetHeaders: [...(declared.reset ? [declared.reset.toLowerCase()] : []), "x-ratelimit-reset", "ratelimit-reset"],
    resetKind: declared.resetKind,
    maxWaitMs: rules.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
    slowDownBelow: rules.slowDownBelow ?? 0,
  };
}

type Headers = Record<string, string | string[] | undefined>;

/** What to do with a response. `waitMs`: how long the server asked us to wait, when it said. */
export type Verdict =
  | { kind: "records" }
  | { kind: "empty" }
  | { kind: "rate_limited"; waitMs: number | undefined }
  | { kind: "retry"; waitMs: number | undefined }
  | { kind: "fail" };

/** The first of `names` present in the headers. */
function headerOf(headers: Headers, names: readonly string[]): string | string[] | undefined {
  for (const n of names) if (headers[n] !== undefined) return headers[n];
  return undefined;
}

/** Milliseconds until the rate-limit window resets, from Retry-After or a reset header. */
export function serverWaitMs(headers: Headers, rules: ResolvedResponseRules, now: number): number | undefined {
  return parseRetryAfter(headers["retry-after"], now) ?? parseResetHeader(headerOf(headers, rules.resetHeaders), rules.resetKind, now);
}

/** The remaining requests of the rate-limit window, when the response says. */
export function remainingOf(headers: Headers, rules: ResolvedResponseRules): number | undefined {
  return parseRemaining(headerOf(headers, rules.remainingHeaders));
}

/** Judges a (non-redirect) response by its status and headers. */
export function judge(status: number, headers: Headers, rules: ResolvedResponseRules, now: number): Verdict {
  if (status === 204 || rules.empty.has(status)) return { kind: "empty" };
  if (status >= 200 && status < 300) return { kind: "records" };
  if (status === 429) return { kind: "rate_limited", waitMs: serverWaitMs(headers, rules, now) };
  if (rules.rateLimitStatuses.has(status)) {
    // GitHub: 403 + remaining 0 is the primary limit (wait for the reset); 403 + Retry-After the secondary one.
    if (remainingOf(headers, rules) === 0 || headers["retry-after"] !== undefined) return { kind: "rate_limited", waitMs: serverWaitMs(headers, rules, now) };
    return { kind: "fail" };
  }
  if (rules.retry.has(status)) return { kind: "retry", waitMs: parseRetryAfter(headers["retry-after"], now) };
  return { kind: "fail" };
}

/** How long to wait before trying again: full-jitter backoff, and the waits servers ask for. */
import type { RateLimitHeaders, RetryPolicy } from "./types.ts";

type HeaderValue = string | readonly string[] | undefined | null;

function first(header: HeaderValue): string | undefined {
  const v = (Array.isArray(header) ? header[0] : header) as string | undefined | null;
  return v === null || v === undefined ? undefined : v.trim();
}

/**
 * Milliseconds to wait from a Retry-After header: delta-seconds or an HTTP date (relative to `now`);
 * undefined when absent or unparseable. Dates in the past give 0.
 */
export function parseRetryAfter(header: HeaderValue, now: number): number | undefined {
  const v = first(header);
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // "-1", "1.5": not a delta-seconds nor a date
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Milliseconds until a rate-limit window resets, from a reset header (epoch seconds or seconds from now). */
export function parseResetHeader(header: HeaderValue, kind: RateLimitHeaders["resetKind"], now: number): number | undefined {
  const v = first(header);
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) return undefined;
  const n = Number(v);
  // An epoch in seconds is > 1e9; a small number is a delta whatever was declared.
  const epoch = kind === "epoch" || (kind === undefined && n > 1e9);
  return Math.max(0, Math.ceil(epoch ? n * 1000 - now : n * 1000));
}

/** The remaining-requests count a header reports, or undefined. */
export function parseRemaining(header: HeaderValue): number | undefined {
  const v = first(header);
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Delay before the next attempt after `attempt` (1-based) failed: full jitter, uniform in
 * [0, min(cap, base * 2^(attempt-1))).
 */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs"> | { retry: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs"> }, random: () => number = Math.random): number {
  const retry = "retry" in policy ? policy.retry : policy;
  const cap = Math.max(0, retry.maxDelayMs);
  const ceiling = Math.min(cap, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

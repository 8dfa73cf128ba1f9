/** The default request policy and how a source's overrides are merged into it. */
import type { RequestPolicy, SourceSpec } from "./types.ts";

/**
 * Defaults for any source: 30 s per request, 1 h per partition, 6 attempts with 0.5-30 s full-jitter
 * backoff (rate-limit waits apart: up to 20 of them), 4 pages in flight, and caps on a listing's
 * size that no real day reaches but that stop a server which never ends its listing.
 */
export const DEFAULT_POLICY: RequestPolicy = Object.freeze({
  timeoutMs: 30_000,
  partitionDeadlineMs: 3_600_000,
  retry: Object.freeze({ maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, maxRateLimitWaits: 20 }),
  concurrency: 4,
  maxPages: 50_000,
  maxRecords: 100_000_000,
}) as RequestPolicy;

/** The effective policy of a source: DEFAULT_POLICY with the spec's overrides applied. */
export function resolvePolicy(overrides: SourceSpec["policy"]): RequestPolicy {
  const o = overrides ?? {};
  const policy: RequestPolicy = {
    timeoutMs: o.timeoutMs ?? DEFAULT_POLICY.timeoutMs,
    partitionDeadlineMs: o.partitionDeadlineMs ?? DEFAULT_POLICY.partitionDeadlineMs,
    retry: { ...DEFAULT_POLICY.retry, ...o.retry },
    concurrency: Math.max(1, Math.floor(o.concurrency ?? DEFAULT_POLICY.concurrency)),
    maxPages: Math.max(1, Math.floor(o.maxPages ?? DEFAULT_POLICY.maxPages)),
    maxRecords: Math.max(1, Math.floor(o.maxRecords ?? DEFAULT_POLICY.maxRecords)),
  };
  const rateLimit = o.rateLimit ?? DEFAULT_POLICY.rateLimit;
  if (rateLimit) policy.rateLimit = { rps: rateLimit.rps, burst: Math.max(1, rateLimit.burst) };
  policy.retry.maxAttempts = Math.max(1, Math.floor(policy.retry.maxAttempts));
  return policy;
}

/**
 * The HTTP client of the extract stage: undici with keep-alive, a timeout per request (headers and
 * body), redirects followed by hand (auth only to the source's own origin), retries of transient
 * failures with full-jitter backoff and Retry-After, and secrets redacted from every message.
 */
import { STATUS_CODES } from "node:http";
import { Agent, request, type Dispatcher } from "undici";
import { HttpError, SluiceError, SourceFormatError, isRetryable, type ErrorContext } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { abortReason, systemClock, type Clock } from "./clock.ts";
import type { TokenBucket } from "./ratelimit.ts";
import type { RequestPolicy, RetryPolicy } from "./types.ts";

/** Statuses worth retrying: the same request later may succeed. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
/** Redirect hops followed per request. */
export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const SNIPPET_BYTES = 200;
const REDACTED = "[redacted]";

/** Replaces every occurrence of a secret (raw or URL-encoded) and any URL password with a marker. */
export function redactUrl(url: string, secrets: readonly string[]): string {
  let out = url;
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = "redacted";
      out = u.href;
    }
  } catch {
    // not a URL: scrub the text as is
  }
  return redactText(out, secrets);
}

/** Replaces every occurrence of each secret, raw and in its URL-encoded forms. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])) {
      if (out.includes(form)) out = out.split(form).join(REDACTED);
    }
  }
  return out;
}

/**
 * Milliseconds to wait from a Retry-After header: delta-seconds or an HTTP date (relative to `now`);
 * undefined when absent or unparseable. Dates in the past give 0.
 */
export function parseRetryAfter(header: string | readonly string[] | undefined | null, now: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header) as string | undefined | null;
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // "-1", "1.5": not a delta-seconds nor a date
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Delay before the next attempt after `attempt` (1-based) failed: full jitter, uniform in
 * [0, min(cap, base * 2^(attempt-1))); a server's Retry-After wins, clamped to the cap.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy | Pick<RequestPolicy, "retry">, random: () => number = Math.random, retryAfterMs?: number): number {
  const retry = "retry" in policy ? policy.retry : policy;
  const cap = Math.max(0, retry.maxDelayMs);
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) return Math.min(cap, Math.max(0, retryAfterMs));
  const ceiling = Math.min(cap, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Counters of one extraction's HTTP traffic. */
export interface HttpStats {
  /** HTTP requests sent, redirect hops and retries included. */
  requests: number;
  /** Attempts after the first, summed over requests. */
  retries: number;
  /** HTTP status, or "network" / "timeout" / "bad_body" -> count. */
  statusCounts: Record<string, number>;
}

/** A response's status line and headers, as given to body parsers. */
export interface ResponseInfo {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** URL of the response after redirects (redacted only when logged). */
  url: string;
}

/** A successful page: the raw body bytes, what the parser made of them and where they came from. */
export interface FetchedPage<T> extends ResponseInfo {
  body: Buffer;
  value: T;
  /** Attempts it took (1 = first try). */
  attempts: number;
}

/** Parses a 2xx body; throws SourceFormatError (retryable) when it is not what the source declares. */
export type BodyParser<T> = (body: Buffer, response: ResponseInfo) => T;

/** Per-call options of fetchPage. */
export interface FetchPageOptions {
  /** Cancels this call only (on top of the client's signal). */
  signal?: AbortSignal;
  /**
   * Sees each 2xx body before it is parsed; returning true yields one event-loop turn before
   * parsing, so that requests it started go out on the wire first.
   */
  onBody?: (body: Buffer, response: ResponseInfo) => boolean;
}

/** Options of an HttpClient. */
export interface HttpClientOptions {
  policy: RequestPolicy;
  /** Aborts every request and wait (caller cancellation, partition deadline). */
  signal: AbortSignal;
  log: Logger;
  clock?: Clock;
  random?: () => number;
  /** The secret-carrying header, sent only to requests whose origin is `origin`. */
  auth?: { header: string; value: string; origin: string };
  /** Values to redact from URLs and messages (the auth secret). */
  secrets?: readonly string[];
  limiter?: TokenBucket;
  /** Defaults to a keep-alive Agent owned (and closed) by the client. */
  dispatcher?: Dispatcher;
  context?: ErrorContext;
}

/** An HTTP GET client with retries; one per extraction, close() it at the end. */
export class HttpClient {
  readonly stats: HttpStats = { requests: 0, retries: 0, statusCounts: {} };
  private readonly dispatcher: Dispatcher;
  private readonly ownAgent: Agent | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly secrets: readonly string[];

  constructor(private readonly options: HttpClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.secrets = options.secrets ?? [];
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
    } else {
      this.ownAgent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: Math.max(2, options.policy.concurrency + 1) });
      this.dispatcher = this.ownAgent;
    }
  }

  /** A URL as it may appear in logs and errors. */
  redact(url: string): string {
    return redactUrl(url, this.secrets);
  }

  private count(key: string): void {
    this.stats.statusCounts[key] = (this.stats.statusCounts[key] ?? 0) + 1;
  }

  /** GETs `url` and parses the body, retrying transient failures; throws the last error when it gives up. */
  async fetchPage<T>(url: string, parse: BodyParser<T>, call: FetchPageOptions = {}): Promise<FetchedPage<T>> {
    const { policy, log } = this.options;
    const signal = call.signal ? AbortSignal.any([this.options.signal, call.signal]) : this.options.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        if (signal.aborted) throw abortReason(signal);
        const res = await this.attempt(url, signal);
        if (call.onBody?.(res.body, res)) {
          await new Promise((resolve) => setImmediate(resolve));
          if (signal.aborted) throw abortReason(signal);
        }
        let value: T;
        try {
          value = parse(res.body, res);
        } catch (err) {
          if (err instanceof SourceFormatError) this.count("bad_body");
          throw err;
        }
        this.count(String(res.status));
        return { ...res, value, attempts: attempt };
      } catch (err) {
        if (signal.aborted) throw abortReason(signal);
        if (!isRetryable(err) || attempt >= policy.retry.maxAttempts) {
          if (err instanceof SluiceError) {
            err.withContext({ ...this.options.context, url: this.redact(url) });
            if (attempt > 1) err.message = `${err.message} (gave up after ${attempt} attempts)`;
          }
          throw err;
        }
        const retryAfterMs = err instanceof HttpError ? err.retryAfterMs : undefined;
        const delayMs = backoffDelay(attempt, policy.retry, this.random, retryAfterMs);
        this.stats.retries++;
        log.warn(
          { url: this.redact(url), attempt, delayMs, status: err instanceof HttpError ? err.status : undefined, error: err instanceof Error ? err.message : String(err) },
          "transient failure, retrying",
        );
        await this.clock.sleep(delayMs, signal);
      }
    }
  }

  /** One attempt: a GET plus up to MAX_REDIRECTS hops; resolves with a 2xx body, throws otherwise. */
  private async attempt(url: string, signal: AbortSignal): Promise<ResponseInfo & { body: Buffer }> {
    const { policy, limiter, auth } = this.options;
    let current = url;
    for (let hop = 0; ; hop++) {
      if (limiter) await limiter.acquire(signal);
      const context = { ...this.options.context, url: this.redact(current) };
      const timeout = new AbortController();
      const onAbort = () => timeout.abort(abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        timeout.abort(new Error("request timeout"));
      }, policy.timeoutMs);
      this.stats.requests++;
      try {
        const headers: Record<string, string> = { accept: "application/json", "user-agent": "sluice/0.1" };
        let target: URL;
        try {
          target = new URL(current);
        } catch (cause) {
          throw new HttpError(`invalid URL ${this.redact(current)}`, { retryable: false, context, cause });
        }
        if (target.protocol !== "http:" && target.protocol !== "https:")
          throw new HttpError(`unsupported URL scheme ${target.protocol} in ${this.redact(current)}`, { retryable: false, context });
        // The secret goes only to the source's own origin, never to a redirect target elsewhere.
        if (auth && target.origin === auth.origin) headers[auth.header] = auth.value;
        const res = await request(target, { dispatcher: this.dispatcher, method: "GET", headers, signal: timeout.signal });
        const status = res.statusCode;
        const responseHeaders = res.headers as ResponseInfo["headers"];
        if (REDIRECT_STATUSES.has(status) && responseHeaders["location"] !== undefined) {
          await res.body.dump();
          this.count(String(status));
          const location = String(responseHeaders["location"]);
          if (hop >= MAX_REDIRECTS) {
            throw new HttpError(`too many redirects (more than ${MAX_REDIRECTS}) starting at GET ${this.redact(url)}`, { retryable: false, status, context });
          }
          current = new URL(location, target).href;
          continue;
        }
        if (status >= 200 && status < 300) {
          const body = Buffer.from(await res.body.arrayBuffer());
          return { status, headers: responseHeaders, url: current, body };
        }
        const raw = Buffer.from(await res.body.arrayBuffer());
        this.count(String(status));
        const bodySnippet = redactText(raw.subarray(0, SNIPPET_BYTES).toString("utf8").replace(/\s+/g, " ").trim(), this.secrets);
        const retryable = RETRYABLE_STATUSES.has(status);
        const retryAfterMs = retryable ? parseRetryAfter(responseHeaders["retry-after"], this.clock.now()) : undefined;
        throw new HttpError(`HTTP ${status} ${res.statusText || STATUS_CODES[status] || ""} from GET ${this.redact(current)}: ${bodySnippet || "(empty body)"}`, {
          retryable,
          status,
          bodySnippet,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          context,
        });
      } catch (err) {
        if (err instanceof SluiceError) throw err;
        if (signal.aborted) throw abortReason(signal);
        if (timedOut) {
          this.count("timeout");
          throw new HttpError(`request timed out after ${policy.timeoutMs} ms: GET ${this.redact(current)}`, { retryable: true, context });
        }
        this.count("network");
        const code = (err as { code?: string }).code;
        const message = err instanceof Error ? err.message : String(err);
        throw new HttpError(`network error on GET ${this.redact(current)}: ${redactText(code ? `${code} ${message}` : message, this.secrets)}`, {
          retryable: true,
          context,
          cause: err,
        });
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Closes the keep-alive connections (destroys them when `force`, e.g. after a cancellation). */
  async close(force = false): Promise<void> {
    if (!this.ownAgent) return;
    if (force) await this.ownAgent.destroy().catch(() => undefined);
    else await this.ownAgent.close().catch(() => undefined);
  }
}

/** Standalone GET with retries (a throwaway HttpClient): returns the page and the traffic counters. */
export async function fetchPage<T>(url: string, options: HttpClientOptions, parse: BodyParser<T>): Promise<FetchedPage<T> & { stats: HttpStats }> {
  const client = new HttpClient(options);
  try {
    const page = await client.fetchPage(url, parse);
    return { ...page, stats: client.stats };
  } finally {
    await client.close(options.signal.aborted);
  }
}

/**
 * The HTTP client of the extract stage: one per extraction. Sends a page request through the
 * source's limiter and governor, judges the response by the source's rules, and retries what is
 * transient: backoff for failures, the server's own wait for rate limits (which do not use up
 * attempts), fresh credentials after a 401. Every message is redacted.
 */
import { Agent, type Dispatcher } from "undici";
import { HttpError, RateLimitedError, SluiceError, TransientHttpError, isTransient, type ErrorContext } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { NO_AUTH, type AuthProvider } from "./auth/index.ts";
import { abortReason, systemClock, type Clock } from "./clock.ts";
import { exchange, type RawResponse, type ResponseInfo } from "./http-exchange.ts";
import type { PageRequest } from "./paginators/index.ts";
import type { RateGovernor } from "./rate-governor.ts";
import type { RequestLimiter } from "./ratelimit.ts";
import { Redactor } from "./redact.ts";
import { judge, resolveResponseRules, type ResolvedResponseRules, type Verdict } from "./response-rules.ts";
import { backoffDelay } from "./retry.ts";
import type { RequestPolicy } from "./types.ts";
import { nextTurn } from "../core/next-turn.ts";

export type { ResponseInfo } from "./http-exchange.ts";

const SNIPPET_BYTES = 200;
/** Bodies larger than this fail with a message naming the URL. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 2 ** 20;

/** Counters of one extraction's HTTP traffic. */
export interface HttpStats {
  /** HTTP requests sent, redirect hops and retries included. */
  requests: number;
  /** Attempts after the first, summed over requests (rate-limit waits included). */
  retries: number;
  /** HTTP status, or "network" / "timeout" / "bad_body" -> count. */
  statusCounts: Record<string, number>;
}

/**
 * A successful page: the raw body bytes, what the parser made of them and where they came from.
 * `empty`: the source's rules say the response means "no records" (204, a declared 404): not parsed.
 */
export type FetchedPage<T> = ResponseInfo & {
  body: Buffer;
  /** Attempts it took (1 = first try). */
  attempts: number;
} & ({ empty: false; value: T } | { empty: true; value: null });

/** Parses a 2xx body; throws SourceFormatError (transient) when it is not what the source declares. */
export type BodyParser<T> = (body: Buffer, response: ResponseInfo) => T;

/** Per-call options. */
export interface FetchPageOptions {
  /** Cancels this call only (on top of the client's signal). */
  signal?: AbortSignal;
  /** Sees each 2xx body before it is parsed; returning true (a request was speculated) yields two event-loop turns first. */
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
  auth?: AuthProvider;
  /** The origin credentials may be sent to (the source's base URL origin). */
  authOrigin?: string;
  /** Extra headers of the source (Stripe-Version...). */
  headers?: Record<string, string>;
  redactor?: Redactor;
  rules?: ResolvedResponseRules;
  limiter?: RequestLimiter;
  governor?: RateGovernor;
  maxBodyBytes?: number;
  /** Defaults to a keep-alive Agent owned (and closed) by the client. */
  dispatcher?: Dispatcher;
  context?: ErrorContext;
}

export class HttpClient {
  readonly stats: HttpStats = { requests: 0, retries: 0, statusCounts: {} };
  readonly redactor: Redactor;
  private readonly dispatcher: Dispatcher;
  private readonly ownAgent: Agent | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly rules: ResolvedResponseRules;

  constructor(private readonly options: HttpClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.redactor = options.redactor ?? new Redactor();
    this.rules = options.rules ?? resolveResponseRules();
    this.ownAgent = options.dispatcher ? undefined : new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: Math.max(2, options.policy.concurrency + 1) });
    this.dispatcher = options.dispatcher ?? (this.ownAgent as Agent);
  }

  /** A URL as it may appear in logs and errors. */
  redact(url: string): string {
    return this.redactor.url(url);
  }

  /** GETs `url` (see send). */
  fetchPage<T>(url: string, parse: BodyParser<T>, call: FetchPageOptions = {}): Promise<FetchedPage<T>> {
    return this.send({ method: "GET", url }, parse, call);
  }

  /** Sends a page request and parses the body, retrying what is transient; throws the last error when it gives up. */
  async send<T>(req: PageRequest, parse: BodyParser<T>, call: FetchPageOptions = {}): Promise<FetchedPage<T>> {
    const signal = call.signal ? AbortSignal.any([this.options.signal, call.signal]) : this.options.signal;
    const budget = { attempt: 1, rateLimitWaits: 0, renewed: false };
    for (;;) {
      try {
        if (signal.aborted) throw abortReason(signal);
        return await this.once(req, parse, call, signal, budget.attempt);
      } catch (err) {
        if (signal.aborted) throw abortReason(signal);
        const wait = await this.retryWait(err, budget, signal);
        if (wait === null) throw this.finalError(err, req, budget.attempt);
        this.stats.retries++;
        this.options.log.warn({ url: this.redact(req.url), attempt: budget.attempt, delayMs: wait, status: err instanceof HttpError ? err.status : undefined, error: err instanceof Error ? this.redactor.text(err.message) : String(err) }, "transient failure, retrying");
        await this.clock.sleep(wait, signal);
      }
    }
  }

  /** Closes the keep-alive connections (destroys them when `force`, e.g. after a cancellation). */
  async close(force = false): Promise<void> {
    if (!this.ownAgent) return;
    if (force) await this.ownAgent.destroy().catch(() => undefined);
    else await this.ownAgent.close().catch(() => undefined);
  }

  private async once<T>(req: PageRequest, parse: BodyParser<T>, call: FetchPageOptions, signal: AbortSignal, attempt: number): Promise<FetchedPage<T>> {
    await this.options.limiter?.acquire(signal);
    await this.options.governor?.beforeRequest(signal);
    const res = await this.exchange(req, signal);
    this.options.governor?.observe(res.headers);
    const verdict = judge(res.status, res.headers, this.rules, this.clock.now());
    if (verdict.kind === "empty") {
      this.count(String(res.status));
      return { ...res, value: null, attempts: attempt, empty: true };
    }
    if (verdict.kind !== "records") throw this.statusError(req, res, verdict);
    if (call.onBody?.(res.body, res)) {
      // onBody just dispatched the next page's request. undici writes it from an immediate queued
      // after the first one here: parsing this page after one turn held every such write back
      // ~2 ms (~2.5 s of a 1,000-page listing 20 ms away). After two turns it is on the wire.
      await nextTurn();
      await nextTurn();
      if (signal.aborted) throw abortReason(signal);
    }
    let value: T;
    try {
      value = parse(res.body, res);
    } catch (err) {
      if (err instanceof SluiceError) this.count("bad_body");
      throw err;
    }
    this.count(String(res.status));
    return { ...res, value, attempts: attempt, empty: false };
  }

  private exchange(req: PageRequest, signal: AbortSignal): Promise<RawResponse> {
    this.stats.requests++;
    return exchange(req, signal, {
      dispatcher: this.dispatcher,
      timeoutMs: this.options.policy.timeoutMs,
      maxBodyBytes: this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      auth: this.options.auth ?? NO_AUTH,
      authOrigin: this.options.authOrigin ?? "",
      headers: this.options.headers ?? {},
      redactor: this.redactor,
      context: this.options.context ?? {},
      count: (key) => {
        this.count(key);
        if (/^\d+$/.test(key)) this.stats.requests++;
      },
    });
  }

  private statusError(req: PageRequest, res: RawResponse, verdict: Verdict): HttpError {
    this.count(String(res.status));
    const shown = this.redact(res.url);
    const bodySnippet = this.redactor.text(res.body.subarray(0, SNIPPET_BYTES).toString("utf8").replace(/\s+/g, " ").trim());
    const message = `HTTP ${res.status} ${res.statusText} from ${req.method} ${shown}: ${bodySnippet || "(empty body)"}`;
    const options = { status: res.status, bodySnippet, context: { ...this.options.context, url: shown } };
    const waitMs = verdict.kind === "rate_limited" || verdict.kind === "retry" ? verdict.waitMs : undefined;
    const wait = waitMs === undefined ? {} : { retryAfterMs: waitMs };
    if (verdict.kind === "rate_limited") return new RateLimitedError(message, { ...options, ...wait });
    if (verdict.kind === "retry") return new TransientHttpError(message, { ...options, ...wait });
    return new HttpError(message, options);
  }

  /** How long to wait before trying again, or null to give up. Updates the budget. */
  private async retryWait(err: unknown, budget: { attempt: number; rateLimitWaits: number; renewed: boolean }, signal: AbortSignal): Promise<number | null> {
    const { retry } = this.options.policy;
    if (err instanceof HttpError && err.status === 401 && !budget.renewed && this.options.auth && err.context.url !== undefined && this.isAuthOrigin(err)) {
      budget.renewed = true;
      return (await this.options.auth.renew(signal)) ? 0 : null;
    }
    if (err instanceof RateLimitedError) {
      if (++budget.rateLimitWaits > retry.maxRateLimitWaits) return null;
      const wait = err.retryAfterMs ?? backoffDelay(budget.rateLimitWaits, retry, this.random);
      if (wait > this.rules.maxWaitMs) return null;
      this.options.governor?.pause(wait);
      return wait;
    }
    if (!isTransient(err) || budget.attempt >= retry.maxAttempts) return null;
    budget.attempt++;
    const asked = err instanceof TransientHttpError ? err.retryAfterMs : undefined;
    if (asked !== undefined) return asked > this.rules.maxWaitMs ? null : asked;
    return backoffDelay(budget.attempt - 1, retry, this.random);
  }

  private isAuthOrigin(err: HttpError): boolean {
    try {
      return new URL(err.context.url ?? "").origin === this.options.authOrigin;
    } catch {
      return false;
    }
  }

  private finalError(err: unknown, req: PageRequest, attempts: number): unknown {
    if (!(err instanceof SluiceError)) return err;
    err.withContext({ ...this.options.context, url: this.redact(req.url) });
    if (err instanceof TransientHttpError && err.retryAfterMs !== undefined && err.retryAfterMs > this.rules.maxWaitMs) {
      err.message = `${err.message} (the server asked to wait ${Math.ceil(err.retryAfterMs / 1000)} s, more than the source's maxWaitMs of ${Math.round(this.rules.maxWaitMs / 1000)} s)`;
    } else if (attempts > 1 && isTransient(err)) {
      err.message = `${err.message} (gave up after ${attempts} attempts)`;
    }
    return err;
  }

  private count(key: string): void {
    this.stats.statusCounts[key] = (this.stats.statusCounts[key] ?? 0) + 1;
  }
}

/** Standalone request with retries (a throwaway HttpClient): returns the page and the traffic counters. */
export async function fetchPage<T>(url: string, options: HttpClientOptions, parse: BodyParser<T>): Promise<FetchedPage<T> & { stats: HttpStats }> {
  const client = new HttpClient(options);
  try {
    const page = await client.fetchPage(url, parse);
    return { ...page, stats: client.stats };
  } finally {
    await client.close(options.signal.aborted);
  }
}

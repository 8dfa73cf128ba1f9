/**
 * A rate limit shared by every worker process of a source, kept in Redis by rate-limiter-flexible's
 * RateLimiterRedis (one atomic Lua INCR+TTL per attempt), behind TokenBucket's interface: a
 * request waits for its turn rather than failing.
 *
 * TokenBucket(rps, burst) lets `burst` requests through at once and `rps` per second after. Here
 * time is cut into windows of burst/rps seconds, each admitting `burst` requests, and the window's
 * number is part of the Redis key (rate-limiter-flexible's own windows last whole seconds, too
 * coarse for 10 rps). Over any span of T >= one window both allow at most burst + rps * T (give or
 * take one window's rounding); the one difference is an instant straddling two windows, where up
 * to 2 x burst may pass. Windows follow Redis' clock (its offset is measured once), so workers on
 * machines with skewed clocks still share them.
 *
 * When Redis is unreachable each process falls back to the same limit in memory (the library's
 * insurance limiter): N workers then send up to N times the rate, and the HTTP layer's 429
 * handling absorbs it, instead of every extract stopping while Redis is away.
 */
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { abortReason, systemClock } from "./clock.ts";

/** How long the first acquire waits for Redis' clock before going by its own. */
const CLOCK_PROBE_MS = 2_000;

/** What the extract stage needs from a rate limit: TokenBucket in one process, SharedRateLimit across processes. */
export interface RateLimiter {
  /** Waits until the request may go; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export interface SharedRateLimitOptions {
  /** An ioredis client to the queue's Redis; the caller owns (and closes) it. */
  redis: Redis;
  /** What is limited: one limit per key. The extract stage's keys are `<origin>|<source name>` (one per source and API). */
  key: string;
  /** Requests per second, as TokenBucket's rps. */
  rps: number;
  /** Requests that may go at once, as TokenBucket's burst. */
  burst: number;
  /** Redis key prefix; default "sluice:ratelimit". */
  keyPrefix?: string;
}

/** A token-bucket-like limit of `rps` with bursts of `burst`, shared through Redis by every process using the same key. */
export class SharedRateLimit implements RateLimiter {
  readonly rps: number;
  readonly burst: number;
  private readonly windowMs: number;
  private readonly key: string;
  private readonly redis: Redis;
  private readonly limiter: RateLimiterRedis;
  private offsetMs: number | undefined;
  /** Callers of this process are served in FIFO order, as TokenBucket's are. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: SharedRateLimitOptions) {
    const { rps, burst } = options;
    if (!(rps > 0) || !(burst >= 1) || !Number.isInteger(burst)) {
      throw new RangeError(`rate limit needs rps > 0 and a whole burst >= 1 (got ${rps}, ${burst})`);
    }
    this.rps = rps;
    this.burst = burst;
    this.redis = options.redis;
    this.windowMs = (burst * 1000) / rps;
    this.key = options.key;
    // duration only sets how long a window's key lives in Redis (whole seconds, past its end).
    const settings = { keyPrefix: options.keyPrefix ?? "sluice:ratelimit", points: burst, duration: Math.ceil(this.windowMs / 1000) + 1 };
    this.limiter = new RateLimiterRedis({
      ...settings,
      storeClient: options.redis,
      // Redis down or reconnecting: use the in-memory limit at once instead of queueing commands.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(settings),
    });
  }

  /** Waits for a slot of the shared limit; rejects with the signal's reason if it aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.take(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    const offset = await this.clockOffset();
    for (;;) {
      const now = Date.now() + offset;
      const window = Math.floor(now / this.windowMs);
      try {
        await this.limiter.consume(`${this.key}|${window}`, 1);
        return;
      } catch (rejection) {
        // Anything but "this window is full" means neither Redis nor the insurance could count.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      }
      // Wake a little after the next window opens; the jitter spreads the processes that all waited.
      const untilNext = (window + 1) * this.windowMs - now;
      await systemClock.sleep(untilNext + Math.random() * Math.min(20, this.windowMs / 4), signal);
    }
  }

  /** Redis' clock minus ours, measured once (0 while Redis cannot be asked: then windows follow our clock). */
  private async clockOffset(): Promise<number> {
    if (this.offsetMs !== undefined) return this.offsetMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), CLOCK_PROBE_MS)));
    const before = Date.now();
    // A probe that loses the race may still fail later: it must not become an unhandled rejection.
    const probe = this.redis.time().catch(() => undefined);
    const time = await Promise.race([probe, timeout]);
    clearTimeout(timer);
    if (time === undefined) return 0;
    const after = Date.now();
    this.offsetMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) - (before + after) / 2;
    return this.offsetMs;
  }
}

/**
 * The limiters of one worker process: a SharedRateLimit per extract key and limit, all over one
 * Redis connection of their own. Its `limiterFor` is what a worker passes in RunSettings.
 */
export class SharedRateLimits {
  private readonly limits = new Map<string, SharedRateLimit>();
  private readonly redis: Redis;

  constructor(redisUrl: string) {
    // No offline queue: while Redis is away a request must not wait for it (the insurance limit applies).
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.redis.on("error", () => undefined); // reconnects by itself; meanwhile the in-memory limit holds
  }

  /** Resolves once connected, or after timeoutMs (requests then use the in-memory limit until it is). */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.redis.status === "ready") return;
    const redis = this.redis;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        redis.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      redis.once("ready", done);
    });
  }

  /** The shared limiter of an extract key and limit (one per pair in this process, so its callers queue in order). */
  readonly limiterFor = (key: string, limit: { rps: number; burst: number }): RateLimiter => {
    const id = `${key}|${limit.rps}|${limit.burst}`;
    let limiter = this.limits.get(id);
    if (!limiter) this.limits.set(id, (limiter = new SharedRateLimit({ redis: this.redis, key, rps: limit.rps, burst: limit.burst })));
    return limiter;
  };

  /** Closes the connection at once (in-flight acquires fall back to the in-memory limit). */
  disconnect(): void {
    this.redis.disconnect();
  }
}

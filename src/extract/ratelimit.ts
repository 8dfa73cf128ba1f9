/** Client-side rate limit: a token bucket shared by every request of a source. */
import { systemClock, type Clock } from "./clock.ts";

/** Anything that makes a request wait for its turn: the in-process bucket, or a limiter shared through Redis. */
export interface RequestLimiter {
  /** Waits until a request may go; rejects if the signal aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<void>;
}

/** A token bucket of `burst` tokens refilled at `rps` per second; waiters are served in FIFO order. */
export class TokenBucket implements RequestLimiter {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly rps: number,
    readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(rps > 0) || !(burst >= 1)) throw new RangeError(`rate limit needs rps > 0 and burst >= 1 (got ${rps}, ${burst})`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Waits until a token is available and takes it; rejects if the signal aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.take(signal));
    // the next waiter queues behind this one whether it succeeds or is aborted
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rps) / 1000);
      this.last = now;
    }
  }

  private async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) * 1000) / this.rps), signal);
    }
  }
}

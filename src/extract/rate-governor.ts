/**
 * Adaptive slowdown from the server's own rate-limit headers, shared by every request of a source
 * in the process: when the window is used up, wait for its reset; when few requests remain, spread
 * them until the reset; when a 429 says "come back in N s", everyone sharing the source waits.
 */
import type { Clock } from "./clock.ts";
import { remainingOf, serverWaitMs, type ResolvedResponseRules } from "./response-rules.ts";

export class RateGovernor {
  private pausedUntil = 0;
  private nextSlot = 0;
  private spacingMs = 0;

  constructor(
    private readonly rules: ResolvedResponseRules,
    private readonly clock: Clock,
  ) {}

  /** Waits until this request may go, as the last responses asked. */
  async beforeRequest(signal: AbortSignal): Promise<void> {
    const now = this.clock.now();
    let at = Math.max(now, this.pausedUntil);
    if (this.spacingMs > 0) {
      at = Math.max(at, this.nextSlot);
      this.nextSlot = at + this.spacingMs;
    }
    if (at > now) await this.clock.sleep(at - now, signal);
  }

  /** Learns from a response's rate-limit headers (remaining requests, reset time). */
  observe(headers: Record<string, string | string[] | undefined>): void {
    const remaining = remainingOf(headers, this.rules);
    if (remaining === undefined) return;
    const resetMs = serverWaitMs(headers, this.rules, this.clock.now());
    if (resetMs === undefined || resetMs > this.rules.maxWaitMs) {
      this.spacingMs = 0;
      return;
    }
    const now = this.clock.now();
    if (remaining === 0) this.pausedUntil = Math.max(this.pausedUntil, now + resetMs);
    this.spacingMs = remaining > 0 && remaining < this.rules.slowDownBelow ? Math.ceil(resetMs / remaining) : 0;
  }

  /** A 429 asked to wait `ms`: the requests sharing this source wait too. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }
}

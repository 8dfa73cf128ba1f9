/** The bounded hand-off between fetching and decoding: the backpressure that keeps memory bounded. */
import { abortReason } from "./clock.ts";

/** A FIFO with a capacity: push waits while full, shift waits while empty; both abort with the run. */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private readonly putters: Array<() => void> = [];
  private readonly takers: Array<() => void> = [];

  constructor(
    private readonly capacity: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Items waiting to be taken. */
  get length(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity) await this.wait(this.putters);
    this.items.push(item);
    this.takers.shift()?.();
  }

  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await this.wait(this.takers);
    }
    const item = this.items.shift();
    this.putters.shift()?.();
    return item;
  }

  close(): void {
    this.closed = true;
    for (const wake of this.takers.splice(0)) wake();
  }

  private wait(list: Array<() => void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(abortReason(this.signal));
      const onAbort = () => reject(abortReason(this.signal));
      this.signal.addEventListener("abort", onAbort, { once: true });
      list.push(() => {
        this.signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}


/**
 * This process's readers/writer gate on one warehouse file: any number of readers or one writer,
 * granted first come, first served so a writer is not starved by a stream of readers.
 */
import { CancelledError } from "../core/errors.ts";

/** Read access may be shared; write access is exclusive. */
export type AccessMode = "read" | "write";

/** How a caller waits: until `deadline` (epoch ms) unless `signal` aborts first. */
export interface WaitPolicy {
  deadline: number;
  signal: AbortSignal | undefined;
  /** Called when the caller has to wait (possibly more than once). */
  onWait: () => void;
  /** The error to fail with once the deadline has passed. */
  timeoutError: () => Error;
}

interface Waiter {
  mode: AccessMode;
  grant: () => void;
}

/** A FIFO readers/writer gate; acquire resolves to the function that releases the access. */
export class ReadersWriterGate {
  private readers = 0;
  private writer = false;
  private readonly queue: Waiter[] = [];

  /** Waits for `mode` access (in arrival order), failing on the policy's deadline or abort. */
  acquire(mode: AccessMode, wait: WaitPolicy): Promise<() => void> {
    if (this.queue.length === 0 && this.compatible(mode)) return Promise.resolve(this.take(mode));
    wait.onWait();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        mode,
        grant: () => {
          cleanup();
          resolve(this.take(mode));
        },
      };
      const drop = (error: Error): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        cleanup();
        reject(error);
        this.pump();
      };
      const timer = setTimeout(() => drop(wait.timeoutError()), Math.max(0, wait.deadline - Date.now()));
      const onAbort = (): void => drop(new CancelledError("cancelled while waiting for the warehouse"));
      const cleanup = (): void => {
        clearTimeout(timer);
        wait.signal?.removeEventListener("abort", onAbort);
      };
      wait.signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private compatible(mode: AccessMode): boolean {
    return mode === "read" ? !this.writer : !this.writer && this.readers === 0;
  }

  private take(mode: AccessMode): () => void {
    if (mode === "read") this.readers++;
    else this.writer = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (mode === "read") this.readers--;
      else this.writer = false;
      this.pump();
    };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (!head || !this.compatible(head.mode)) return;
      this.queue.shift();
      head.grant();
    }
  }
}

/** Landing pages as they arrive, with the state file kept in step (see the class comment). */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pageFileName, writeState, type LandingState } from "./landing.ts";

/**
 * Lands page bodies and keeps the state file in step with them.
 *
 * A page file is written in place, not through a temp file and a rename: a page counts only once a
 * state write that lists it has completed, after its file was written, so a write cut by a kill
 * leaves a file the state does not list, which the next run fetches again and writes over. Each
 * page file has one writer (the partition's lock, one land() per page). The rename cost a thread-
 * pool round trip per page (the 1M-event day ran ~0.5 s faster without it here); the state file is
 * still replaced atomically.
 *
 * Page writes run concurrently in the thread pool; their state updates are applied in the order
 * `land` was called (a sequential listing's `next` must never run ahead of a missing page), and
 * state writes are coalesced: at most one in progress and one pending, the pending one carrying
 * every update applied before it starts. (A strictly serial write-then-state chain
 * per page costs ~8 thread-pool round trips per page, which queue behind JSON parsing on the
 * event loop and throttled the whole pipeline; synchronous writes block the loop for milliseconds
 * per page when the disk is busy.)
 */
export class Lander {
  private applied: Promise<void> = Promise.resolve();
  private stateChain: Promise<void> = Promise.resolve();
  private pendingStateWrite: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly dir: string,
    readonly state: LandingState,
  ) {}

  /** Lands a page body, then applies `update` to the state; resolves once both are on disk. */
  land(pageNo: number, body: Buffer, update: (s: LandingState) => void): Promise<void> {
    const written = writeFile(path.join(this.dir, pageFileName(pageNo)), body);
    const applied = Promise.all([written, this.applied]).then(() => {
      if (this.failure !== null) throw this.failure;
      const landed = this.state.landed;
      let i = landed.length;
      while (i > 0 && landed[i - 1]! > pageNo) i--;
      if (landed[i - 1] !== pageNo) landed.splice(i, 0, pageNo);
      update(this.state);
    });
    // a failed page poisons the updates after it: the state never skips over a hole
    this.applied = applied.catch((err: unknown) => {
      this.failure ??= err;
    });
    const landed = applied.then(() => this.persistState());
    // the caller may never await it (the run was aborted first): not an unhandled rejection
    const settled = landed.catch(() => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    return landed;
  }

  /** Resolves when no write is in progress (an aborted run must not leave writes behind it). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.stateChain;
  }

  /** A state write that starts after every update applied so far (joins one not yet started). */
  private persistState(): Promise<void> {
    if (this.pendingStateWrite) return this.pendingStateWrite;
    const write = this.stateChain.then(() => {
      this.pendingStateWrite = null;
      return writeState(this.dir, this.state);
    });
    this.pendingStateWrite = write;
    this.stateChain = write.catch(() => undefined);
    return write;
  }

  /** Marks the listing complete once every page handed to `land` is applied. */
  async complete(): Promise<void> {
    await this.applied;
    if (this.failure !== null) throw this.failure;
    this.state.complete = true;
    this.state.next = null;
    await this.persistState();
  }
}


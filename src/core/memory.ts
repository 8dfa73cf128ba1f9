/**
 * Polars frames live in native memory that V8 does not see, so the JS heap stays small and V8 may
 * not collect dead frames for a long time. Between stages we ask for a collection explicitly.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { nextTurn } from "./next-turn.ts";

let collect: (() => void) | null | undefined;

/** Runs a full garbage collection so that unreachable frames release their native memory. */
export function reclaimMemory(): void {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      collect = vm.runInNewContext("gc") as () => void;
    } catch {
      collect = null;
    }
  }
  collect?.();
}

/**
 * reclaimMemory, then one turn of the event loop: nodejs-polars frees a collected frame's native
 * buffers in a finalizer that runs only then. A loop over groups that never yields to the event
 * loop keeps every group's frames alive, however unreachable (measured: +100 MB per 1M-row frame).
 */
export async function releaseMemory(): Promise<void> {
  reclaimMemory();
  await nextTurn();
}

/**
 * Paces releaseMemory over a loop of small pieces: a full collection costs tens of milliseconds,
 * so it runs once every `rows` rows handed to `after`, not once per piece (the garbage between two
 * collections stays under `rows` rows).
 */
export class MemoryPacer {
  private pending = 0;

  constructor(private readonly rows: number) {}

  /** Counts `rows` more rows done; releases memory once enough have piled up since the last release. */
  async after(rows: number): Promise<void> {
    this.pending += rows;
    if (this.pending < this.rows) return;
    this.pending = 0;
    await releaseMemory();
  }
}

/** RSS right after this process's last collection by reclaimMemoryIfGrown. */
let rssAfterCollect = 0;
/** Growth of RSS since the last collection that is worth a full collection (~20 ms each). */
const WORTH_COLLECTING = 64 * 1024 * 1024;

/**
 * reclaimMemory, but only when RSS grew by 64 MiB or more since the last one: between the stages of
 * a large partition it frees the dead frames, and a small partition (an incremental rerun of a few
 * rows) does not pay for three full collections that free nothing.
 */
export function reclaimMemoryIfGrown(): void {
  if (process.memoryUsage.rss() - rssAfterCollect < WORTH_COLLECTING) return;
  reclaimMemory();
  rssAfterCollect = process.memoryUsage.rss();
}

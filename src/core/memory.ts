/**
 * Polars frames live in native memory that V8 does not see, so the JS heap stays small and V8 may
 * not collect dead frames for a long time. Between stages we ask for a collection explicitly.
 */
import v8 from "node:v8";
import vm from "node:vm";

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

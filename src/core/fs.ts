/**
 * Atomic file replacement, the one implementation every writer uses (landed pages, lake Parquet,
 * reports, metrics, state files).
 *
 * A writer writes a dot-prefixed temp file in the target's directory (`.<name>.<pid>-<random>.tmp`:
 * readers' globs such as `*.parquet` or `*.prom` never match it), then renames it over the target.
 * rename(2) replaces the target in one step, so readers see the old file or the new one, never half
 * of one. The pid in the name lets a later writer tell a dead writer's leftovers from a live one's.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsync, openSync } from "node:fs";
import { readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import path from "node:path";

const TEMP_SUFFIX = ".tmp";

const fsyncAsync = promisify(fsync);

/** 48 bits drawn once per process; each temp file takes the next value (a CSPRNG call per page write cost ~30 µs). */
let nextTempId = randomBytes(6).readUIntBE(0, 6);

/** 12 hex digits, unique among this process's temp files (the pid in the name tells processes apart). */
function tempId(): string {
  nextTempId = (nextTempId + 1) % 2 ** 48;
  return nextTempId.toString(16).padStart(12, "0");
}

/** How far an atomic replace goes to survive a power loss, not only a crash of this process. */
export interface AtomicWriteOptions {
  /**
   * true: fsync the temp file before the rename and the directory after it, so the new file is on
   * disk when the call returns. false: no fsync (for hot paths whose data can be fetched again);
   * readers and a killed process still never see half a file, but a power loss may lose the write.
   */
  durable: boolean;
}

/**
 * Replaces `target` with the file `write` creates at the temp path it is handed (for writers such
 * as Polars' writeParquet that write a path themselves). The target's directory must exist. On
 * any failure the temp file is removed and the target is left as it was.
 */
export async function replaceAtomically(target: string, write: (tempPath: string) => Promise<void> | void, options: AtomicWriteOptions): Promise<void> {
  const temp = path.join(path.dirname(target), `${tempPrefix(path.basename(target))}${process.pid}-${tempId()}${TEMP_SUFFIX}`);
  try {
    await write(temp);
    if (options.durable) await fsyncPath(temp, "r+");
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // The rename is durable only once the directory entry is on disk.
  if (options.durable) await fsyncPath(path.dirname(target), "r").catch(() => undefined);
}

/** Writes `data` to `target` atomically (see replaceAtomically); the directory must exist. */
export function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  return replaceAtomically(target, (temp) => writeFile(temp, data), options);
}

/**
 * Removes the temp files of replaceAtomically writers of `dir/targetName` that are abandoned: their
 * writer's pid is gone, or they are older than `maxAgeMs` (no live writer takes that long).
 */
export async function removeStaleTemps(dir: string, targetName: string, maxAgeMs: number): Promise<void> {
  const prefix = tempPrefix(targetName);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
    const file = path.join(dir, name);
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    let stale = !Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid);
    if (!stale) {
      const info = await stat(file).catch(() => undefined);
      stale = info !== undefined && Date.now() - info.mtimeMs > maxAgeMs;
    }
    if (stale) await unlink(file).catch(() => undefined);
  }
}

/** True unless signalling the pid says it does not exist (EPERM means it exists). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function tempPrefix(targetName: string): string {
  return `.${targetName}.`;
}

/**
 * fsync(2)s a file or directory. Only the fsync, which may wait on the disk, goes to the thread
 * pool: open and close are quick syscalls, and a thread-pool round trip each (~0.2 ms) cost an
 * incremental rerun, which makes eight of these, ~3 ms.
 */
async function fsyncPath(file: string, flags: "r" | "r+"): Promise<void> {
  const fd = openSync(file, flags);
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The data directory, checked at the edge: a command that writes learns before anything runs that
 * its data dir is a file, read-only, unwritable or unusable by DuckDB, as one usage error (exit 2),
 * instead of every partition failing with a storage error and a --retry-failed hint.
 */
import { mkdir, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../core/errors.ts";

const WHERE = "(--data-dir or SLUICE_DATA_DIR)";

/** Throws UsageError when `dir` cannot serve as the data dir; `write`: creates it if missing and proves it writable. */
export async function checkDataDir(dir: string, mode: "read" | "write"): Promise<void> {
  // DuckDB reads what follows a "?" in a database path as options, and file_search_path splits on ",".
  const bad = [...dir].find((c) => c === "?" || c === ",");
  if (bad !== undefined) throw new UsageError(`data dir "${dir}" contains "${bad}", which DuckDB cannot use in the warehouse's path; pick another directory ${WHERE}`);
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw unusable(dir, error);
  });
  if (info && !info.isDirectory()) throw new UsageError(`data dir "${dir}" is a file, not a directory; pass a directory ${WHERE}`);
  if (mode === "read") return;
  try {
    if (!info) await mkdir(dir, { recursive: true }).catch(async (error: NodeJS.ErrnoException) => Promise.reject(await trueMkdirError(dir, error)));
    // Permissions, read-only mounts and full disks only show when writing: write a probe file.
    const probe = path.join(dir, `.sluice-write-probe-${process.pid}`);
    await writeFile(probe, "");
    await unlink(probe);
  } catch (error) {
    throw unusable(dir, error as NodeJS.ErrnoException);
  }
}

/**
 * Node's recursive mkdir reports ENOENT when the real cause is a read-only file system or a
 * permission: create the first missing directory alone to learn the real error.
 */
async function trueMkdirError(dir: string, error: NodeJS.ErrnoException): Promise<NodeJS.ErrnoException> {
  if (error.code !== "ENOENT") return error;
  let missing = path.resolve(dir);
  while (path.dirname(missing) !== missing && !(await stat(path.dirname(missing)).then(() => true, () => false))) missing = path.dirname(missing);
  return mkdir(missing).then(
    () => error,
    (real: NodeJS.ErrnoException) => real,
  );
}

function unusable(dir: string, error: NodeJS.ErrnoException): UsageError {
  const why: Record<string, string> = {
    EROFS: "is on a read-only file system",
    EACCES: `is not writable by this user (uid ${process.getuid?.() ?? "?"})`,
    EPERM: `is not writable by this user (uid ${process.getuid?.() ?? "?"})`,
    ENOSPC: "is on a full disk",
    ENOTDIR: "has a file where a directory of its path should be",
  };
  const reason = why[error.code ?? ""] ?? `cannot be used: ${error.message}`;
  return new UsageError(`data dir "${dir}" ${reason} (${error.code ?? "error"}); pass a writable directory ${WHERE}`);
}

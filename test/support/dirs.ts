/** Temporary directories for tests and benchmarks. */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** Whoever runs a cleanup when its work is done: a test's TestContext, or `{ after }` from node:test for a whole file. */
export interface Cleanup {
  after(fn: () => Promise<void>): unknown;
}

/** A fresh empty directory under the OS temp dir; the caller removes it. */
export function tempDir(prefix = "sluice-"): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** A fresh temporary data directory, removed after the test unless SLUICE_KEEP_TEST_DIRS is set. */
export async function tempDataDir(t: Cleanup, prefix = "sluice-test-"): Promise<string> {
  const dir = await tempDir(prefix);
  t.after(async () => {
    if (!process.env["SLUICE_KEEP_TEST_DIRS"]) await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A temporary copy of `source` (a data dir set up once and shared by several tests), removed like tempDataDir's. */
export async function copyDataDir(t: Cleanup, source: string): Promise<string> {
  const dir = await tempDataDir(t);
  await cp(source, dir, { recursive: true });
  return dir;
}

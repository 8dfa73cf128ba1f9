/**
 * A data dir that cannot be written is the user's to fix: one line, exit 2, before anything runs,
 * instead of a failed partition per day with a --retry-failed hint.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ROOT } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, type SluiceExit } from "./support/sluice.ts";

const BIN = path.join(ROOT, "bin", "sluice.mjs");

function assertUsage(result: SluiceExit, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit 2 expected:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.equal(result.stderr.trim().split("\n").length, 1, `one line:\n${result.stderr}`);
  assert.equal(result.stdout, "", "nothing ran");
}

/** Runs a shell script (root only), with a clean SLUICE_* environment. */
function shell(script: string, options: { uid?: number } = {}): Promise<SluiceExit> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_"))), SLUICE_LOG_LEVEL: "warn" };
  const child = spawn("sh", ["-c", script], { cwd: "/", env, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test("a data dir that is a file, or whose path DuckDB cannot use, is a usage error before anything runs", async (t) => {
  const root = await tempDataDir(t);
  const file = path.join(root, "not-a-dir");
  await writeFile(file, "x");
  assertUsage(await runSluice(["run", "events", "--date", "2026-11-19", "--data-dir", file]), /data dir ".*not-a-dir" is a file, not a directory/);
  assertUsage(await runSluice(["backfill", "events", "--from", "2026-11-18", "--to", "2026-11-19", "--data-dir", file]), /is a file, not a directory/);
  assertUsage(await runSluice(["run", "events", "--date", "2026-11-19"], { SLUICE_DATA_DIR: path.join(file, "below") }), /has a file where a directory of its path should be \(ENOTDIR\)/);
  assertUsage(await runSluice(["run", "events", "--date", "2026-11-19", "--data-dir", path.join(root, "what?")]), /contains "\?", which DuckDB cannot use/);
});

test("a read-only file system is named as such (not ENOENT), for an existing and a new data dir", async (t) => {
  if (process.getuid?.() !== 0 || spawnSync("unshare", ["-m", "true"]).status !== 0) return t.skip("needs root and unshare -m (util-linux) to mount a read-only tmpfs");
  const mount = await tempDataDir(t);
  const run = (dir: string): string => `node ${JSON.stringify(BIN)} run events --date 2026-11-19 --data-dir ${JSON.stringify(dir)}`;
  // A private mount namespace: the read-only tmpfs vanishes with the shell.
  const existing = await shell(`unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs ${mount} && mkdir ${mount}/data && mount -o remount,ro ${mount} && ${run(`${mount}/data`)}'`);
  assertUsage(existing, /data dir ".*\/data" is on a read-only file system \(EROFS\)/);
  const fresh = await shell(`unshare -m sh -c 'mount -t tmpfs -o size=1m,ro tmpfs ${mount} && ${run(`${mount}/new/data`)}'`);
  assertUsage(fresh, /data dir ".*\/new\/data" is on a read-only file system \(EROFS\)/);
});

test("a data dir this user may not write is named with the user", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root to run sluice as another user");
  // A checkout in a private directory (mktemp -d is 0700) cannot be run by another user at all.
  const canRead = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(BIN)}, require("fs").constants.R_OK)`], { uid: 65534, gid: 65534 }).status === 0;
  if (!canRead) return t.skip(`uid 65534 cannot read ${BIN} (the checkout is in a private directory); run the tests from a checkout other users can read to cover this`);
  const root = await tempDataDir(t);
  const dir = path.join(root, "owned-by-root");
  await mkdir(dir);
  await chmod(root, 0o755);
  await chmod(dir, 0o755);
  const result = await shell(`node ${JSON.stringify(BIN)} backfill events --from 2026-11-18 --to 2026-11-19 --data-dir ${JSON.stringify(dir)}`, { uid: 65534 });
  assertUsage(result, /data dir ".*owned-by-root" is not writable by this user \(uid 65534\) \(EACCES\)/);
});

/** Cross-process file locks: exclusivity, leases across hosts, waiting, stale takeover and safe release. */
import { readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { LockError } from "../src/core/errors.ts";
import { LEASE_MS, acquireLock, isLockHeld, lockPath } from "../src/load/locks.ts";
import { spawnLockHolder } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";

test("a lock of another host is held while its lease is renewed, and taken over once the lease ran out", async (t) => {
  const dataDir = await tempDataDir(t);
  const file = lockPath(dataDir, "job-events");
  await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "probe" } }).then((l) => l.release());
  const foreign = JSON.stringify({ runId: "run-on-b", pid: process.pid, host: "worker-b.example", since: new Date().toISOString() }) + "\n";
  await writeFile(file, foreign);
  // Renewed a moment ago: the holder on host b is alive as far as we can tell.
  await assert.rejects(acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "mine" } }), (e: unknown) => e instanceof LockError && /worker-b\.example/.test((e as Error).message) && /lease/.test((e as LockError).hint ?? ""));
  assert.equal((await isLockHeld(dataDir, "job-events")).held, true);
  // Not renewed for longer than the lease: host b's holder is gone.
  const old = new Date(Date.now() - LEASE_MS - 5_000);
  await utimes(file, old, old);
  assert.equal((await isLockHeld(dataDir, "job-events")).held, false);
  const lock = await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "mine" } });
  assert.match(await readFile(file, "utf8"), /"runId":"mine"/);
  await lock.release();
});

test("a holder renews its lease while it holds the lock, and stops when it releases", async (t) => {
  const dataDir = await tempDataDir(t);
  const lock = await acquireLock(dataDir, "job-users", { wait: false, owner: { runId: "holder" }, heartbeatMs: 50 });
  const file = lockPath(dataDir, "job-users");
  const old = new Date(Date.now() - LEASE_MS - 5_000);
  await utimes(file, old, old);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(Date.now() - (await stat(file)).mtimeMs < 1_000, "the heartbeat moved the mtime forward");
  await lock.release();
  await assert.rejects(stat(file), "released");
});

test("a lock is exclusive: a second taker fails at once naming the holder, and can take it after release", async (t) => {
  const dataDir = await tempDataDir(t);
  const lock = await acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-a" } });
  const content = JSON.parse(await readFile(lockPath(dataDir, "job-events-2026-11-20"), "utf8")) as Record<string, unknown>;
  assert.equal(content["runId"], "run-a");
  assert.equal(content["pid"], process.pid);
  assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: true, owner: { runId: "run-a", pid: process.pid } });
  await assert.rejects(acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-b" } }), (e: unknown) => {
    assert.ok(e instanceof LockError);
    assert.match(e.message, new RegExp(`held by run run-a \\(pid ${process.pid}`));
    return true;
  });
  // Another name is another lock.
  const other = await acquireLock(dataDir, "warehouse-load-events", { wait: false, owner: { runId: "run-b" } });
  await other.release();
  await lock.release();
  await lock.release(); // idempotent
  assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: false });
  const again = await acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-b" } });
  await again.release();
  assert.deepEqual(await readdir(path.join(dataDir, "locks")), []);
});

test("a lock taken with wait:true polls until the holder releases, and gives up with LockError after timeoutMs", async (t) => {
  const dataDir = await tempDataDir(t);
  const lock = await acquireLock(dataDir, "job-x", { wait: false, owner: { runId: "a" } });
  await assert.rejects(acquireLock(dataDir, "job-x", { wait: true, timeoutMs: 250, owner: { runId: "b" } }), LockError);
  setTimeout(() => void lock.release(), 300);
  const t0 = Date.now();
  const second = await acquireLock(dataDir, "job-x", { wait: true, timeoutMs: 5000, owner: { runId: "b" } });
  assert.ok(Date.now() - t0 >= 250);
  assert.deepEqual(await isLockHeld(dataDir, "job-x"), { held: true, owner: { runId: "b", pid: process.pid } });
  const controller = new AbortController();
  const waiting = acquireLock(dataDir, "job-x", { wait: true, signal: controller.signal, owner: { runId: "c" } });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(waiting, (e: unknown) => (e as Error).name === "CancelledError");
  await second.release();
});

test("the lock of a killed holder is stale and taken over, by exactly one of several takers", async (t) => {
  const dataDir = await tempDataDir(t);
  const { child, exited } = await spawnLockHolder(dataDir, "job-events-2026-11-20", "killed-run");
  const held = await isLockHeld(dataDir, "job-events-2026-11-20");
  assert.deepEqual(held, { held: true, owner: { runId: "killed-run", pid: child.pid } });
  await assert.rejects(acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "too-early" } }), LockError);
  child.kill("SIGKILL");
  await exited;
  assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: false });

  const attempts = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: `taker-${i}` } })),
  );
  const winners = attempts.filter((a) => a.status === "fulfilled");
  assert.equal(winners.length, 1, JSON.stringify(attempts.map((a) => (a.status === "rejected" ? String(a.reason) : "won"))));
  for (const a of attempts) if (a.status === "rejected") assert.ok(a.reason instanceof LockError, String(a.reason));
  const owner = (await isLockHeld(dataDir, "job-events-2026-11-20")).owner;
  assert.ok(owner?.runId.startsWith("taker-"));
  // No claim or temp files are left behind.
  assert.deepEqual(await readdir(path.join(dataDir, "locks")), ["job-events-2026-11-20.lock"]);
  if (winners[0]?.status === "fulfilled") await winners[0].value.release();
});

test("releasing a lock removes it only while we still own it", async (t) => {
  const dataDir = await tempDataDir(t);
  const lock = await acquireLock(dataDir, "job-y", { wait: false, owner: { runId: "a" } });
  const file = lockPath(dataDir, "job-y");
  // Someone took it over (we looked dead to them): our release must not remove their lock.
  const theirs = JSON.stringify({ runId: "b", pid: process.pid, host: "elsewhere", since: new Date().toISOString() });
  await writeFile(file, theirs);
  await lock.release();
  assert.equal(await readFile(file, "utf8"), theirs);
  assert.ok((await stat(file)).isFile());
});

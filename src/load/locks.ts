/**
 * Cross-process file locks under `<dataDir>/locks/<name>.lock`.
 *
 * A lock file is created atomically with its full content (written to a temp file, then link(2)ed
 * to the lock path, which fails with EEXIST like O_EXCL), so nobody ever reads a half-written lock.
 * Content: {runId, pid, host, since, boot, pidNs, start}; the holder renews the file's mtime (a lease).
 * The holder is identified beyond its pid, since pids are reused (a container's sluice is pid 1 every
 * time): `boot` (the kernel's boot id), `pidNs` (the pid namespace) and `start` (the process's start
 * time since boot, from /proc). A lock whose holder we can see (same host, boot and pid namespace) is
 * stale when that pid is gone or now belongs to a process that started at another time; a holder we
 * cannot see (another host, another pid namespace) is judged by its lease. A stale lock is taken
 * over; see takeOverStale for why two takers cannot both win.
 */
import { createHash, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { link, readFile, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CancelledError, LockError, UsageError } from "../core/errors.ts";
import { isProcessAlive } from "../core/fs.ts";

/** A held lock. */
export interface Lock {
  /** Removes the lock file if we still own it; safe to call twice. */
  release(): Promise<void>;
}

interface LockContent {
  runId: string;
  pid: number;
  host: string;
  since: string;
  /** Where /proc tells (Linux): the boot id, the pid namespace, the process's start time in clock ticks since boot. */
  boot?: string;
  pidNs?: string;
  start?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const POLL_MS = 100;
/** A holder refreshes its lock file's mtime this often (its lease)... */
const HEARTBEAT_MS = 10_000;
/** ...and a lock of another host not refreshed for this long belongs to a dead holder. */
export const LEASE_MS = 60_000;
/** A takeover claim older than this belongs to a taker that died mid-takeover. */
const CLAIM_STUCK_MS = 10_000;

/** How acquireLock takes a lock. */
export interface AcquireOptions {
  /** false: fail at once with LockError naming the holder; true: poll until the lock is free or timeoutMs. */
  wait: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  owner: { runId: string };
  heartbeatMs?: number;
  /** Told once, at once, when the wait starts: "waiting for <what> held by ...". */
  onWait?: (message: string) => void;
  /** What the lock guards, for messages (default: "lock <name>"). */
  what?: string;
}

/** Takes the lock `name`; see AcquireOptions. */
export async function acquireLock(dataDir: string, name: string, options: AcquireOptions): Promise<Lock> {
  const file = lockPath(dataDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const content: LockContent = { runId: options.owner.runId, pid: process.pid, host: hostname(), since: new Date().toISOString(), ...selfIdentity() };
  const raw = `${JSON.stringify(content)}\n`;
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const what = options.what ?? `lock ${name}`;
  let announced = false;
  for (;;) {
    throwIfAborted(options.signal, name);
    if (tryCreate(file, raw)) return new FileLock(file, raw, options.heartbeatMs ?? HEARTBEAT_MS);
    const current = await readLock(file);
    if (current === "missing") continue; // released between our attempt and the read: try again
    if (judge(current) === "stale") {
      await takeOverStale(file, current.raw);
      continue;
    }
    if (!options.wait || Date.now() >= deadline) throw heldError(what, file, current);
    if (!announced) {
      announced = true;
      options.onWait?.(`waiting for ${what} held by ${describeHolder(current)}${current.content && !visible(current.content) ? `; ${leaseNote(current)}` : ""}`);
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), undefined, options.signal ? { signal: options.signal } : undefined).catch(() => undefined);
  }
}

/** "run X (pid N on host, since T)". */
function describeHolder(lock: { content: LockContent | undefined }): string {
  const holder = lock.content;
  return holder ? `run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : "an unknown holder";
}

/** How a holder we cannot see is judged, and when its lock is free if it died. */
function leaseNote(lock: { content: LockContent | undefined; mtimeMs: number }): string {
  const where = lock.content && lock.content.host !== hostname() ? "on another host" : "in another pid namespace or boot";
  const renewed = Math.max(0, Math.round((Date.now() - lock.mtimeMs) / 1000));
  return `the holder runs ${where}, so its lease decides: it renews it every ${HEARTBEAT_MS / 1000} s (last ${renewed} s ago), and if it died the lock is taken over ${LEASE_MS / 1000} s after its last renewal`;
}

function heldError(what: string, file: string, lock: { content: LockContent | undefined; mtimeMs: number }): LockError {
  const holder = lock.content;
  return new LockError(`${what} is held by ${describeHolder(lock)}`, {
    hint: holder && !visible(holder) ? leaseNote(lock) : `wait for it to finish; if pid ${holder?.pid ?? "?"} is not a sluice process, remove ${file}`,
  });
}

/** Whether the lock is held by a live owner (a stale lock counts as not held). */
export async function isLockHeld(dataDir: string, name: string): Promise<{ held: boolean; owner?: { runId: string; pid: number } }> {
  const current = await readLock(lockPath(dataDir, name));
  if (current === "missing" || judge(current) === "stale") return { held: false };
  return current.content ? { held: true, owner: { runId: current.content.runId, pid: current.content.pid } } : { held: true };
}

/** The lock file of a name. */
export function lockPath(dataDir: string, name: string): string {
  if (!NAME_RE.test(name)) throw new UsageError(`lock name "${name}" may only hold letters, digits, ".", "_" and "-"`);
  return path.join(dataDir, "locks", `${name}.lock`);
}

class FileLock implements Lock {
  private released = false;
  private readonly heartbeat: NodeJS.Timeout;
  constructor(
    private readonly file: string,
    private readonly raw: string,
    heartbeatMs: number,
  ) {
    // The lease: other hosts cannot see whether our pid lives, but they can see the mtime move.
    this.heartbeat = setInterval(() => void this.renew(), heartbeatMs);
    this.heartbeat.unref();
  }

  private async renew(): Promise<void> {
    const text = await readFile(this.file, "utf8").catch(() => undefined);
    if (text === this.raw && !this.released) await utimes(this.file, new Date(), new Date()).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    // Only remove our own incarnation: if it was taken over (we looked dead), it is not ours anymore.
    if (readQuietly(this.file) === this.raw) unlinkQuietly(this.file);
  }
}

/*
 * Creating and removing a lock file (and its directory) is done with synchronous calls: a few
 * syscalls on a file of ~200 bytes take tens of µs, where each call through the thread pool costs a
 * round trip of ~0.2 ms; a run takes and lets go of two locks, ~3 ms of an incremental rerun's ~90 ms
 * when done asynchronously. Waiting, reading another's lock and taking over a stale one stay async.
 */

/** Creates the lock file with its content in one step; false when it exists. */
function tryCreate(file: string, raw: string): boolean {
  const temp = `${file}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(temp, raw, { flag: "wx" });
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkQuietly(temp);
  }
}

/** The file's text, or undefined when it cannot be read. */
function readQuietly(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Removes the file if it can. */
function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone, or not ours to remove
  }
}

type ReadLock = "missing" | { raw: string; content: LockContent | undefined; mtimeMs: number };

async function readLock(file: string): Promise<ReadLock> {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = await readFile(file, "utf8");
    mtimeMs = (await stat(file)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw error;
  }
  return { raw, content: parseLock(raw), mtimeMs };
}

function parseLock(raw: string): LockContent | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockContent>;
    if (typeof v.runId === "string" && typeof v.pid === "number" && typeof v.host === "string" && typeof v.since === "string") {
      const extra = Object.fromEntries((["boot", "pidNs", "start"] as const).filter((k) => typeof v[k] === "string").map((k) => [k, v[k] as string]));
      return { runId: v.runId, pid: v.pid, host: v.host, since: v.since, ...extra };
    }
  } catch {
    // fall through: unreadable
  }
  return undefined;
}

/**
 * Whether a lock's holder lives. A holder we can see (visible) is stale when its pid is gone, or
 * is now a process that started at another time than the holder did (the pid was reused). Any
 * other holder (another host sharing the data dir, another pid namespace, another boot) is judged
 * by its lease: stale once the file's mtime was not renewed for LEASE_MS. Lock files are created
 * whole, so unreadable content is damage (disk full, manual edit), also taken over.
 */
function judge(lock: { content: LockContent | undefined; mtimeMs: number }): "held" | "stale" {
  const holder = lock.content;
  if (!holder) return "stale";
  if (!visible(holder)) return Date.now() - lock.mtimeMs > LEASE_MS ? "stale" : "held";
  const startNow = holder.pid === process.pid ? selfIdentity().start : processStart(holder.pid);
  if (holder.pid !== process.pid && !isProcessAlive(holder.pid)) return "stale";
  // Our own pid is held by us (another run of this process) unless the holder started at another time.
  return holder.start !== undefined && startNow !== undefined && holder.start !== startNow ? "stale" : "held";
}

/** True when this process can tell whether the holder's pid is its process: same host, boot and pid namespace. */
function visible(holder: LockContent): boolean {
  if (holder.host !== hostname()) return false;
  const self = selfIdentity();
  if (holder.boot !== undefined && self.boot !== undefined && holder.boot !== self.boot) return false;
  return !(holder.pidNs !== undefined && self.pidNs !== undefined && holder.pidNs !== self.pidNs);
}

let identity: Pick<LockContent, "boot" | "pidNs" | "start"> | undefined;

/** This process's boot id, pid namespace and start time, where /proc has them (read once). */
function selfIdentity(): Pick<LockContent, "boot" | "pidNs" | "start"> {
  if (identity) return identity;
  const boot = readProc(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  const pidNs = readProc(() => readlinkSync("/proc/self/ns/pid"));
  const start = processStart(process.pid);
  identity = { ...(boot ? { boot } : {}), ...(pidNs ? { pidNs } : {}), ...(start ? { start } : {}) };
  return identity;
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined. */
function processStart(pid: number): string | undefined {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
  const stat = readProc(() => readFileSync(`/proc/${pid}/stat`, "utf8"));
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

function readProc(read: () => string): string | undefined {
  try {
    return read() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the stale incarnation whose content is `staleRaw`, and nothing else.
 *
 * The taker first claims that incarnation by hard-linking the lock to `<lock>.stale-<hash of content>`:
 * link(2) fails if the claim exists, so one taker wins per incarnation. The claim is then checked to
 * hold the stale content (it links whatever the lock file was at that instant; a fresh lock has other
 * content, and then we back off). While the claim exists, the stale inode cannot be freed and reused,
 * so `lock.ino === claim.ino` proves the lock path still is the stale incarnation before we unlink it.
 * Afterwards everyone races for the now free lock path through tryCreate, and exactly one wins.
 */
async function takeOverStale(file: string, staleRaw: string): Promise<void> {
  const claim = `${file}.stale-${createHash("sha256").update(staleRaw).digest("hex").slice(0, 16)}`;
  try {
    await link(file, claim);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return; // the lock is gone already
    if (code !== "EEXIST") throw error;
    // Someone else is taking over; if their claim is old, they died doing it: clear it.
    const info = await stat(claim).catch(() => undefined);
    if (info && Date.now() - info.ctimeMs > CLAIM_STUCK_MS) await unlink(claim).catch(() => undefined);
    else await sleep(10);
    return;
  }
  try {
    const claimed = await readFile(claim, "utf8").catch(() => undefined);
    if (claimed !== staleRaw) return;
    const [lockInfo, claimInfo] = await Promise.all([stat(file).catch(() => undefined), stat(claim)]);
    if (lockInfo && lockInfo.ino === claimInfo.ino && lockInfo.dev === claimInfo.dev) await unlink(file).catch(() => undefined);
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}

function throwIfAborted(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new CancelledError(`cancelled while waiting for lock ${name}`);
}

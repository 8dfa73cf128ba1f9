/**
 * Lock holders identified beyond their pid: a pid reused by a new process (a restarted container's
 * pid 1, a busy host) does not keep a dead run's lock; a holder in another pid namespace is judged by
 * its lease; and a run that waits for the job lock says who holds it, at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { readFile, utimes, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { LEASE_MS, acquireLock, isLockHeld, lockPath } from "../src/load/locks.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { ROOT, spawnLockHolder } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { startSluice, type SluiceExit } from "./support/sluice.ts";

const DAY = "2026-11-19";
const BIN = path.join(ROOT, "bin", "sluice.mjs");

/** One event per day; the first `stall` requests never get an answer (a run that stays in progress), `stalled` resolves at the first. */
async function eventsServer(t: { after: (fn: () => Promise<void>) => void }, stall: number): Promise<{ url: string; stalled: Promise<void> }> {
  const held: ServerResponse[] = [];
  let first: () => void = () => {};
  const stalled = new Promise<void>((r) => (first = r));
  const server = createServer((req, res) => {
    if (held.length < stall) {
      held.push(res);
      first();
      return;
    }
    const start = new URL(req.url ?? "/", "http://x").searchParams.get("start") ?? "";
    const record = { event_id: `e-${start.slice(0, 10)}`, user_id: 1, ts: start.replace("00:00:00", "12:00:00"), event_type: "login" };
    res.setHeader("content-type", "application/json").end(JSON.stringify({ data: [record], next_cursor: null }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => {
    for (const res of held) res.destroy();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stalled };
}

/** Runs argv to the end with a clean SLUICE_* environment. */
function runProcess(argv: string[]): Promise<SluiceExit> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_"))), SLUICE_LOG_LEVEL: "warn" };
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runStatuses(dataDir: string): Promise<string[]> {
  return withWarehouse(dataDir, "read", async (c) => (await query(c, `select status from sluice.runs where dt = '${DAY}' order by started_at`)).rows.map((r) => String(r[0])));
}

/** Whether pid namespaces can be made here (root and util-linux's unshare). */
function unshareMissing(): string | false {
  if (process.getuid?.() !== 0) return "needs root for unshare -p";
  const probe = spawnSync("unshare", ["-p", "-f", "--mount-proc", "true"]);
  return probe.status === 0 ? false : `unshare -p -f --mount-proc does not work here (util-linux): ${String(probe.stderr ?? probe.error)}`;
}

test("a lock whose pid now belongs to a process that started at another time is stale; our own live run's is not", async (t) => {
  const dataDir = await tempDataDir(t);
  const self = {
    host: hostname(),
    boot: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
    pidNs: readlinkSync("/proc/self/ns/pid"),
    start: readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ")[19],
  };
  const file = lockPath(dataDir, "job-events");
  await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "probe" } }).then((l) => l.release());
  // A dead run whose pid is ours now: same host, boot and namespace, another start time.
  await writeFile(file, JSON.stringify({ runId: "ghost", pid: process.pid, since: new Date().toISOString(), ...self, start: "1" }) + "\n");
  assert.deepEqual(await isLockHeld(dataDir, "job-events"), { held: false });
  const lock = await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "mine" } });
  assert.match(await readFile(file, "utf8"), /"runId":"mine"/);
  // Another run of this very process (same pid and start time) does hold it.
  await assert.rejects(acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "second" } }), /held by run mine/);
  await lock.release();
});

test("a run killed under unshare -p is not 'in progress' once a new process gets its pid", async (t) => {
  const missing = unshareMissing();
  if (missing) return t.skip(missing);
  const { url: apiUrl } = await eventsServer(t, 1);
  const dataDir = await tempDataDir(t);
  // Its landing directory appears once the run is recorded and extracting.
  const landing = path.join(dataDir, "raw", "events", `dt=${DAY}`);
  const sluice = `node ${JSON.stringify(BIN)} run events --date ${DAY} --api-url ${apiUrl} --data-dir ${JSON.stringify(dataDir)}`;
  // In one pid namespace: a run that hangs on its first request, kill -9, then the next process forked gets its pid.
  const script = [
    `${sluice} & P=$!`,
    `while [ ! -d ${JSON.stringify(landing)} ]; do sleep 0.05; done`,
    `kill -9 $P; wait $P`,
    `echo $((P-1)) > /proc/sys/kernel/ns_last_pid`,
    `${sluice} & Q=$!`,
    `echo "pids $P $Q"; wait $Q; echo "exit $?"`,
  ].join("\n");
  const result = await runProcess(["unshare", "-p", "-f", "--mount-proc", "bash", "-c", script]);
  const [, killed, reused] = /pids (\d+) (\d+)/.exec(result.stdout) ?? [];
  assert.ok(killed !== undefined && killed === reused, `the second run got the killed run's pid: ${result.stdout}`);
  assert.match(result.stdout, /exit 0/, `the second run took over the dead run's lock and succeeded:\n${result.stdout}\n${result.stderr}`);
  assert.deepEqual(await runStatuses(dataDir), ["abandoned", "succeeded"]);
});

test("as pid 1 of a new pid namespace each time, a killed run's lock is judged by its lease, then taken over", async (t) => {
  const missing = unshareMissing();
  if (missing) return t.skip(missing);
  const { url: apiUrl, stalled } = await eventsServer(t, 1);
  const dataDir = await tempDataDir(t);
  const lock = lockPath(dataDir, `run-events-${DAY}`);
  const run = ["unshare", "-p", "-f", "--mount-proc", "--kill-child", process.execPath, BIN, "run", "events", "--date", DAY, "--api-url", apiUrl, "--data-dir", dataDir];
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_"))), SLUICE_LOG_LEVEL: "warn" };
  const holder = spawn(run[0] as string, run.slice(1), { cwd: ROOT, env, stdio: "ignore" });
  await stalled; // the run is recorded and extracting
  assert.equal(JSON.parse(await readFile(lock, "utf8")).pid, 1, "sluice is pid 1 of its namespace");
  holder.kill("SIGKILL"); // unshare --kill-child: the namespace's pid 1 gets SIGKILL too
  await new Promise((r) => holder.on("close", r));

  // pid 1 is alive in the next namespace too (it is the new run): only the lease can tell.
  const early = await runProcess(run);
  assert.equal(early.code, 1, early.stderr);
  assert.match(early.stdout, /another run of events for 2026-11-19 is in progress/);
  // The whole message is in the run's log line (the summary cuts long errors).
  assert.match(early.stderr, /lock run-events-2026-11-19 is held by run events-2026-11-19-\w+ \(pid 1 on/);
  assert.match(early.stdout + early.stderr, /another pid namespace/);
  assert.match(early.stdout + early.stderr, new RegExp(`taken over ${LEASE_MS / 1000} s after its last renewal`));

  // The dead holder renews nothing: once its lease ran out (here: fast-forwarded), the next run takes over.
  const expired = new Date(Date.now() - LEASE_MS - 5_000);
  await utimes(lock, expired, expired);
  const late = await runProcess(run);
  assert.equal(late.code, 0, late.stderr);
  assert.deepEqual(await runStatuses(dataDir), ["abandoned", "succeeded"]);
});

test("a run waiting for the job lock says at once who holds it, and goes on when the holder dies", async (t) => {
  const { url: apiUrl } = await eventsServer(t, 0);
  const dataDir = await tempDataDir(t);
  const { child: holder, exited } = await spawnLockHolder(dataDir, "job-events", "holder-run");
  const { child, done } = startSluice(["run", "events", "--date", DAY, "--api-url", apiUrl, "--data-dir", dataDir]);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  await until(() => /waiting for the job lock of events held by run holder-run \(pid \d+/.test(stderr), "the waiting message");
  assert.equal(child.exitCode, null, "still waiting");
  holder.kill("SIGKILL");
  await exited;
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await runStatuses(dataDir), ["succeeded"]);
});

/**
 * The rate limit shared through Redis: three worker-like processes against a loopback server that
 * answers 429 above R requests/s stay under R together, where three in-process buckets do not;
 * and, in one process, its rps/burst bounds, keys per source and origin, abort, and the fallback
 * when Redis is away (three `sluice worker` processes: test/shared-rate-limit-workers.test.ts).
 * Uses a real redis-server (Debian package redis-server).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { Redis } from "ioredis";
import { SharedRateLimit } from "../src/extract/shared-rate-limit.ts";
import { maxInSpan } from "./fixtures/metered-api.ts";
import { redisForFile, redisUnavailable } from "./fixtures/redis.ts";
import { once } from "./support/once.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLIENT = path.join(ROOT, "test", "fixtures", "rate-limit-client.ts");
const skip = redisUnavailable();

/** The server's limit, and each process' configured limit: one process' rps + 2 x burst stays under R, three processes' do not. */
const R = 15;
const RPS = 8;
const BURST = 2;
const REQUESTS_PER_PROCESS = 12;

const redisUrl = redisForFile(skip);

/** An ioredis client closed after the test. */
function client(t: TestContext): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  t.after(() => redis.disconnect());
  return redis;
}

/** A source API on loopback that answers 429 to a request when more than R arrived in the last second (itself included). */
async function limitedApi(): Promise<{ url: string; arrivals: number[]; close: () => Promise<void> }> {
  const arrivals: number[] = [];
  const server = createServer((_req, res) => {
    const now = performance.now();
    arrivals.push(now);
    const lastSecond = arrivals.filter((a) => a > now - 1000).length;
    if (lastSecond > R) res.writeHead(429, { "retry-after": "1" }).end("slow down");
    else res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = (): Promise<void> => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`, arrivals, close };
}

interface ClientProcess {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<Record<string, number>>;
}

/** Starts one client process (see test/fixtures/rate-limit-client.ts); it waits for "go" once ready. */
function spawnClient(mode: "shared" | "local", url: string): ClientProcess {
  const args = JSON.stringify({ mode, redisUrl: redisUrl(), url, requests: REQUESTS_PER_PROCESS, rps: RPS, burst: BURST });
  const child = spawn(process.execPath, ["--import", "tsx", CLIENT, args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", () => stdout.includes("ready\n") && resolve());
    child.once("exit", (code) => reject(new Error(`client exited (${code}) before ready: ${stderr}`)));
  });
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`client exited with ${code}: ${stderr}`));
      resolve(JSON.parse(stdout.split("\n").filter(Boolean).at(-1) ?? "{}") as Record<string, number>);
    });
  });
  return { child, ready, done };
}

/** Status counts summed over processes. */
function sum(counts: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const c of counts) for (const [status, n] of Object.entries(c)) total[status] = (total[status] ?? 0) + n;
  return total;
}

interface TrioResult {
  statuses: Record<string, number>;
  arrivals: number[];
}

/**
 * Three processes sharing the limit through Redis against one server, and three with their own
 * in-process buckets against another, all started together (process start-up is most of the time).
 */
async function runBothTrios(): Promise<{ shared: TrioResult; local: TrioResult }> {
  const sharedApi = await limitedApi();
  const localApi = await limitedApi();
  const shared = [0, 1, 2].map(() => spawnClient("shared", sharedApi.url));
  const local = [0, 1, 2].map(() => spawnClient("local", localApi.url));
  const all = [...shared, ...local];
  try {
    await Promise.all(all.map((c) => c.ready));
    for (const c of all) c.child.stdin?.write("go\n");
    const [sharedCounts, localCounts] = await Promise.all([Promise.all(shared.map((c) => c.done)), Promise.all(local.map((c) => c.done))]);
    return { shared: { statuses: sum(sharedCounts), arrivals: sharedApi.arrivals }, local: { statuses: sum(localCounts), arrivals: localApi.arrivals } };
  } finally {
    for (const c of all) if (c.child.exitCode === null) c.child.kill("SIGKILL");
    await Promise.all([sharedApi.close(), localApi.close()]);
  }
}

/** Both trios run once, together, and the two tests below read their result. */
const trios = once(runBothTrios);

test("three worker processes against a source that answers 429 above R requests/s, sharing the limit through Redis, stay under R together: no 429", { skip }, async () => {
  const { shared } = await trios();
  assert.deepEqual(shared.statuses, { "200": 3 * REQUESTS_PER_PROCESS });
  const peak = maxInSpan(shared.arrivals, 1000);
  assert.ok(peak <= R, `at most ${R} in any second, got ${peak}`);
});

test("three worker processes with their own in-process buckets exceed R: the shared limit is what keeps them under", { skip }, async () => {
  const { statuses, arrivals } = (await trios()).local;
  assert.equal((statuses["200"] ?? 0) + (statuses["429"] ?? 0), 3 * REQUESTS_PER_PROCESS);
  assert.ok((statuses["429"] ?? 0) > 0, `expected 429s, got ${JSON.stringify(statuses)}`);
  assert.ok(maxInSpan(arrivals, 1000) > R);
});

test("two limiters on one key admit at most burst per window between them and never go faster than rps", { skip }, async (t) => {
  const rps = 20;
  const burst = 2;
  const a = new SharedRateLimit({ redis: client(t), key: "http://api.test|bounds", rps, burst });
  const b = new SharedRateLimit({ redis: client(t), key: "http://api.test|bounds", rps, burst });
  // Each admission at the start of the window Redis counted it in (the window is part of its key),
  // not when this process got round to noticing it: on a busy machine a stalled event loop made
  // admissions of two windows look 13 to 500 ms.
  const times: number[] = [];
  const windowMs = (burst * 1000) / rps;
  for (const limiter of [a, b]) {
    const inner = (limiter as unknown as { limiter: { consume(key: string, points: number): Promise<unknown> } }).limiter;
    const consume = inner.consume.bind(inner);
    inner.consume = async (key: string, points: number) => {
      const admitted = await consume(key, points);
      times.push(Number(key.split("|").at(-1)) * windowMs);
      return admitted;
    };
  }
  const started = performance.now();
  const take = async (limiter: SharedRateLimit): Promise<void> => {
    for (let i = 0; i < 12; i++) await limiter.acquire();
  };
  await Promise.all([take(a), take(b)]);
  assert.equal(times.length, 24, "every acquire was admitted by Redis' count");
  // 24 slots of 2 per 100 ms window: 12 windows, the first possibly already under way.
  assert.ok(performance.now() - started >= 1_000, `24 acquires took ${Math.round(performance.now() - started)} ms`);
  // Any 500 ms span meets at most 6 windows of 100 ms.
  assert.ok(maxInSpan(times, 500) <= 12, `at most 12 in any 500 ms, got ${maxInSpan(times, 500)}`);
});

test("each source and origin has its own limit, and aborting a wait rejects with the signal's reason", { skip }, async (t) => {
  const redis = client(t);
  // One request per 10 s window: make sure the first one is not taken at the very end of a window.
  const windowMs = 10_000;
  const intoWindow = Date.now() % windowMs;
  if (intoWindow > windowMs - 2_000) await new Promise((r) => setTimeout(r, windowMs - intoWindow + 50));
  const slow = new SharedRateLimit({ redis, key: "http://a.test|keys", rps: 0.1, burst: 1 });
  const other = new SharedRateLimit({ redis, key: "http://b.test|keys", rps: 0.1, burst: 1 });
  const otherSource = new SharedRateLimit({ redis, key: "http://a.test|keys-2", rps: 0.1, burst: 1 });
  await slow.acquire();

  const controller = new AbortController();
  let waitingSettled = false;
  const waiting = slow.acquire(controller.signal).finally(() => (waitingSettled = true));
  await other.acquire();
  await otherSource.acquire();
  assert.equal(waitingSettled, false, "the second request on a.test waits for the next window");

  controller.abort(new Error("run cancelled"));
  await assert.rejects(waiting, /run cancelled/);
  await assert.rejects(slow.acquire(AbortSignal.abort(new Error("already cancelled"))), /already cancelled/);
});

test("a limit needs rps > 0 and a whole burst >= 1", { skip }, (t) => {
  const redis = client(t);
  assert.throws(() => new SharedRateLimit({ redis, key: "o|s", rps: 0, burst: 1 }), RangeError);
  assert.throws(() => new SharedRateLimit({ redis, key: "o|s", rps: 5, burst: 0 }), RangeError);
  assert.throws(() => new SharedRateLimit({ redis, key: "o|s", rps: 5, burst: 1.5 }), /whole burst >= 1 \(got 5, 1.5\)/);
});

test("when Redis cannot be reached the limit holds in memory instead of failing", { skip }, async (t) => {
  const down = new Redis({ host: "127.0.0.1", port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  down.on("error", () => undefined);
  t.after(() => down.disconnect());
  const limiter = new SharedRateLimit({ redis: down, key: "http://api.test|fallback", rps: 10, burst: 2 });
  const started = performance.now();
  for (let i = 0; i < 6; i++) await limiter.acquire();
  // 6 requests at 2 per 200 ms window cross at least two window boundaries.
  assert.ok(performance.now() - started >= 190, `6 acquires took ${Math.round(performance.now() - started)} ms`);
});

/**
 * Scale-out benchmark: a backfill of many small days through the queue with 1, 2, 3... worker
 * processes, against a local (in-process) backfill of the same days. Workers are started and
 * connected before the clock starts (they are long-running), so the times are the backfill's own.
 *
 *   node --import tsx bench/queue-scaling.ts [--days 12] [--events-per-day 5000] [--workers 1,2,3]
 *        [--worker-concurrency 1] [--repeat 2] [--api-latency-ms 0]
 *
 * --api-latency-ms delays every response of the demo API (a proxy in front of it), like a remote
 * API across a network: the demo API on loopback answers in microseconds, so without it every
 * stage is CPU-bound and all processes share this machine's cores.
 *
 * Needs redis-server (Debian package redis-server). Prints one line per run and a table of medians.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { addDays, dayRange } from "../src/core/dates.ts";
import { createLogger } from "../src/core/log.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import { enqueueBackfill } from "../src/queue/backfill.ts";
import { queueStatus } from "../src/queue/status.ts";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
import { redisUnavailable, startRedis } from "../test/fixtures/redis.ts";
import { tempDir } from "../test/support/dirs.ts";
import { freePort } from "../test/support/net.ts";
import { testRunSettings } from "../test/support/settings.ts";
import { cleanEnv as withoutSluiceEnv } from "../test/support/sluice.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: {
    days: { type: "string", default: "12" },
    "events-per-day": { type: "string", default: "5000" },
    workers: { type: "string", default: "1,2,3" },
    "worker-concurrency": { type: "string", default: "1" },
    repeat: { type: "string", default: "2" },
    "api-latency-ms": { type: "string", default: "0" },
  },
});
const DAYS = Number(values.days);
const EVENTS = Number(values["events-per-day"]);
const WORKERS = (values.workers ?? "1,2,3").split(",").map(Number);
const WORKER_CONCURRENCY = Number(values["worker-concurrency"]);
const REPEAT = Number(values.repeat);
const LATENCY_MS = Number(values["api-latency-ms"]);
const days = dayRange("2026-10-01", addDays("2026-10-01", DAYS - 1));
const events = getJob("events");
const log = createLogger({ level: "silent", pretty: false });
const cleanEnv = withoutSluiceEnv();

const unavailable = redisUnavailable();
if (unavailable) {
  console.error(unavailable);
  process.exit(1);
}

const redis = await startRedis();
const apiPort = await freePort();
const api = spawn(process.execPath, [path.join(ROOT, "bin", "sluice.mjs"), "demo-api", "--port", String(apiPort), "--events-per-day", String(EVENTS)], { cwd: ROOT, env: cleanEnv, stdio: "ignore" });
let proxy: Server | undefined;
const upstreamUrl = `http://127.0.0.1:${apiPort}`;
const apiUrl = LATENCY_MS > 0 ? await latencyProxy(upstreamUrl, LATENCY_MS) : upstreamUrl;
const children: ChildProcess[] = [api];
const stopAll = async (): Promise<void> => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  await sleep(500);
  await redis.stop();
  proxy?.close();
};
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));

try {
  await warm();
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}`);
  console.log(`backfill of ${DAYS} days x ~${EVENTS} events (job events), workers ${WORKERS.join("/")} x concurrency ${WORKER_CONCURRENCY}, ${REPEAT} repeat(s), API latency ${LATENCY_MS} ms/response\n`);
  const configs = ["local c=1", "local c=2", ...WORKERS.map((n) => `queue ${n}w`)];
  const times = new Map<string, number[]>(configs.map((c) => [c, []]));
  const rows = new Map<string, number>();
  for (let r = 0; r < REPEAT; r++) {
    // Rotate the order every repeat so drift on a shared machine does not favour one configuration.
    const order = configs.map((_, i) => configs[(i + r) % configs.length] as string);
    for (const config of order) {
      const dataDir = await tempDir("sluice-qbench-");
      try {
        const ms = config.startsWith("local") ? await local(dataDir, Number(config.slice(-1))) : await queued(dataDir, Number(config.split(" ")[1]?.replace("w", "")));
        times.get(config)?.push(ms);
        const count = await withWarehouse(dataDir, "read", (c) => query(c, "select count(*) from events"));
        rows.set(config, Number(count.rows[0]?.[0] ?? 0));
        console.log(`repeat ${r + 1}: ${config.padEnd(10)} ${(ms / 1000).toFixed(2)} s  (${rows.get(config)} event rows)`);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  const base = median(times.get("queue 1w") ?? []);
  console.log(`\n| configuration | median wall time | speed-up vs 1 worker | event rows |\n| --- | --- | --- | --- |`);
  for (const c of configs) {
    const m = median(times.get(c) ?? []);
    console.log(`| ${c} | ${(m / 1000).toFixed(2)} s | ${(base / m).toFixed(2)}x | ${rows.get(c)} |`);
  }
  if (new Set(rows.values()).size !== 1) console.log("\nWARNING: the configurations loaded different row counts");
} finally {
  await stopAll();
}

/** Waits for the demo API and generates every day once (the first request of a day builds it). */
async function warm(): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await fetch(`${upstreamUrl}/v1/users?offset=0&limit=1`);
      break;
    } catch {
      if (i > 100) throw new Error("the demo API did not start");
      await sleep(100);
    }
  }
  for (const dt of days) await fetch(`${upstreamUrl}/v1/events?start=${dt}T00:00:00Z&end=${addDays(dt, 1)}T00:00:00Z&limit=1`).then((r) => r.arrayBuffer());
}

async function local(dataDir: string, concurrency: number): Promise<number> {
  const t0 = performance.now();
  const outcomes = await runBackfill(events, days, { concurrency, force: false, retryFailed: false }, testRunSettings(dataDir, apiUrl, {}, { log }));
  const ms = performance.now() - t0;
  if (!outcomes.every((o) => o.status === "succeeded")) throw new Error(`local backfill: ${outcomes.map((o) => o.status).join(",")}`);
  return ms;
}

async function queued(dataDir: string, workers: number): Promise<number> {
  const procs = Array.from({ length: workers }, () => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, "bin", "sluice.mjs"), "worker", "--queue", redis.url, "--data-dir", dataDir, "--api-url", apiUrl, "--concurrency", String(WORKER_CONCURRENCY)],
      { cwd: ROOT, env: { ...cleanEnv, SLUICE_LOG_LEVEL: "warn" }, stdio: "ignore" },
    );
    children.push(child);
    return child;
  });
  try {
    while ((await queueStatus(redis.url)).workers.length < workers) await sleep(100);
    const t0 = performance.now();
    const outcomes = await enqueueBackfill(events, days, { queueUrl: redis.url, force: false, retryFailed: false }, testRunSettings(dataDir, apiUrl, {}, { log }));
    const ms = performance.now() - t0;
    if (!outcomes.every((o) => o.status === "succeeded")) throw new Error(`queued backfill: ${outcomes.map((o) => `${o.status} ${o.error ?? ""}`).join(",")}`);
    return ms;
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once("exit", r)) : undefined)));
    while ((await queueStatus(redis.url)).workers.length > 0) await sleep(50);
  }
}

/** A proxy that answers every request `ms` later than the upstream does. */
async function latencyProxy(upstream: string, ms: number): Promise<string> {
  proxy = createServer((req, res) => {
    void (async () => {
      const [response] = await Promise.all([fetch(`${upstream}${req.url ?? "/"}`), sleep(ms)]);
      const body = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "application/json" }).end(body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => proxy?.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

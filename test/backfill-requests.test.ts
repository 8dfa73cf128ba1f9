/**
 * Requested days are remembered: a backfill records its range before it runs, so a day that never
 * ran (Ctrl-C, a failure before its run was recorded) shows as pending and --retry-failed runs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { acquireLock } from "../src/load/locks.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, startSluice } from "./support/sluice.ts";

const DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"] as const;

/** One event per day; requests for days after `fastDay` wait `delayMs` (a run in progress to interrupt). */
async function dayServer(
  t: { after: (fn: () => Promise<void>) => void },
  options: { fastDay?: string; delayMs?: number; onRequest?: (start: string) => void } = {},
): Promise<string> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const start = url.searchParams.get("start") ?? "";
    options.onRequest?.(start);
    const record = { event_id: `e-${start.slice(0, 10)}`, user_id: 1, ts: start.replace("00:00:00", "12:00:00"), event_type: "login" };
    const delay = options.fastDay !== undefined && !start.startsWith(options.fastDay) ? (options.delayMs ?? 0) : 0;
    setTimeout(() => res.setHeader("content-type", "application/json").end(JSON.stringify({ data: [record], next_cursor: null })), delay);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `sluice status events` as dt -> status. */
async function statuses(dataDir: string): Promise<Record<string, string>> {
  const status = await runSluice(["status", "events", "--format", "json", "--data-dir", dataDir]);
  assert.equal(status.code, 0, status.stderr);
  return Object.fromEntries((JSON.parse(status.stdout) as Array<{ dt: string; status: string }>).map((r) => [r.dt, r.status]));
}

test("after Ctrl-C, the days that never started show as pending, and --retry-failed alone runs every one of them", async (t) => {
  // Interrupt once the first day is loaded and the second is in progress (its run is recorded before it extracts).
  let secondDayRunning: () => void = () => {};
  const running = new Promise<void>((resolve) => (secondDayRunning = resolve));
  // Read at every request: the retry below gets its pages at once (else 4 days of 4 s each, two at a time).
  const slow = { fastDay: DAYS[0], delayMs: 4_000, onRequest: (start: string) => start.startsWith(DAYS[1]) && secondDayRunning() };
  const apiUrl = await dayServer(t, slow);
  const dataDir = await tempDataDir(t);
  const { child, done } = startSluice(["backfill", "events", "--from", DAYS[0], "--to", DAYS[4], "--concurrency", "1", "--api-url", apiUrl, "--data-dir", dataDir]);
  await running;
  child.kill("SIGINT");
  const interrupted = await done;
  assert.equal(interrupted.code, 1, `cancelled days are not success:\n${interrupted.stdout}\n${interrupted.stderr}`);
  assert.deepEqual(await statuses(dataDir), { [DAYS[0]]: "succeeded", [DAYS[1]]: "cancelled", [DAYS[2]]: "pending", [DAYS[3]]: "pending", [DAYS[4]]: "pending" });
  slow.delayMs = 0;

  const retry = await runSluice(["backfill", "events", "--retry-failed", "--concurrency", "2", "--api-url", apiUrl, "--data-dir", dataDir]);
  assert.equal(retry.code, 0, retry.stderr);
  for (const dt of DAYS.slice(1)) assert.match(retry.stdout, new RegExp(`${dt}\\s+succeeded`));
  assert.doesNotMatch(retry.stdout, new RegExp(DAYS[0]), "the day that succeeded is not in the retry");
  assert.deepEqual(Object.values(await statuses(dataDir)), DAYS.map(() => "succeeded"));
  const again = await runSluice(["backfill", "events", "--retry-failed", "--api-url", apiUrl, "--data-dir", dataDir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to retry/);
});

test("a day that failed before its run was recorded is pending, and --retry-failed over the range runs it", async (t) => {
  const apiUrl = await dayServer(t);
  const dataDir = await tempDataDir(t);
  // Another live run holds the middle day: that day fails at once, before any bookkeeping.
  const held = await acquireLock(dataDir, `run-events-${DAYS[2]}`, { wait: false, owner: { runId: "someone-else" } });
  const range = ["--from", DAYS[1], "--to", DAYS[3], "--api-url", apiUrl, "--data-dir", dataDir];
  const first = await runSluice(["backfill", "events", ...range]);
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stdout, /another run of events for 2026-11-18 is in progress/);
  assert.deepEqual(await statuses(dataDir), { [DAYS[1]]: "succeeded", [DAYS[2]]: "pending", [DAYS[3]]: "succeeded" });
  await held.release();

  const retry = await runSluice(["backfill", "events", ...range, "--retry-failed"]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, new RegExp(`${DAYS[1]}\\s+skipped`));
  assert.match(retry.stdout, new RegExp(`${DAYS[2]}\\s+succeeded`));
  assert.match(retry.stdout, new RegExp(`${DAYS[3]}\\s+skipped`));
  assert.deepEqual(await statuses(dataDir), { [DAYS[1]]: "succeeded", [DAYS[2]]: "succeeded", [DAYS[3]]: "succeeded" });
});

test("--retry-failed alone with nothing requested, or half a range, is said plainly", async (t) => {
  const dataDir = await tempDataDir(t);
  const none = await runSluice(["backfill", "events", "--retry-failed", "--data-dir", dataDir]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /nothing to retry/);
  const half = await runSluice(["backfill", "events", "--from", DAYS[0], "--data-dir", dataDir]);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /needs both --from and --to \(got only --from\)/);
  const neither = await runSluice(["backfill", "events", "--data-dir", dataDir]);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /needs --from and --to/);
});

/**
 * Requested days are remembered: a backfill records its range before it runs, so a day that never
 * ran (Ctrl-C, a failure before its run was recorded) shows as pending and --retry-failed runs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, startSluice } from "./support/sluice.ts";
import { DAYS, dayServer, statuses } from "./fixtures/day-server.ts";

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

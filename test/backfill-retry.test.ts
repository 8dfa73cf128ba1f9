/**
 * --retry-failed over a range: a day that failed before its run was recorded (its partition was
 * held) is pending and runs again, and the flag's usage mistakes are said plainly.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { acquireLock } from "../src/load/locks.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";
import { DAYS, dayServer, statuses } from "./fixtures/day-server.ts";

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

/**
 * A loader SIGKILLed in the middle of a MERGE: its transaction rolls back, BullMQ hands its
 * operation to the next loader, and the tables come out exactly as a local backfill's. Real
 * `sluice` processes, a real redis-server, the demo API.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { dayRange } from "../src/core/dates.ts";
import { cleanups, demoApiFor, eventsSnapshot, localEventsReference, queuedEvents, redisFor, spawnSluice, spawnWorker, waitForStatus } from "./fixtures/queue-processes.ts";
import { redisUnavailable } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const skip = redisUnavailable();
const DAYS = dayRange("2026-11-10", "2026-11-11");
const EVENTS_PER_DAY = 200;

test("a loader SIGKILLed in the middle of a MERGE loses nothing and doubles nothing: another loader takes its operation over", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redisFor(defer), demoApiFor(defer, EVENTS_PER_DAY, 11)]);
  const apiUrl = api.url;
  const shared = await tempDataDir(t);
  // The standalone loader dies at its first MERGE, inside the load transaction, before the commit.
  const doomed = spawnSluice(defer, ["loader", "--queue", server.url, "--data-dir", shared], { SLUICE_FAILPOINT: "warehouse.merge" });
  spawnWorker(defer, server.url, shared, apiUrl);
  const expected = await localEventsReference(t, apiUrl, DAYS, EVENTS_PER_DAY);
  await waitForStatus(server.url, (s) => s.workers.length === 1 && s.loaders.length === 1, "the worker and the doomed loader", 60_000);

  const notes: string[] = [];
  const outcomes = await queuedEvents(server.url, shared, DAYS, { onNote: (m) => notes.push(m), reconcileMs: 500 });
  const death = await doomed.exited;
  assert.equal(death.signal, "SIGKILL", `the loader killed itself mid-MERGE (exit ${death.code}): ${doomed.stderr()}`);
  assert.ok(notes.some((n) => n.startsWith("using the loader already connected")), notes.join(" | "));
  assert.ok(notes.some((n) => n.startsWith("no loader is connected any more: this process takes over")), notes.join(" | "));
  assert.deepEqual(outcomes.map((o) => [o.dt, o.status]), DAYS.map((dt) => [dt, "succeeded"]));

  const actual = await eventsSnapshot(shared);
  assert.deepEqual(actual.tables, expected.tables, "events, sessions and quarantine equal the local backfill's");
  assert.deepEqual(actual.runs, DAYS.map((dt) => [dt, "succeeded"]), "one run per day: the killed load rolled back and was done again for the same run");
});

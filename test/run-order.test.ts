/**
 * The property that any order of daily runs, reruns and late-filled gaps converges to sessionizing
 * all events at once, checked in-process against the independent reference pipeline.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runPartition } from "../src/pipeline/index.ts";
import { seededRandom } from "../src/core/random.ts";
import events from "../jobs/events.ts";
import { makeEventDays, startContractServer } from "./fixtures/contract-server.ts";
import { referencePipeline } from "./fixtures/reference-pipeline.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { sessionState } from "./support/snapshots.ts";

const DAYS = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];

for (const seed of [101, 202, 303]) {
  test(`any order of daily runs, reruns and late-filled gaps converges to sessionizing all events at once (seed ${seed})`, async (t) => {
    const days = makeEventDays(seed, DAYS, 120);
    const server = await startContractServer({ days });
    t.after(() => server.close());
    const dataDir = await tempDataDir(t);
    const random = seededRandom(seed);
    const order = [...DAYS].sort(() => random() - 0.5);
    // Two reruns at random positions: a rerun must never disturb its neighbours.
    for (let i = 0; i < 2; i++) order.splice(Math.floor(random() * order.length), 0, DAYS[Math.floor(random() * DAYS.length)] as string);
    for (const dt of order) {
      const outcome = await runPartition(events, dt, testRunSettings(dataDir, server.url));
      assert.equal(outcome.status, "succeeded", `seed ${seed} ${dt}: ${outcome.error}`);
    }
    const ref = await referencePipeline(days);
    const expected = {
      sessions: ref.sessions.map((s) => `${s.session_id}|${s.event_count}|${s.dt}|${s.session_end_us}|${s.primary_action ?? "-"}|${Number(s.revenue.toFixed(6))}`).sort(),
      eventSessions: ref.events.map((e) => `${e.event_id}|${e.session_id}|${e.dt}`).sort(),
    };
    const got = await sessionState(dataDir);
    assert.deepEqual(got.sessions.length, expected.sessions.length, `seed ${seed}, order ${order.join(" ")}: session count`);
    for (const key of ["sessions", "eventSessions"] as const) {
      const missing = expected[key].filter((x) => !got[key].includes(x));
      const extra = got[key].filter((x) => !expected[key].includes(x));
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `seed ${seed}, order ${order.join(" ")}: ${key}`);
    }
  });
}

/**
 * The 30 demo days of the history-aware checks tests (checks-backfill and checks-shuffle): the
 * demo API's options, and the verdicts both run orders must reach.
 */
import assert from "node:assert/strict";
import { dayRange } from "../src/core/dates.ts";
import type { DemoApiOptions } from "../src/demo-api/index.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";

/** 2,000 events a day keep a normal day within +-20% of the median and the purchase mean within -40%. */
export const DEMO: DemoApiOptions = { seed: 7, eventsPerDay: 2000, anomalies: { "2026-11-24": "half_empty", "2026-11-27": "zero_amounts" } };
export const DAYS = dayRange("2026-11-01", "2026-11-30");
const ANOMALY_CHECKS = ["events: volume", "amount: mean over purchases", "sessions: volume"];

/** The anomaly checks' results of a partition. */
export function anomalyResults(outcome: PartitionOutcome | undefined): PartitionOutcome["checks"] {
  return (outcome?.checks ?? []).filter((c) => ANOMALY_CHECKS.includes(c.check));
}

/** What happened to a day: its status and the anomaly checks it failed. */
export function verdict(outcome: PartitionOutcome): string {
  const failed = anomalyResults(outcome).filter((c) => !c.passed).map((c) => `${c.check} (${c.severity}, ${c.action})`);
  return `${outcome.status}${failed.length > 0 ? `: ${failed.join(", ")}` : ""}`;
}

/** Day 24 blocked by volume, day 27 loaded with the aggregate's warning, every other day loaded clean. */
export function assertVerdicts(outcomes: PartitionOutcome[]): void {
  const got = Object.fromEntries(outcomes.map((o) => [o.dt, verdict(o)]));
  const expected = Object.fromEntries(DAYS.map((dt) => [dt, "succeeded"]));
  expected["2026-11-24"] = "failed: events: volume (error, block)";
  expected["2026-11-27"] = "succeeded: amount: mean over purchases (warn, block)";
  assert.deepEqual(got, expected);
  const day24 = outcomes.find((o) => o.dt === "2026-11-24");
  assert.match(day24?.error ?? "", /validation blocked events 2026-11-24: .*"events: volume" \(observed \d+, 4\d\.\d% below the median/);
  assert.equal(day24?.rowsLoaded, 0);
  const day27 = outcomes.find((o) => o.dt === "2026-11-27");
  assert.equal(anomalyResults(day27).find((c) => c.check === "amount: mean over purchases")?.observed, 0);
  assert.ok((day27?.rowsLoaded ?? 0) > 1500, "a warning never keeps the day from loading");
}

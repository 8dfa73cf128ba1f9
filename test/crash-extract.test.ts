/**
 * Crash safety with real processes, before anything is written: a run SIGKILLed while extracting
 * or transforming leaves nothing visible, and the next run heals it, resuming from landed pages.
 * (Later points: crash-lake.test.ts and crash-warehouse.test.ts, files the runner runs at once.)
 */
import { test } from "node:test";
import { killAndHeal } from "./fixtures/killed-runs.ts";

for (const point of ["extract.page-2", "transform"]) {
  test(`a run killed at ${point} leaves nothing partial, and the next run heals it to a clean run's tables`, (t) => killAndHeal(t, point));
}

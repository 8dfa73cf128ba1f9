/**
 * Crash safety with real processes, up to the lake: a run SIGKILLed while extracting, transforming
 * or writing Parquet leaves nothing partial visible, and the next run heals it.
 * (The points after the lake are in crash-warehouse.test.ts: two files, so the runner runs them at once.)
 */
import { test } from "node:test";
import { killAndHeal } from "./fixtures/killed-runs.ts";

for (const point of ["extract.page-2", "transform", "lake.partial", "lake.write"]) {
  test(`a run killed at ${point} leaves nothing partial, and the next run heals it to a clean run's tables`, (t) => killAndHeal(t, point));
}

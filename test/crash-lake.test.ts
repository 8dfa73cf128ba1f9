/**
 * Crash safety with real processes, around the lake: a run SIGKILLed while writing Parquet or right
 * after leaves no partial file visible and the warehouse untouched, and the next run heals it.
 * (Other points: crash-extract.test.ts and crash-warehouse.test.ts.)
 */
import { test } from "node:test";
import { killAndHeal } from "./fixtures/killed-runs.ts";

for (const point of ["lake.partial", "lake.write", "lake.written"]) {
  test(`a run killed at ${point} leaves nothing partial, and the next run heals it to a clean run's tables`, (t) => killAndHeal(t, point));
}

/**
 * Crash safety with real processes, from the written lake to the committed load: a run SIGKILLed
 * around or inside the warehouse transaction leaves nothing partial visible (or, once committed,
 * everything), and the next run heals it. (The earlier points are in crash-lake.test.ts.)
 */
import { test } from "node:test";
import { killAndHeal } from "./fixtures/killed-runs.ts";

for (const point of ["lake.written", "warehouse.merge", "warehouse.bookkeeping", "warehouse.committed"]) {
  test(`a run killed at ${point} leaves nothing partial, and the next run heals it to a clean run's tables`, (t) => killAndHeal(t, point));
}

/**
 * Crash safety with real processes, in the warehouse load: a run SIGKILLed inside or right after
 * the load transaction leaves nothing partial visible (or, once committed, everything), and the
 * next run heals it. (Earlier points: crash-extract.test.ts and crash-lake.test.ts.)
 */
import { test } from "node:test";
import { killAndHeal } from "./fixtures/killed-runs.ts";

for (const point of ["warehouse.merge", "warehouse.bookkeeping", "warehouse.committed"]) {
  test(`a run killed at ${point} leaves nothing partial, and the next run heals it to a clean run's tables`, (t) => killAndHeal(t, point));
}

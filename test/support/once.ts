/** Expensive setup made once and shared by the tests of a file. */
import { after } from "node:test";
import type { Cleanup } from "./dirs.ts";

/** Returns a function that runs `make` on its first call and hands every caller that same promise. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/**
 * A Cleanup whose functions run after all tests of the file, last registered first. Call it at a
 * module's top level: node:test's `after` called inside a test would belong to that test.
 */
export function afterFile(): Cleanup {
  const stack: Array<() => Promise<void>> = [];
  after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return { after: (fn) => void stack.push(fn) };
}

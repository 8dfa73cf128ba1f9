/** Resolves after the event loop's next check phase (setImmediate): pending I/O callbacks run first. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `fn` over `items`, at most `concurrency` at once, keeping the input order in the results.
 * A rejection rejects at once while the other workers finish their item: a caller that must see
 * every call settle first (to undo their effects) has `fn` return its failure instead.
 */
export async function inPool<T, R>(items: readonly T[], concurrency: number, signal: AbortSignal, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !signal.aborted) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

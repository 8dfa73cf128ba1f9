/** Settings for running partitions in-process, in tests and benchmarks. */
import { silentLogger } from "../../src/core/log.ts";
import type { RunSettings } from "../../src/pipeline/run.ts";

/** Silent, never cancelled, nothing kept, no environment; `over` replaces any of these. */
export function testRunSettings(dataDir: string, apiUrl: string, over: Partial<RunSettings> = {}): RunSettings {
  return { dataDir, apiUrl, signal: new AbortController().signal, log: silentLogger(), env: {}, refetch: false, keepRaw: false, preview: false, ...over };
}

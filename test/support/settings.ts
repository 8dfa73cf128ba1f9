/** Settings for running partitions in-process, in tests and benchmarks. */
import { silentLogger } from "../../src/core/log.ts";
import type { RunSettings } from "../../src/pipeline/index.ts";

/**
 * Silent, never cancelled, nothing kept; the demo API at `apiUrl` (SLUICE_API_URL) plus `env`
 * (sources read URL overrides and secrets from it); `over` replaces any of these.
 */
export function testRunSettings(dataDir: string, apiUrl: string, env: Record<string, string> = {}, over: Partial<RunSettings> = {}): RunSettings {
  return { dataDir, signal: new AbortController().signal, log: silentLogger(), env: { SLUICE_API_URL: apiUrl, ...env }, refetch: false, keepRaw: false, preview: false, ...over };
}

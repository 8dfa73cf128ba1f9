/** Types of job-bundle.mjs (plain JavaScript: it runs before tsx is registered). */
import type { EngineBundle } from "./engine-bundle.mjs";
/** The module URL of each job file (absolute path), or null when the files must load through tsx. */
export declare function jobBundle(engine: EngineBundle, dir: string, files: readonly string[]): Promise<Map<string, string> | null>;

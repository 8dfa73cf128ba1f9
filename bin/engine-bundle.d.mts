/** Types of engine-bundle.mjs (plain JavaScript: it runs before tsx is registered). */
export declare const ENTRIES: readonly string[];
export interface EngineBundle {
  /** The build's directory. */
  dir: string;
  /** URL of the bundle's CLI module (src/cli/main.ts): imported, it loads the engine. */
  main: string;
  /** URL of the bundle's entry point (src/cli/bin.ts): imported, it runs the command and exits. */
  bin: string;
  /** Source URL of each entry module -> its URL in the bundle. */
  redirects: Record<string, string>;
}
export declare function engineBundle(root: string): Promise<EngineBundle | null>;

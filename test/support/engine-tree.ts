/** A small source tree shaped like the engine's, for the tests of its prebuilt bundle and of the jobs built against it. */
import type { TestContext } from "node:test";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { tempDataDir } from "./dirs.ts";

/** Writes `files` (path relative to `root` -> text) under `root`. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
}

/** A temp root with src/ holding the engine's entries, and a module that reports where it lives. */
export async function engineSourceTree(t: TestContext): Promise<string> {
  const root = await tempDataDir(t, "sluice-bundle-");
  await writeTree(root, {
    "src/cli/main.ts": `import { here, version } from "../core/where.ts";\nexport async function main(): Promise<string> { return \`\${version} \${here}\`; }\n`,
    "src/cli/bin.ts": `import { main } from "./main.ts";\nexport const ran: string = await main();\n`,
    "src/core/where.ts": `export const here: string = import.meta.dirname;\nexport const version = "v1";\n`,
    "src/core/errors.ts": `export class EngineError extends Error {}\n`,
    "src/index.ts": `export { EngineError } from "./core/errors.ts";\nexport { here } from "./core/where.ts";\n`,
  });
  return root;
}

#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI without a build step.
// The heavy third-party packages every command line imports load first, before tsx's hooks are
// registered: each of their hundreds of files (apache-arrow, zod, DuckDB's client) would otherwise
// take a round trip through tsx's loader thread, about a third of the start-up. The queue's Redis
// client is not among them: only the queue commands load it (~0.1 s saved for every other one).
// The engine itself loads the same way, prebuilt (bin/engine-bundle.mjs); tsx then loads only the
// job files, and their imports of the engine resolve to the copy already loaded.
// SLUICE_ENGINE_BUNDLE=0 runs the TypeScript sources through tsx instead.
import { register as registerHooks } from "node:module";
import { fileURLToPath } from "node:url";
import { engineBundle } from "./engine-bundle.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const [bundle] = await Promise.all([
  process.env.SLUICE_ENGINE_BUNDLE === "0" ? null : engineBundle(ROOT),
  ...["apache-arrow", "nodejs-polars", "@duckdb/node-api", "undici", "zod", "pino", "commander", "prom-client", "cli-progress"].map((name) => import(name)),
]);
// Stack traces of the bundle point into the TypeScript sources (tsx turns this on anyway).
process.setSourceMapsEnabled(true);
const { main } = bundle ? await import(bundle.main) : { main: undefined };
// Both hooks: job files found outside an ESM package (a user's jobs folder) load as CommonJS.
const { register: registerCommonJs } = await import("tsx/cjs/api");
const { register } = await import("tsx/esm/api");
registerCommonJs();
register();
if (bundle) {
  registerHooks("./engine-redirect.mjs", import.meta.url, { data: { redirects: bundle.redirects } });
  const code = await main(process.argv.slice(2));
  // Keep-alive sockets or timers of libraries must not keep a finished command alive (as src/cli/bin.ts).
  process.stdout.write("", () => process.exit(code));
} else {
  await import("../src/cli/bin.ts");
}

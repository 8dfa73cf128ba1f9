#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI without a build step.
// Module hooks cost every command: registering tsx's starts its loader thread (~0.15 s, the main
// thread waiting), and each module behind them takes a round trip through it. So the engine comes
// prebuilt (bin/engine-bundle.mjs: a few files instead of ~170, with the pure-JavaScript packages
// only it uses compiled in), and so do the job files (bin/job-bundle.mjs), whose imports of the
// engine are imports of that bundle: no hook is registered at all. Job files a bundle would run
// differently load through tsx, registered then, with bin/engine-redirect.mjs resolving their
// imports of the engine to the copy already loaded. The queue's Redis client and the demo API's
// server load only for the commands that use them.
// SLUICE_ENGINE_BUNDLE=0 runs the TypeScript sources through tsx instead (the packages first).
import { register as registerHooks } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { engineBundle } from "./engine-bundle.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bundle = process.env.SLUICE_ENGINE_BUNDLE === "0" ? null : await engineBundle(ROOT);
// Stack traces of the bundles point into the TypeScript sources (tsx turns this on anyway).
process.setSourceMapsEnabled(true);

let tsxRegistered = false;

/** tsx's hooks, once. Both: job files found outside an ESM package (a user's jobs folder) load as CommonJS. */
async function registerTsx() {
  if (tsxRegistered) return;
  tsxRegistered = true;
  const { register: registerCommonJs } = await import("tsx/cjs/api");
  const { register } = await import("tsx/esm/api");
  registerCommonJs();
  register();
  if (bundle) registerHooks("./engine-redirect.mjs", import.meta.url, { data: { redirects: bundle.redirects } });
}

/** Job files from their bundle, or through tsx when they have none. */
async function importJobFiles(dir, files) {
  const { jobBundle } = await import("./job-bundle.mjs");
  const built = await jobBundle(bundle, dir, files);
  if (built === null) await registerTsx();
  return async (file) => import(built?.get(file) ?? pathToFileURL(file).href);
}

if (bundle) {
  // the engine's modules load now; its entry point runs the command
  const { useJobImporter } = await import(bundle.main);
  useJobImporter(importJobFiles);
  await import(bundle.bin);
} else {
  await Promise.all(["apache-arrow", "nodejs-polars", "@duckdb/node-api", "undici", "zod", "pino", "commander", "prom-client", "cli-progress"].map((name) => import(name)));
  await registerTsx();
  await import("../src/cli/bin.ts");
}

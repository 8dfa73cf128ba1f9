#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI without a build step.
// Everything a command line runs loads before tsx's hooks are registered: behind them, each module
// takes a round trip through tsx's loader thread. The engine comes prebuilt (bin/engine-bundle.mjs:
// a few files instead of ~170, with the pure-JavaScript packages only it uses compiled in), and its
// imports load the other packages; tsx then loads only the job files, whose imports of the engine
// resolve to the copy already loaded (bin/engine-redirect.mjs). The queue's Redis client and the
// demo API's server load only for the commands that use them.
// SLUICE_ENGINE_BUNDLE=0 runs the TypeScript sources through tsx instead (the packages first).
import { register as registerHooks } from "node:module";
import { fileURLToPath } from "node:url";
import { engineBundle } from "./engine-bundle.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bundle = process.env.SLUICE_ENGINE_BUNDLE === "0" ? null : await engineBundle(ROOT);
// Stack traces of the bundle point into the TypeScript sources (tsx turns this on anyway).
process.setSourceMapsEnabled(true);
// the engine's modules load now; its entry point runs the command once the hooks are in place
if (bundle) await import(bundle.main);
else await Promise.all(["apache-arrow", "nodejs-polars", "@duckdb/node-api", "undici", "zod", "pino", "commander", "prom-client", "cli-progress"].map((name) => import(name)));
// Both hooks: job files found outside an ESM package (a user's jobs folder) load as CommonJS.
const { register: registerCommonJs } = await import("tsx/cjs/api");
const { register } = await import("tsx/esm/api");
registerCommonJs();
register();
if (bundle) registerHooks("./engine-redirect.mjs", import.meta.url, { data: { redirects: bundle.redirects } });
await import(bundle ? bundle.bin : "../src/cli/bin.ts");

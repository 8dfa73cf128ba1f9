#!/usr/bin/env node
// Entry point for `npx sluice`: runs the TypeScript CLI through tsx without a build step.
// The heavy third-party packages every command line imports load first, before tsx's hooks are
// registered: each of their hundreds of files (apache-arrow, zod, DuckDB's client) would otherwise
// take a round trip through tsx's loader thread, about a third of the start-up. The queue's Redis
// client is not among them: only the queue commands load it (~0.1 s saved for every other one).
await Promise.all(
  ["apache-arrow", "nodejs-polars", "@duckdb/node-api", "undici", "zod", "pino", "commander", "prom-client", "cli-progress"].map((name) => import(name)),
);
// Both hooks: job files found outside an ESM package (a user's jobs folder) load as CommonJS.
const { register: registerCommonJs } = await import("tsx/cjs/api");
const { register } = await import("tsx/esm/api");
registerCommonJs();
register();
await import("../src/cli/bin.ts");

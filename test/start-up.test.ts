/** What a command line loads when it starts: every command pays it, so the engine and the job files run prebuilt, the queue's client loads only for the queue, and the demo API's server only when it is used. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import path from "node:path";
import { ROOT, runSluice } from "./support/sluice.ts";
import { tempDataDir } from "./support/dirs.ts";

const TRACE = pathToFileURL(path.join(ROOT, "test", "support", "trace-imports.mjs")).href;
const traced = (args: string[]) => runSluice(args, { NODE_OPTIONS: `--import ${TRACE}`, SLUICE_TRACE_IMPORTS: "ioredis,bullmq" });

test("a command line that does not use the queue never loads the Redis client, and one that does loads it", async () => {
  const help = await traced(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.doesNotMatch(help.stderr, /imported (ioredis|bullmq)/, "--help, and every command's options, load no Redis client");
  // Checking a --queue URL needs no client either: a bad one is refused before anything connects.
  const bad = await traced(["status", "--queue", "http://127.0.0.1:1"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.doesNotMatch(bad.stderr, /imported (ioredis|bullmq)/);
  // The queue's status does: the trace sees it (Redis is not there, so it fails after loading it).
  const queue = await traced(["status", "--queue", "redis://127.0.0.1:1"]);
  assert.match(queue.stderr, /imported ioredis/);
});

test("a command line loads the demo API's server only when it serves it: not for --help, nor for a run given an API URL", async (t) => {
  // the server's module: its source, or the bundle's chunk of the demo API (bin/engine-bundle.mjs)
  const server = { SLUICE_TRACE_IMPORTS: "/demo-api(\\/server\\.ts|-\\w+\\.js)$/" };
  const help = await runSluice(["--help"], { NODE_OPTIONS: `--import ${TRACE}`, ...server });
  assert.equal(help.code, 0, help.stderr);
  assert.doesNotMatch(help.stderr, /loaded .*demo-api/);
  // a bad date fails after the command's modules and the job catalog loaded, before any source is asked
  const run = await runSluice(["run", "events", "--date", "2026-02-30", "--api-url", "http://127.0.0.1:1"], { NODE_OPTIONS: `--import ${TRACE}`, ...server });
  assert.equal(run.code, 2, run.stderr);
  assert.doesNotMatch(run.stderr, /loaded .*demo-api/);
  // a run with no API URL does: it serves the job from the built-in demo API
  const demo = await runSluice(["run", "events", "--date", "2026-11-20", "--preview", "--data-dir", await tempDataDir(t)], { NODE_OPTIONS: `--import ${TRACE}`, ...server });
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stderr, /loaded .*demo-api/);
  // and so do the sources, run without the bundle
  const sources = await runSluice(["run", "events", "--date", "2026-11-20", "--preview", "--data-dir", await tempDataDir(t)], { NODE_OPTIONS: `--import ${TRACE}`, SLUICE_ENGINE_BUNDLE: "0", ...server });
  assert.equal(sources.code, 0, sources.stderr);
  assert.match(sources.stderr, /loaded .*src\/demo-api\/server\.ts/);
});

test("a command line runs the engine and the job files prebuilt: no TypeScript file loads and tsx is never registered", async () => {
  const trace = { NODE_OPTIONS: `--import ${TRACE}`, SLUICE_TRACE_IMPORTS: "tsx/esm/api,/\\.ts$/,/node_modules\\/(apache-arrow|prom-client|@duckdb\\/node-api)\\//,/\\/jobs-\\w+-\\w+\\/events\\.js$/" };
  const jobs = await runSluice(["jobs"], trace);
  assert.equal(jobs.code, 0, jobs.stderr);
  assert.match(jobs.stdout, /events/);
  // the job files come from their bundle (bin/job-bundle.mjs), whose imports of src/index.ts are
  // the engine bundle the CLI already runs (one engine: one ConfigError)
  assert.match(jobs.stderr, /loaded .*\/jobs-\w+-\w+\/events\.js/);
  assert.doesNotMatch(jobs.stderr, /loaded .*\.ts$/m);
  assert.doesNotMatch(jobs.stderr, /imported tsx/);
  // and the packages compiled into the engine (BUNDLED_PACKAGES) are not loaded file by file from node_modules
  assert.doesNotMatch(jobs.stderr, /loaded .*node_modules\/(apache-arrow|prom-client|@duckdb\/node-api)\//);
  // SLUICE_ENGINE_BUNDLE=0 runs the TypeScript sources instead, with the same result
  const sources = await runSluice(["jobs"], { ...trace, SLUICE_ENGINE_BUNDLE: "0" });
  assert.equal(sources.code, 0, sources.stderr);
  assert.equal(sources.stdout, jobs.stdout);
  assert.match(sources.stderr, /imported tsx\/esm\/api/);
  assert.match(sources.stderr, /loaded .*\/src\/index\.ts/);
  assert.match(sources.stderr, /loaded .*\/jobs\/events\.ts/);
  assert.match(sources.stderr, /loaded .*node_modules\/apache-arrow\//);
  assert.match(sources.stderr, /loaded .*node_modules\/@duckdb\/node-api\//);
});

test("job files a bundle would run differently (CommonJS here) load through tsx, next to the engine bundle", async (t) => {
  const dir = await tempDataDir(t, "sluice-jobs-");
  const job = (name: string, description: string) => `export default { name: "${name}", description: ${description}, tables: [], async run() {} };\n`;
  await writeFile(path.join(dir, "plain.ts"), job("plain", `"plain"`));
  await writeFile(path.join(dir, "common.ts"), `const path = require("node:path");\n${job("common", "path.basename(__filename)")}`);
  const listing = await runSluice(["jobs", "--jobs-dir", dir], { NODE_OPTIONS: `--import ${TRACE}`, SLUICE_TRACE_IMPORTS: "tsx/esm/api,/\\.ts$/" });
  assert.equal(listing.code, 0, listing.stderr);
  assert.match(listing.stdout, /^common\s+common\.ts/m, "__filename and require work as tsx runs them");
  assert.match(listing.stdout, /^plain\s+plain/m);
  assert.match(listing.stderr, /imported tsx\/esm\/api/);
  assert.match(listing.stderr, /loaded .*\/common\.ts$/m);
  assert.doesNotMatch(listing.stderr, /loaded .*\/src\//, "the engine still runs prebuilt");
});

/**
 * Jobs found by file: a job file in a jobs directory runs by its name with no registry to edit;
 * broken files and duplicate names are reported by file; only commands that need jobs load them.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { BUILTIN_JOBS_DIR, resolveJobsDir } from "../src/core/config.ts";
import { UsageError } from "../src/core/errors.ts";
import { JobCatalog, isJobDefinition } from "../src/pipeline/job-catalog.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, type SluiceExit } from "./support/sluice.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const DAY = "2026-11-19";

/**
 * A job with no imports from Sluice (duck-typed): writes `<data-dir>/<name>.txt` and loads nothing.
 * `marker`, when given, is a file the module writes as soon as it is imported.
 */
function jobSource(name: string, options: { description?: string; tables?: string[]; marker?: string } = {}): string {
  const tables = (options.tables ?? []).map((t) => ({ name: t, partitioned: true, key: ["id"], columns: [{ name: "id", type: "VARCHAR" }] }));
  return [
    `import { writeFileSync } from "node:fs";`,
    `import { writeFile } from "node:fs/promises";`,
    `import path from "node:path";`,
    options.marker ? `writeFileSync(${JSON.stringify(options.marker)}, "imported");` : "",
    `export default {`,
    `  name: ${JSON.stringify(name)},`,
    `  description: ${JSON.stringify(options.description ?? `The ${name} job`)},`,
    `  tables: ${JSON.stringify(tables)},`,
    `  async run(ctx: { dt: string; dataDir: string; materialize(outputs: unknown[]): Promise<void> }) {`,
    `    await writeFile(path.join(ctx.dataDir, ${JSON.stringify(`${name}.txt`)}), "ran " + ctx.dt);`,
    `    await ctx.materialize([]);`,
    `  },`,
    `};`,
  ].join("\n");
}

/** A temp jobs directory holding `files` (name -> source). */
async function jobsDir(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await tempDataDir(t, "sluice-jobs-");
  for (const [name, source] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), source);
  }
  return dir;
}

/** `sluice run <job>` for one day against a URL nothing listens on (these jobs fetch nothing). */
function runJob(job: string, jobs: string, dataDir: string): Promise<SluiceExit> {
  return runSluice(["run", job, "--date", DAY, "--jobs-dir", jobs, "--data-dir", dataDir, "--api-url", "http://127.0.0.1:9"]);
}

function assertUsageLine(result: SluiceExit, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit code 2 expected; stderr: ${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace for a usage error");
  assert.ok(result.stderr.trim().split("\n").length <= 2, `a short message, got:\n${result.stderr}`);
}

test("a new job file in a jobs directory runs by its name, with no registry to edit", async (t) => {
  const jobs = await jobsDir(t, { "hello.ts": jobSource("hello") });
  const dataDir = await tempDataDir(t);
  const result = await runJob("hello", jobs, dataDir);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`hello\\s+${DAY}\\s+succeeded`));
  assert.equal(await readFile(path.join(dataDir, "hello.txt"), "utf8"), `ran ${DAY}`, "the job's own code ran");

  // SLUICE_JOBS_DIR names the directory as well as --jobs-dir does.
  const viaEnv = await runSluice(["run", "hello", "--date", DAY, "--data-dir", dataDir, "--api-url", "http://127.0.0.1:9"], { SLUICE_JOBS_DIR: jobs });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, /hello\s+\S+\s+succeeded/);
});

test("a file that does not load is named with its error, and the other jobs still run", async (t) => {
  const jobs = await jobsDir(t, {
    "hello.ts": jobSource("hello"),
    "broken.ts": "export default { name: 'broken',, };\n",
    "throws.ts": "throw new Error('ORDERS_API_KEY is not set');\nexport default {};\n",
    "notajob.ts": "export default { name: 'notajob', run: 42 };\n",
  });
  const dataDir = await tempDataDir(t);
  const ok = await runJob("hello", jobs, dataDir);
  assert.equal(ok.code, 0, `a broken neighbour does not stop a good job: ${ok.stderr}`);
  assert.ok(existsSync(path.join(dataDir, "hello.txt")));

  const missing = await runJob("orders", jobs, dataDir);
  assertUsageLine(missing, /unknown job "orders"; known jobs: hello/);
  assert.match(missing.stderr, /broken\.ts did not load: .*Expected identifier/);
  assert.match(missing.stderr, /throws\.ts did not load: ORDERS_API_KEY is not set/);
  assert.match(missing.stderr, /notajob\.ts did not load: its default export is not a job definition/);

  const listing = await runSluice(["jobs", "--jobs-dir", jobs]);
  assert.equal(listing.code, 1, "a listing with broken files says so in its exit code");
  assert.match(listing.stdout, /^hello\s+The hello job/m, "the good job is listed");
  assert.match(listing.stderr, /broken\.ts did not load: .*Expected identifier/);
  assert.match(listing.stderr, /throws\.ts did not load: ORDERS_API_KEY is not set/);
  assert.equal(listing.stderr.trim().split("\n").length, 3, `one line per broken file:\n${listing.stderr}`);
});

test("two job files with one name are an error naming both files", async (t) => {
  const jobs = await jobsDir(t, { "a-twin.ts": jobSource("twin"), "b-twin.ts": jobSource("twin"), "hello.ts": jobSource("hello") });
  const dataDir = await tempDataDir(t);
  const result = await runJob("twin", jobs, dataDir);
  assertUsageLine(result, /two job files declare the job "twin": .*a-twin\.ts and .*b-twin\.ts/);
  assert.equal(existsSync(path.join(dataDir, "twin.txt")), false, "neither twin ran");
  assertUsageLine(await runSluice(["jobs", "--jobs-dir", jobs]), /a-twin\.ts and .*b-twin\.ts/);
});

test("sluice jobs lists each job's name, description, tables and file", async (t) => {
  const jobs = await jobsDir(t, {
    "orders.ts": jobSource("orders", { description: "Orders of one UTC day", tables: ["orders", "order_lines"] }),
    "hello.ts": jobSource("hello", { description: "Writes a greeting" }),
  });
  const json = await runSluice(["jobs", "--jobs-dir", jobs, "--format", "json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [
    { name: "hello", description: "Writes a greeting", tables: "", file: path.join(jobs, "hello.ts") },
    { name: "orders", description: "Orders of one UTC day", tables: "orders, order_lines", file: path.join(jobs, "orders.ts") },
  ]);
  const table = await runSluice(["jobs", "--jobs-dir", jobs]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^name\s+description\s+tables\s+file$/m);
  assert.match(table.stdout, /^orders\s+Orders of one UTC day\s+orders, order_lines\s+\S*orders\.ts$/m);

  // Without --jobs-dir, from the project root: the project's jobs/ folder.
  const builtin = await runSluice(["jobs", "--format", "csv"]);
  assert.equal(builtin.code, 0, builtin.stderr);
  assert.deepEqual(builtin.stdout.trim().split("\n").map((l) => l.split(",")[0]), ["name", "events", "users"]);
  assert.match(builtin.stdout, /events,.*"events, sessions",jobs\/events\.ts/);
});

test("files without a default export and subfolders are skipped", async (t) => {
  const jobs = await jobsDir(t, {
    "hello.ts": jobSource("hello"),
    "helpers.ts": "export const GREETING = 'hi';\nexport function shout(s: string): string { return s.toUpperCase(); }\n",
    "types.d.ts": "export type Id = string;\n",
    "examples/nested.ts": jobSource("nested"),
  });
  const result = await runSluice(["jobs", "--jobs-dir", jobs, "--format", "csv"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "", "nothing to report about helpers");
  assert.deepEqual(result.stdout.trim().split("\n").map((l) => l.split(",")[0]), ["name", "hello"]);
  const nested = await runJob("nested", jobs, await tempDataDir(t));
  assertUsageLine(nested, /unknown job "nested"; known jobs: hello$/m);
});

test("query and status without a job import no job file; status of a job does", async (t) => {
  const marker = path.join(await tempDataDir(t), "imported");
  const jobs = await jobsDir(t, { "hello.ts": jobSource("hello", { marker }) });
  const dataDir = await tempDataDir(t);
  const env = { SLUICE_JOBS_DIR: jobs };
  assert.equal((await runSluice(["status", "--data-dir", dataDir], env)).code, 0);
  assert.equal((await runSluice(["query", "select 1", "--data-dir", dataDir], env)).code, 2, "no warehouse yet");
  assert.equal(existsSync(marker), false, "no job file was imported");
  const status = await runSluice(["status", "hello", "--data-dir", dataDir], env);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(existsSync(marker), true, "status of a named job checks the name against the jobs");
});

test("without --jobs-dir, a directory with no jobs/ folder uses the jobs shipped with sluice", async (t) => {
  const cwd = await tempDataDir(t);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_")));
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "sluice.mjs"), "jobs", "--format", "csv"], { cwd, env: base });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0);
  assert.match(stdout, /^events,/m);
  assert.match(stdout, new RegExp(`${path.join(ROOT, "jobs", "users.ts").replaceAll("/", "\\/")}`), "files outside the working directory show absolute");
});

test("the jobs directory: flag, then SLUICE_JOBS_DIR, then ./jobs, then the built-in jobs; a missing one is a usage error", async (t) => {
  const cwd = await tempDataDir(t);
  const flagDir = await tempDataDir(t);
  const envDir = await tempDataDir(t);
  assert.equal(resolveJobsDir({ flag: undefined, env: {}, cwd }), BUILTIN_JOBS_DIR);
  await mkdir(path.join(cwd, "jobs"));
  assert.equal(resolveJobsDir({ flag: undefined, env: {}, cwd }), path.join(cwd, "jobs"));
  assert.equal(resolveJobsDir({ flag: undefined, env: { SLUICE_JOBS_DIR: envDir }, cwd }), envDir);
  assert.equal(resolveJobsDir({ flag: flagDir, env: { SLUICE_JOBS_DIR: envDir }, cwd }), flagDir);
  assert.throws(() => resolveJobsDir({ flag: "no-such-dir", env: {}, cwd }), (e: unknown) => e instanceof UsageError && /jobs directory "no-such-dir" does not exist/.test(e.message));
});

test("the catalog recognises a job by its shape and skips the helper modules of the built-in jobs", async () => {
  const run = async (): Promise<void> => undefined;
  assert.equal(isJobDefinition({ name: "a", description: "b", tables: [], run }), true);
  assert.equal(isJobDefinition({ name: "a", description: "b", tables: "events", run }), false);
  assert.equal(isJobDefinition({ name: "a", description: "b", tables: [] }), false);
  assert.equal(isJobDefinition({ name: "", description: "b", tables: [], run }), false);
  assert.equal(isJobDefinition(null), false);

  const catalog = await JobCatalog.load(BUILTIN_JOBS_DIR);
  assert.deepEqual(catalog.names(), ["events", "users"], "sources.ts, tables.ts and partitions.ts are helpers; examples/ is not scanned");
  assert.deepEqual(catalog.failures, []);
  assert.equal(catalog.get("events").name, "events");
  assert.equal(catalog.find("orders"), undefined);
  assert.throws(() => catalog.get("orders"), (e: unknown) => e instanceof UsageError && e.message === 'unknown job "orders"; known jobs: events, users');
});

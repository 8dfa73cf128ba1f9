/** The CLI as scripts use it: help, one-line usage errors and exit 2, flag and settings parsing. (test/cli-runs.test.ts has runs and backfills.) */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveQueueTuning, resolveSettings } from "../src/core/config.ts";
import { parseDay } from "../src/core/dates.ts";
import { UsageError } from "../src/core/errors.ts";
import { parseFraction, parseIntFlag } from "../src/cli/options.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice, type SluiceExit } from "./support/sluice.ts";

const sluice = runSluice;

function assertUsageError(result: SluiceExit, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit code 2 expected; stderr: ${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace for a usage error");
  assert.ok(result.stderr.trim().split("\n").length <= 2, `a short message, got:\n${result.stderr}`);
}

test("--help describes every command and exits 0", async () => {
  const result = await sluice(["--help"]);
  assert.equal(result.code, 0);
  for (const command of ["run", "backfill", "query", "status", "demo-api"]) assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
  const runHelp = await sluice(["run", "--help"]);
  assert.equal(runHelp.code, 0);
  assert.match(runHelp.stdout, /--date/);
  assert.match(runHelp.stdout, /--api-url/);
});

test("usage errors exit 2 with a one-line message naming the problem", async (t) => {
  const dataDir = await tempDataDir(t);
  assertUsageError(await sluice(["frobnicate"]), /unknown command 'frobnicate'/);
  assertUsageError(await sluice(["run", "nosuchjob", "--data-dir", dataDir]), /unknown job "nosuchjob"; known jobs: events, users/);
  assertUsageError(await sluice(["run", "events", "--date", "2026-02-30", "--data-dir", dataDir]), /"2026-02-30" is not a real calendar date/);
  assertUsageError(await sluice(["run", "events", "--date", "20261120", "--data-dir", dataDir]), /"20261120" is not a date of the form YYYY-MM-DD/);
  assertUsageError(await sluice(["backfill", "events", "--from", "2026-11-20", "--to", "2026-11-18", "--data-dir", dataDir]), /--from 2026-11-20 is after --to 2026-11-18/);
  assertUsageError(await sluice(["backfill", "events", "--from", "2026-11-20", "--to", "2026-11-21", "--concurrency", "zero", "--data-dir", dataDir]), /--concurrency "zero"/);
  assertUsageError(await sluice(["query", "select 1", "--data-dir", dataDir]), /no warehouse at/);
  assertUsageError(await sluice(["run", "events", "--api-url", "ftp://example", "--data-dir", dataDir]), /api-url/);
});

test("settings come from flags, then the environment, then the schema's defaults; bad values are usage errors", () => {
  const env = { SLUICE_DATA_DIR: "/srv/sluice", SLUICE_LOG_LEVEL: "debug", SLUICE_API_URL: "", SLUICE_API_TOKEN: "tok-1234" };
  const fromEnv = resolveSettings({ flags: {}, env });
  assert.equal(fromEnv.dataDir, "/srv/sluice");
  assert.equal(fromEnv.logLevel, "debug");
  assert.equal(fromEnv.apiUrl, undefined, "an empty variable counts as unset");
  assert.equal(fromEnv.apiToken, "tok-1234");
  const fromFlags = resolveSettings({ flags: { dataDir: "/tmp/x", logLevel: "error" }, env, defaultLogLevel: "warn" });
  assert.deepEqual([fromFlags.dataDir, fromFlags.logLevel], ["/tmp/x", "error"]);
  assert.equal(resolveSettings({ flags: {}, env: {}, defaultLogLevel: "warn" }).logLevel, "warn", "the command's default applies when nothing is given");
  assert.equal(resolveSettings({ flags: {}, env: {} }).logLevel, "info");
  assert.throws(() => resolveSettings({ flags: {}, env: { SLUICE_LOG_LEVEL: "loud" } }), (e: unknown) => e instanceof UsageError && /logLevel/.test(e.message));

  assert.deepEqual(resolveQueueTuning({}), {});
  assert.deepEqual(resolveQueueTuning({ SLUICE_QUEUE_TUNING: '{"attempts":5,"backoffMs":100}' }), { attempts: 5, backoffMs: 100 });
  assert.throws(() => resolveQueueTuning({ SLUICE_QUEUE_TUNING: "{attempts" }), /SLUICE_QUEUE_TUNING is not JSON/);
  assert.throws(() => resolveQueueTuning({ SLUICE_QUEUE_TUNING: '{"attempts":"many"}' }), (e: unknown) => e instanceof UsageError && /SLUICE_QUEUE_TUNING attempts must be a number/.test(e.message));
});

test("number flags take plain decimal digits only: 1e1, 0x2, blanks and fractions are refused everywhere", async (t) => {
  for (const bad of ["1e1", "0x2", " 2", "2 ", "", "2.0", "+2", "-1", "0b1", "Infinity"]) {
    assert.throws(() => parseIntFlag("concurrency", bad, 1, 64), (e: unknown) => e instanceof UsageError && e.message.includes(`--concurrency "${bad}"`), bad);
  }
  assert.equal(parseIntFlag("concurrency", "10", 1, 64), 10);
  assert.equal(parseIntFlag("port", "0", 0, 65535), 0);
  for (const bad of ["0x1", "1e-1", "-0.1", "1.5", ".", ""]) assert.throws(() => parseFraction("fault-rate", bad), UsageError, bad);
  assert.deepEqual(["0.05", ".5", "1", "0"].map((v) => parseFraction("fault-rate", v)), [0.05, 0.5, 1, 0]);
  const dataDir = await tempDataDir(t);
  assertUsageError(await sluice(["backfill", "events", "--from", "2026-11-20", "--to", "2026-11-21", "--concurrency", "1e1", "--data-dir", dataDir]), /--concurrency "1e1" must be a whole number from 1 to 64/);
  assertUsageError(await sluice(["demo-api", "--port", "0x50"]), /--port "0x50"/);
});

test("years 0001 to 0099 are real calendar dates (not read as 1900-1999); impossible days still are not", () => {
  assert.equal(parseDay("0050-06-01"), "0050-06-01");
  assert.equal(parseDay("0001-01-01"), "0001-01-01");
  assert.equal(parseDay("0096-02-29"), "0096-02-29", "a leap year of the first century");
  assert.throws(() => parseDay("0097-02-29"), /"0097-02-29" is not a real calendar date/);
  assert.throws(() => parseDay("2026-02-30"), /"2026-02-30" is not a real calendar date/);
});

test("a bad worker flag or queue URL is a one-line usage error before anything connects", async () => {
  assertUsageError(await sluice(["worker", "--concurrency", "0", "--queue", "redis://127.0.0.1:1"]), /--concurrency "0" must be a whole number from 1 to 64/);
  assertUsageError(await sluice(["worker", "--queue", "http://127.0.0.1:6379"]), /--queue "http:\/\/127.0.0.1:6379\/?" must start with redis:\/\//);
  assertUsageError(await sluice(["status", "--queue", "not a url"]), /is not a URL/);
  assertUsageError(await sluice(["demo-api", "--fault-rate", "2"]), /--fault-rate "2" must be a number from 0 to 1/);
});

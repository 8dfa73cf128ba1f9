/** What Sluice prints for a person: escape sequences from data and APIs never act, tables fit the terminal, values read well. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../src/core/log.ts";
import { displayWidth, terminalSafe } from "../src/core/terminal-text.ts";
import { formatFloat } from "../src/cli/cell-display.ts";
import { errorCell, formatOutcomes, printPreview } from "../src/cli/format.ts";
import { fitColumns } from "../src/cli/frame-table.ts";
import { createProgress } from "../src/cli/progress.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";
import { cli } from "./fixtures/cli.ts";
import { eventRows, loadEvents, writeEvents, ROOT } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

/** Anything a terminal would act on: C0 and C1 controls, DEL, bidi overrides. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** An API error body that clears the screen, sets the window title and prints fake text. */
const EVIL = "\x1b]0;owned\x07\x1b[2J\x1b[Hall good, nothing failed\u009b31m\u202eevil";

function outcome(dt: string, over: Partial<PartitionOutcome> = {}): PartitionOutcome {
  return { job: "events", dt, runId: `r-${dt}`, status: "succeeded", rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error: null, ...over };
}

async function loadedDataDir(t: Parameters<typeof tempDataDir>[0]): Promise<string> {
  const dataDir = await tempDataDir(t);
  await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", eventRows([1, 2, 3]))]]);
  return dataDir;
}

test("terminalSafe shows control characters as visible escapes and keeps line breaks only when asked", () => {
  assert.equal(terminalSafe(EVIL), "\\x1b]0;owned\\x07\\x1b[2J\\x1b[Hall good, nothing failed\\x9b31m\\u202eevil");
  assert.equal(terminalSafe("a\nb\r\tc"), "a\\nb\\r\\tc");
  assert.equal(terminalSafe("a\nb\rc", { newlines: true }), "a\nb\\rc");
  assert.equal(terminalSafe("plain ünïcødé 日本"), "plain ünïcødé 日本");
  assert.equal(displayWidth("日本"), 4);
});

test("query tables and JSON escape control characters in cells and names; piped CSV keeps the data, CSV on a terminal shows it escaped", async (t) => {
  const dataDir = await loadedDataDir(t);
  const sql = `select '${EVIL}' as "name\x1b[31m", 'line1\nline2' as multi`;
  const table = await cli(["query", sql, "--data-dir", dataDir]);
  assert.equal(table.code, 0, table.stderr);
  assert.doesNotMatch(table.stdout, RAW_CONTROL);
  assert.ok(table.stdout.includes("\\x1b]0;owned\\x07\\x1b[2J\\x1b[Hall good, nothing failed\\x9b31m\\u202eevil"), table.stdout);
  assert.ok(table.stdout.includes("name\\x1b[31m") && table.stdout.includes("line1\\nline2"), table.stdout);

  const json = await cli(["query", sql, "--data-dir", dataDir, "--format", "json"]);
  assert.doesNotMatch(json.stdout, RAW_CONTROL);
  assert.deepEqual(JSON.parse(json.stdout), [{ "name\x1b[31m": EVIL, multi: "line1\nline2" }], "JSON keeps the exact values");

  const piped = await cli(["query", sql, "--data-dir", dataDir, "--format", "csv"]);
  assert.ok(piped.stdout.includes(EVIL), "piped CSV is the data as it is");
  const onTerminal = await cli(["query", sql, "--data-dir", dataDir, "--format", "csv"], {}, { columns: 200 });
  assert.doesNotMatch(onTerminal.stdout.replace(/\n/g, ""), RAW_CONTROL);
});

test("progress lines, messages and the run summary show an API error body escaped", () => {
  const lines: string[] = [];
  const plain = createProgress({ total: 2, job: "events", tty: false, write: (s) => lines.push(s), now: () => 0 });
  plain.start("2026-11-19");
  plain.finish(outcome("2026-11-19", { status: "failed", error: `HTTP 500 from GET /v1/events: ${EVIL}` }));
  plain.log(`waiting: ${EVIL}`);
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.doesNotMatch(line.replace(/\n$/, ""), RAW_CONTROL);
    assert.ok(line.includes("\\x1b[2J"), line);
  }

  let bar = "";
  const live = createProgress({ total: 2, job: "events", tty: true, columns: 200, write: (s) => (bar += s), now: () => 0 });
  try {
    live.start("2026-11-19");
    live.finish(outcome("2026-11-19", { status: "failed", error: EVIL }));
  } finally {
    live.stop();
  }
  // The bar draws with its own escape sequences; the error's never reach the terminal.
  assert.ok(!bar.includes("\x1b]0;owned") && !bar.includes("\x1b[2J") && !bar.includes("\u009b"), JSON.stringify(bar).slice(0, 300));
  assert.ok(bar.includes("\\x1b]0;owned\\x07"));

  const summary = formatOutcomes([outcome("2026-11-19", { status: "failed", error: EVIL, checks: [{ table: "ev\x1bents", check: "x\x07", passed: false, severity: "error", failingRows: 1, columns: [], sample: [], dt: "2026-11-19", action: "block" } as unknown as PartitionOutcome["checks"][number]] })]);
  assert.doesNotMatch(summary, RAW_CONTROL);
});

test("a backfill against an API whose error body carries escape sequences prints none of them raw", async (t) => {
  const server = createServer((_req, res) => res.writeHead(403, { "content-type": "text/plain" }).end(EVIL));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const dataDir = await tempDataDir(t);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const result = await runSluice(["backfill", "events", "--from", "2026-11-19", "--to", "2026-11-19", "--api-url", url, "--data-dir", dataDir]);
  assert.equal(result.code, 1, result.stderr.slice(0, 500));
  assert.match(result.stdout, /2026-11-19\s+failed\s.*HTTP 403/);
  assert.doesNotMatch(result.stdout + result.stderr.replace(/\n/g, ""), RAW_CONTROL);
  assert.ok((result.stdout + result.stderr).includes("\\x1b[2J") || (result.stdout + result.stderr).includes("\\u001b[2J"), "the body is still shown, escaped");
});

test("error lines escape control characters: an unknown job or command named with escape sequences", async () => {
  const job = await cli(["run", "ev\x1b[2Jil"]);
  assert.equal(job.code, 2);
  assert.match(job.stderr, /unknown job "ev\\x1b\[2Jil"/);
  assert.doesNotMatch(job.stderr.replace(/\n/g, ""), RAW_CONTROL);
  const command = await cli(["\x1b]0;owned\x07"]);
  assert.equal(command.code, 2);
  assert.doesNotMatch(command.stderr.replace(/\n/g, ""), RAW_CONTROL);
});

test("log lines (JSON, and pino-pretty's on a terminal) get messages and fields escaped", () => {
  for (const pretty of [true, false]) {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) });
    const log = createLogger({ pretty, destination, level: "info" });
    log.warn({ err: new Error(EVIL), nested: { body: EVIL } }, `retrying: ${EVIL}`);
    const line = lines.join("");
    assert.doesNotMatch(line, RAW_CONTROL, "not even C1 controls or bidi overrides, which JSON leaves raw");
    const record = JSON.parse(line) as { msg: string; err: { message: string }; nested: { body: string } };
    for (const text of [record.msg, record.err.message, record.nested.body]) assert.ok(text.includes("\\x1b[2J") && text.includes("\\u202e"), text);
  }
});

test("--preview cells show Polars dtype names, dates as dates, rounded floats, and fit the width with the middle columns elided", () => {
  const schema: Array<[string, string]> = [
    ["event_id", "DataType(String)"],
    ["dt", "DataType(Date)"],
    ["ts", "DataType(Datetime(us,UTC))"],
    ["amount", "DataType(Float64)"],
    ["page", "DataType(String)"],
    ["note", "DataType(String)"],
    ["user_id", "DataType(Int64)"],
  ];
  const head = [{ event_id: "e-1", dt: "2026-11-21T00:00:00.000Z", ts: "2026-11-21T10:00:00.123Z", amount: 1 / 3, page: "/home", note: `x${EVIL}`, user_id: 42 }];
  const step = { name: "extract events", kind: "extract" as const, ms: 12, rows: 1234, schema, head, details: {} };
  let wide = "";
  printPreview(outcome("2026-11-21", { steps: [step] }), (s) => (wide += s), { width: undefined });
  assert.match(wide, /shape: \(1_234, 7\)/);
  assert.match(wide, /│ str\s+┆ date\s+┆ datetime\[μs, UTC\]\s+┆ f64\s+┆ str\s+┆ str\s+┆ i64\s+│/);
  assert.match(wide, /│ e-1\s+┆ 2026-11-21 ┆ 2026-11-21 10:00:00.123 ┆\s+0.333333 ┆ \/home/);
  assert.doesNotMatch(wide, /DataType|T00:00:00|0\.3333333/);
  assert.doesNotMatch(wide.replace(/\n/g, ""), RAW_CONTROL);

  let narrow = "";
  printPreview(outcome("2026-11-21", { steps: [step] }), (s) => (narrow += s), { width: 60 });
  const frame = narrow.split("\n").filter((l) => /^[┌│╞└]/.test(l));
  assert.ok(frame.length > 0);
  for (const line of frame) assert.ok(displayWidth(line) <= 60, `${displayWidth(line)} columns: ${line}`);
  assert.match(frame[1] ?? "", /^│ event_id ┆ .*┆ … ┆ .*user_id │$/, "first and last columns kept, the middle elided");
});

test("fitting keeps columns from both ends alternately and always the first one", () => {
  assert.deepEqual(fitColumns([5, 5, 5], undefined), [0, 1, 2]);
  assert.deepEqual(fitColumns([5, 5, 5], 100), [0, 1, 2]);
  // 1 + (5+3)*k + 4 for the elided column.
  assert.deepEqual(fitColumns([5, 5, 5, 5, 5, 5], 30), [0, 1, -1, 5]);
  assert.deepEqual(fitColumns([50, 5, 5], 20), [0, -1]);
  assert.deepEqual(fitColumns([80], 20), [0]);
});

test("query tables fit --width or the terminal's width, and print full width when piped or with --wide", async (t) => {
  const dataDir = await loadedDataDir(t);
  const sql = `select ${Array.from({ length: 12 }, (_, i) => `'value-${i}-xxxxxxxx' as column_${i}`).join(", ")}, 1.0/3 as third, 1e12::double as big`;
  const widthOf = (text: string): number => Math.max(...text.split("\n").map(displayWidth));
  const piped = await cli(["query", sql, "--data-dir", dataDir]);
  assert.doesNotMatch(piped.stdout, /┆ … ┆/);
  for (let i = 0; i < 12; i++) assert.ok(piped.stdout.includes(`column_${i}`));
  assert.match(piped.stdout, /0\.333333 ┆ 1\.0000e12 │/);
  const flag = await cli(["query", sql, "--data-dir", dataDir, "--width", "70"]);
  assert.ok(widthOf(flag.stdout.split("\n").slice(0, -1).join("\n")) <= 70, flag.stdout);
  assert.match(flag.stdout, /column_0\s+┆ .*… ┆ .*big/);
  const terminal = await cli(["query", sql, "--data-dir", dataDir], {}, { columns: 90 });
  assert.ok(widthOf(terminal.stdout) <= 90, terminal.stdout);
  assert.match(terminal.stdout, /┆ … ┆/);
  const wide = await cli(["query", sql, "--data-dir", dataDir, "--wide"], {}, { columns: 90 });
  assert.equal(wide.stdout, piped.stdout);
});

test("on a real terminal (a pty from script(1)) a query table fits its columns", { skip: spawnSync("script", ["--version"]).status !== 0 && "script(1) from util-linux is not installed" }, async (t) => {
  const dataDir = await loadedDataDir(t);
  const sql = `select ${Array.from({ length: 10 }, (_, i) => `'value-${i}-xxxxxxxx' as column_${i}`).join(", ")}`;
  const command = `stty cols 64; ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, "bin", "sluice.mjs"))} query ${JSON.stringify(sql)} --data-dir ${JSON.stringify(dataDir)}`;
  const result = spawnSync("script", ["-qec", command, "/dev/null"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, SLUICE_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const lines = result.stdout.split(/\r?\n/).filter((l) => /^[┌│╞└]/.test(l));
  assert.ok(lines.length >= 5, result.stdout);
  for (const line of lines) assert.ok(displayWidth(line) <= 64, `${displayWidth(line)}: ${line}`);
  assert.match(lines[1] ?? "", /column_0 .*… .*column_9/);
});

test("floats read like Polars prints them", () => {
  assert.deepEqual([1 / 3, 2, 0.1 + 0.2, 123456.789, 1e12, 1.5e-7, -0, Number.NaN, -Infinity].map(formatFloat), ["0.333333", "2.0", "0.3", "123456.789", "1.0000e12", "1.5000e-7", "0.0", "NaN", "-inf"]);
});

test("the summary's error cell keeps the meaning: status and body, the URL without its query, no repeated context", () => {
  const error = `HTTP 403 Forbidden from GET http://127.0.0.1:41234/v1/events?start=2026-11-19T00%3A00%3A00Z&end=2026-11-20T00%3A00%3A00Z&limit=1000&cursor=abcdef: {"error":"forbidden for this day"} (gave up after 1 attempts) (job=events partition=2026-11-19 stage=extract)\n  hint: check the token`;
  assert.equal(errorCell(error), 'HTTP 403 Forbidden from GET http://127.0.0.1:41234/v1/events?…: {"error":"forbidden for this day"} (gave up after 1 attempts)');
  const withUrlInContext = 'HTTP 500 from GET http://h/v1/x?a=1: boom (job=events partition=2026-11-19 url=http://h/v1/x?a=1&b=2)';
  assert.equal(errorCell(withUrlInContext), "HTTP 500 from GET http://h/v1/x?…: boom");
  const summary = formatOutcomes([outcome("2026-11-19", { status: "failed", error })]);
  assert.match(summary, /failed .*HTTP 403 Forbidden from GET http:\/\/127\.0\.0\.1:41234\/v1\/events\?…: \{"error":"forbidden for this day"\}/);
});

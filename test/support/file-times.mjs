/**
 * A node:test reporter that prints how long each test file took, slowest first, after the run:
 * the figure to watch against the per-file timeout (`--test-timeout` applies to a whole file), with
 * files over a third of it marked, so a file is split before a busy machine pushes it over.
 * Plain JavaScript because the runner loads reporters before tsx's hooks are in place.
 * Use: node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout
 *      --test-reporter=./test/support/file-times.mjs --test-reporter-destination=stdout test/*.test.ts
 */
import path from "node:path";

/** The runner's --test-timeout in ms, or undefined when none was given. */
function fileTimeoutMs() {
  const flag = process.execArgv.find((a) => a.startsWith("--test-timeout="));
  const ms = flag ? Number(flag.slice("--test-timeout=".length)) : Number.NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** Reporter entry point: collects file-level completions and yields the table at the end. */
export default async function* fileTimes(source) {
  const files = [];
  const started = Date.now();
  for await (const event of source) {
    const data = event.data;
    // A file's own entry is the nesting-0 test named by the file's path.
    if (event.type !== "test:complete" || !data || data.nesting !== 0 || !data.file || data.name !== data.file) continue;
    files.push({ file: path.relative(process.cwd(), data.file), ms: data.details?.duration_ms ?? Number.NaN, passed: data.details?.passed !== false });
  }
  files.sort((a, b) => b.ms - a.ms);
  const timeout = fileTimeoutMs();
  const width = Math.max(4, ...files.map((f) => f.file.length));
  yield `\nfile times, slowest first (whole run ${((Date.now() - started) / 1000).toFixed(1)} s${timeout ? `, per-file timeout ${timeout / 1000} s` : ""}):\n`;
  for (const f of files) {
    const mark = !f.passed ? "  FAILED" : timeout && f.ms > timeout / 3 ? "  over a third of the timeout: split or speed it up" : "";
    yield `${f.file.padEnd(width)}  ${(f.ms / 1000).toFixed(1).padStart(6)} s${mark}\n`;
  }
}

/**
 * A node:test reporter that prints how long each test file took, slowest first, after the run:
 * the figure to watch against the per-file timeout (`--test-timeout` applies to a whole file).
 * Plain JavaScript because the runner loads reporters before tsx's hooks are in place.
 * Use: node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout
 *      --test-reporter=./test/support/file-times.mjs --test-reporter-destination=stderr test/*.test.ts
 */
import path from "node:path";

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
  const width = Math.max(4, ...files.map((f) => f.file.length));
  yield `\nfile times, slowest first (whole run ${((Date.now() - started) / 1000).toFixed(1)} s):\n`;
  for (const f of files) yield `${f.file.padEnd(width)}  ${(f.ms / 1000).toFixed(1).padStart(6)} s${f.passed ? "" : "  FAILED"}\n`;
}

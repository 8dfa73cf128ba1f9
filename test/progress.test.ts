/** Backfill progress: plain lines off a terminal, a live bar on one. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createProgress, formatEta } from "../src/cli/progress.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";

function outcome(dt: string, over: Partial<PartitionOutcome> = {}): PartitionOutcome {
  return { job: "events", dt, runId: `r-${dt}`, status: "succeeded", rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error: null, ...over };
}

test("off a terminal each finished partition prints one plain line with counts, time and eta", () => {
  let clock = 1_000_000;
  const out: string[] = [];
  const p = createProgress({ total: 4, job: "events", tty: false, write: (s) => out.push(s), now: () => clock });
  p.start("2026-11-01");
  p.start("2026-11-02");
  assert.deepEqual(out, [], "starting prints nothing");
  clock += 10_000;
  p.finish(outcome("2026-11-01", { rowsLoaded: 20000, rowsQuarantined: 3, durationMs: 9_960 }));
  clock += 10_000;
  p.finish(outcome("2026-11-02", { status: "failed", rowsLoaded: 0, durationMs: 19_000, error: "HTTP 503 from /v1/events\n  hint: retry later" }));
  p.start("2026-11-03");
  p.log("waiting for the warehouse");
  p.start("2026-11-04");
  clock += 62_000;
  p.finish(outcome("2026-11-03", { rowsLoaded: 5, durationMs: 1_234 }));
  p.finish(outcome("2026-11-04", { rowsLoaded: 7, durationMs: 50 }));
  p.stop();
  assert.deepEqual(out, [
    // 10 s for 1 of 4 done: 30 s left.
    "[1/4] events 2026-11-01 succeeded rows=20000 quarantined=3 10.0s (eta 30s)\n",
    // 20 s for 2 of 4: 20 s left; only the error's first line.
    "[2/4] events 2026-11-02 failed rows=0 quarantined=0 19.0s (eta 20s): HTTP 503 from /v1/events\n",
    "waiting for the warehouse\n",
    // 82 s for 3 of 4: 27.33 s left.
    "[3/4] events 2026-11-03 succeeded rows=5 quarantined=0 1.2s (eta 27s)\n",
    "[4/4] events 2026-11-04 succeeded rows=7 quarantined=0 0.1s\n",
  ]);
});

test("eta reads as seconds, minutes and hours", () => {
  assert.equal(formatEta(undefined), "?");
  assert.equal(formatEta(44_600), "45s");
  assert.equal(formatEta(62_000), "1m02s");
  assert.equal(formatEta(3_900_000), "1h05m");
});

test("on a terminal the bar shows partitions, rows, rate, eta and the running days, and keeps failures on screen", () => {
  let clock = 0;
  let out = "";
  const p = createProgress({ total: 10, job: "events", tty: true, columns: 200, write: (s) => (out += s), now: () => clock });
  try {
    p.start("2026-11-01");
    p.start("2026-11-02");
    p.start("2026-11-03");
    clock = 100_000;
    p.finish(outcome("2026-11-01", { rowsLoaded: 1_234_567 }));
    clock = 100_000;
    p.finish(outcome("2026-11-02", { status: "failed", error: "boom" }));
    p.log("waiting for the warehouse");
  } finally {
    p.stop();
  }
  // Strip ANSI control sequences and carriage returns to read what the terminal shows last.
  // eslint-disable-next-line no-control-regex
  // Cursor-to-column (ESC [ n G) acts like a carriage return here.
  const plain = out.replace(/\x1b\[\d*G/g, "\r").replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");
  const frames = plain.split(/[\r\n]/).filter((l) => l.trim() !== "");
  const last = frames.at(-1) ?? "";
  // 2 of 10 after 100 s: 400 s left; 1,234,567 rows in 100 s.
  assert.match(last, /^events \|█+░+\| 2\/10 partitions \| 1,234,567 rows \| 12,346 rows\/s \| ETA 6m40s \| 1 failed \| running: 2026-11-03$/);
  assert.equal((last.match(/█/g) ?? []).length, Math.round(0.2 * 24));
  assert.ok(frames.some((l) => l === "[2/10] events 2026-11-02 failed rows=0 quarantined=0 0.0s (eta 6m40s): boom"), frames.join("\n"));
  assert.ok(frames.includes("waiting for the warehouse"), frames.join("\n"));
  // Lines printed above the bar save the cursor after them, so stop() restores to the bar's line.
  assert.match(out, /waiting for the warehouse\n\x1b7/);
});

test("stopping a bar that never started writes nothing", () => {
  let out = "";
  const p = createProgress({ total: 3, job: "events", tty: true, write: (s) => (out += s) });
  p.stop();
  assert.equal(out, "");
});

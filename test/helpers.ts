/** Shared test helpers: temp data dirs and a DataFrame comparison that prints both frames. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { TestContext } from "node:test";
import { silentLogger } from "../src/core/log.ts";
import type { RunSettings } from "../src/pipeline/index.ts";
import { spawn, type ChildProcess } from "node:child_process";

/** A fresh temporary data directory, removed after the test unless SLUICE_KEEP_TEST_DIRS is set. */
export async function tempDataDir(t: Pick<TestContext, "after">, prefix = "sluice-test-"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(async () => {
    if (!process.env["SLUICE_KEEP_TEST_DIRS"]) await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export interface FrameCompareOptions {
  /** Sort both frames by these columns before comparing (row order is not part of the contract). */
  sortBy?: string[];
  /** Compare only these columns. */
  columns?: string[];
}

/** Asserts two DataFrames hold the same columns and rows; on failure prints both frames. */
export function assertFramesEqual(actual: pl.DataFrame, expected: pl.DataFrame, options: FrameCompareOptions = {}): void {
  let a = actual;
  let e = expected;
  if (options.columns) {
    a = a.select(...options.columns);
    e = e.select(...options.columns);
  }
  if (options.sortBy && a.height > 0) a = a.sort(options.sortBy);
  if (options.sortBy && e.height > 0) e = e.sort(options.sortBy);
  const show = () => `\nactual ${a.shape.height}x${a.shape.width}:\n${a.toString()}\nexpected ${e.shape.height}x${e.shape.width}:\n${e.toString()}`;
  assert.deepEqual(a.columns, e.columns, `columns differ${show()}`);
  assert.equal(a.height, e.height, `row counts differ${show()}`);
  const rowsA = a.toRecords();
  const rowsE = e.toRecords();
  for (let i = 0; i < rowsA.length; i++) {
    assert.deepEqual(normalize(rowsA[i]), normalize(rowsE[i]), `row ${i} differs${show()}`);
  }
}

function normalize(row: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row ?? {})) {
    out[k] = v instanceof Date ? v.toISOString() : typeof v === "bigint" ? Number(v) : v;
  }
  return out;
}

/** How a `sluice` child process ended. */
export interface SluiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const ROOT = path.resolve(import.meta.dirname, "..");

/** Starts `sluice <args>` as its own process with a clean SLUICE_* environment (log level warn) plus `env`. */
export function startSluice(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<SluiceExit> } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_")));
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "sluice.mjs"), ...args], { cwd: ROOT, env: { ...base, SLUICE_LOG_LEVEL: "warn", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<SluiceExit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `sluice <args>` to the end (see startSluice). */
export function runSluice(args: string[], env: Record<string, string> = {}): Promise<SluiceExit> {
  return startSluice(args, env).done;
}

/** Settings for running partitions in-process in a test: silent, never cancelled, nothing kept. */
export function testRunSettings(dataDir: string, apiUrl: string, env: Record<string, string> = {}): RunSettings {
  return { dataDir, signal: new AbortController().signal, log: silentLogger(), env: { SLUICE_API_URL: apiUrl, ...env }, refetch: false, keepRaw: false, preview: false };
}

/**
 * Shared helpers of the benchmark harness (bench/run.ts): child processes measured for wall time
 * and peak RSS, medians, plain-text tables, machine facts and stage timings parsed from the
 * CLI's JSON logs. Free ports, temp dirs and clean environments come from the test kit (test/support/).
 */
import { spawn, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

/** What a measured child process did. */
export interface Measured {
  /** Wall time from spawn to exit, in ms (includes Node and tsx start-up). */
  wallMs: number;
  /** Peak resident set size of the measured process, in MiB; null when it could not be measured. */
  peakRssMiB: number | null;
  /** How peak RSS was measured. */
  rssSource: "gnu-time" | "proc-vmhwm" | "none";
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** RSS samples of the measured process (epoch ms, MiB), when asked for with `rssTimeline`. */
  rssSamples: Array<{ t: number; rssMiB: number }>;
}

/** Options of a measured run. */
export interface MeasureOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Kill the child (SIGKILL) after this long. */
  timeoutMs?: number;
  /** Keep at most this many characters of stderr (the tail); default 20 MB. */
  maxStderrChars?: number;
  /** Sample the process's RSS every 100 ms (from /proc), to see which phase holds the memory. */
  rssTimeline?: boolean;
}

const GNU_TIME = "/usr/bin/time";

/** True when GNU time (for peak RSS, `-f %M`) is installed. */
export function hasGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

/**
 * Runs `command args` as its own process and measures wall time and peak RSS. Peak RSS comes from
 * GNU time's %M (kernel maxrss of the child) when present, else from polling /proc/<pid>/status
 * VmHWM (the high-water mark, so polling only risks missing the last few ms of growth).
 */
export async function runMeasured(command: string, args: readonly string[], options: MeasureOptions = {}): Promise<Measured> {
  const useTime = hasGnuTime();
  const tmp = useTime ? await mkdtemp(path.join(os.tmpdir(), "sluice-bench-time-")) : null;
  const timeFile = tmp ? path.join(tmp, "rss.txt") : null;
  const [cmd, argv] = timeFile ? [GNU_TIME, ["-o", timeFile, "-f", "%M", command, ...args]] : [command, [...args]];
  const maxStderr = options.maxStderrChars ?? 20_000_000;
  try {
    const started = performance.now();
    const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      if (stderr.length > maxStderr * 2) stderr = stderr.slice(-maxStderr);
    });
    let hwmKiB = 0;
    const poll = timeFile
      ? null
      : setInterval(() => {
          void readFile(`/proc/${child.pid}/status`, "utf8")
            .then((s) => {
              const m = /VmHWM:\s+(\d+)\s+kB/.exec(s);
              if (m) hwmKiB = Math.max(hwmKiB, Number(m[1]));
            })
            .catch(() => undefined);
        }, 50);
    // With GNU time in between, the measured process is time's only child.
    const samples: Array<{ t: number; rssMiB: number }> = [];
    let target: number | null = timeFile ? null : (child.pid ?? null);
    const sampler = options.rssTimeline
      ? setInterval(() => {
          void (async () => {
            if (target === null && child.pid !== undefined) {
              const kids = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").catch(() => "");
              const first = Number(kids.trim().split(/\s+/)[0]);
              if (first > 0) target = first;
            }
            if (target === null) return;
            const status = await readFile(`/proc/${target}/status`, "utf8").catch(() => "");
            const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
            if (m) samples.push({ t: Date.now(), rssMiB: Number(m[1]) / 1024 });
          })();
        }, 100)
      : null;
    const kill = () => child.kill("SIGKILL");
    options.signal?.addEventListener("abort", kill, { once: true });
    const timer = options.timeoutMs ? setTimeout(kill, options.timeoutMs) : null;
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, sig) => resolve([code, sig]));
    });
    const wallMs = performance.now() - started;
    if (poll) clearInterval(poll);
    if (sampler) clearInterval(sampler);
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener("abort", kill);
    let peakRssMiB: number | null = null;
    let rssSource: Measured["rssSource"] = "none";
    if (timeFile) {
      // GNU time writes "Command exited with non-zero status N" before the value on failures.
      const text = await readFile(timeFile, "utf8").catch(() => "");
      const kib = Number(text.trim().split("\n").at(-1));
      if (Number.isFinite(kib) && kib > 0) {
        peakRssMiB = kib / 1024;
        rssSource = "gnu-time";
      }
    } else if (hwmKiB > 0) {
      peakRssMiB = hwmKiB / 1024;
      rssSource = "proc-vmhwm";
    }
    return { wallMs, peakRssMiB, rssSource, exitCode, signal, stdout, stderr: stderr.slice(-maxStderr), rssSamples: samples };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

/** Median of a list (mean of the two middle values for even lengths); NaN for an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median of the non-null values, or null when there are none. */
export function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return xs.length === 0 ? null : median(xs);
}

/** A plain-text table with a header rule; numbers right-aligned. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) => rows.every((r) => r[i] === null || typeof r[i] === "number" || /^[-+]?[\d.,]+x?$/.test(String(r[i]))));
  const line = (r: readonly string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line([...headers]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** Rounds to `digits` decimals (for printing and JSON). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Polls `url` until it answers (any HTTP status) or `timeoutMs` passes. */
export async function waitForHttp(url: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`nothing answered at ${url} within ${timeoutMs} ms: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

/** The facts of the machine a result was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAvg: number[];
}

/** CPU model, core count, memory, Node version and load average of this machine. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAvg: os.loadavg().map((x) => round(x, 2)),
  };
}

/** The short sha of HEAD (with "-dirty" when the tree has changes), or "nogit". */
export function gitShortSha(cwd: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return "nogit";
  }
}

/** One JSON log line of the CLI (pino), the fields the bench reads. */
export interface LogLine {
  stage?: string;
  msg?: string;
  ms?: number;
  step?: string;
  table?: string;
  time?: string;
  level?: number;
  [key: string]: unknown;
}

/** Parses the JSON lines of a pino stderr stream; other lines are ignored. */
export function parseLogLines(stderr: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (v && typeof v === "object") out.push(v as LogLine);
    } catch {
      // Not a log line (or a truncated one): skip.
    }
  }
  return out;
}

/** Per-stage wall times of one Sluice run, in ms. */
export interface StageTimings {
  extract: number;
  validate: number;
  transform: number;
  load: number;
  /** The run as the CLI logged it ("run succeeded" ms); null when absent. */
  run: number | null;
  /** Transform steps by name (a step that occurs twice is summed). */
  steps: Record<string, number>;
}

/**
 * Stage timings from the CLI's logs: "extract finished", "transform finished" and "load finished"
 * carry `ms`; a "validate finished" line without `ms` is timed from the previous staged line's
 * timestamp (pino isoTime, ms resolution), which covers reading foreign keys too.
 */
export function stageTimings(lines: readonly LogLine[]): StageTimings {
  const t: StageTimings = { extract: 0, validate: 0, transform: 0, load: 0, run: null, steps: {} };
  let prevTime: number | null = null;
  for (const line of lines) {
    const time = typeof line.time === "string" ? Date.parse(line.time) : typeof line.time === "number" ? line.time : Number.NaN;
    const msg = line.msg ?? "";
    const ms = typeof line.ms === "number" ? line.ms : null;
    if (line.stage === "extract" && msg.startsWith("extract finished") && ms !== null) t.extract += ms;
    else if (line.stage === "transform" && msg.startsWith("transform finished") && ms !== null) {
      t.transform += ms;
      const step = String(line.step ?? "?");
      t.steps[step] = (t.steps[step] ?? 0) + ms;
    } else if (line.stage === "validate" && msg.startsWith("validate finished")) {
      if (ms !== null) t.validate += ms;
      else if (prevTime !== null && Number.isFinite(time)) t.validate += time - prevTime;
    } else if (line.stage === "load" && msg.startsWith("load finished") && ms !== null) t.load += ms;
    else if (line.stage === "run" && msg.startsWith("run succeeded") && ms !== null) t.run = ms;
    if (line.stage !== undefined && Number.isFinite(time)) prevTime = time;
  }
  return t;
}

/** Formats a ratio as "1.23x". */
export function ratio(value: number | null): string {
  return value === null || !Number.isFinite(value) ? "-" : `${value.toFixed(2)}x`;
}

/** One phase of a run and the most RSS the process held during it. */
export interface PhaseRss {
  phase: string;
  /** Max sampled RSS in the phase, MiB; null when no sample fell in it. */
  maxRssMiB: number | null;
  ms: number;
}

/**
 * Splits a run's RSS samples by its log lines: each "... finished"/"run succeeded" line closes the
 * phase that began at the previous such line (the first one at "run started"); samples before
 * "run started" are start-up, after the last line exit.
 */
export function rssByPhase(lines: readonly LogLine[], samples: ReadonlyArray<{ t: number; rssMiB: number }>): PhaseRss[] {
  const marks: Array<{ t: number; phase: string }> = [];
  for (const line of lines) {
    const t = typeof line.time === "string" ? Date.parse(line.time) : Number.NaN;
    if (!Number.isFinite(t) || line.stage === undefined) continue;
    const msg = line.msg ?? "";
    if (msg === "run started") marks.push({ t, phase: "start-up" });
    else if (msg.endsWith(" finished") || msg === "run succeeded") {
      const what = line.stage === "transform" ? `transform: ${String(line.step ?? "?")}` : line.stage === "validate" ? `validate ${String(line.table ?? "")}`.trim() : line.stage === "run" ? "bookkeeping" : line.stage;
      marks.push({ t, phase: what });
    }
  }
  if (marks.length === 0 || samples.length === 0) return [];
  const out: PhaseRss[] = [];
  const first = samples[0]!.t;
  let from = first - 1;
  for (const mark of marks) {
    const inPhase = samples.filter((s) => s.t > from && s.t <= mark.t).map((s) => s.rssMiB);
    out.push({ phase: mark.phase, maxRssMiB: inPhase.length ? Math.max(...inPhase) : null, ms: mark.t - Math.max(from, first) });
    from = mark.t;
  }
  const tail = samples.filter((s) => s.t > from).map((s) => s.rssMiB);
  out.push({ phase: "exit", maxRssMiB: tail.length ? Math.max(...tail) : null, ms: (samples.at(-1)?.t ?? from) - from });
  return out;
}

/** A competitor bench's flags (bench/reference-duckdb.ts, bench/tutorial.ts): the API, the day, a work dir, then its own. */
export interface CompetitorArgs {
  apiUrl: string;
  dt: string;
  workDir: string;
  /** Every flag by name, the optional ones at their defaults: --limit (1000) and those of `extra`. */
  flags: Record<string, string>;
}

/**
 * Reads --api-url URL, --date YYYY-MM-DD, --work-dir DIR and --limit N, plus the string flags named in
 * `extra` (name -> default), from the command line; throws `usage: <usage>` when one of the first three is missing.
 */
export function competitorArgs(usage: string, extra: Record<string, string> = {}): CompetitorArgs {
  const options: Record<string, { type: "string"; default?: string }> = { "api-url": { type: "string" }, date: { type: "string" }, "work-dir": { type: "string" }, limit: { type: "string", default: "1000" } };
  for (const [name, value] of Object.entries(extra)) options[name] = { type: "string", default: value };
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseArgs({ options }).values)) if (typeof value === "string") flags[name] = value;
  const { "api-url": apiUrl, date: dt, "work-dir": workDir } = flags;
  if (!apiUrl || !dt || !/^\d{4}-\d{2}-\d{2}$/.test(dt) || !workDir) throw new Error(`usage: ${usage}`);
  return { apiUrl, dt, workDir, flags };
}

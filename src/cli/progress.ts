/**
 * Backfill progress: a live cli-progress bar on a terminal, and one plain line per finished
 * partition otherwise (CI logs, cron mail, `2> file`), where a redrawn bar would be garbage.
 */
import cliProgress from "cli-progress";
import { terminalSafe } from "../core/terminal-text.ts";
import { errorCell } from "./format.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";

export interface ProgressOptions {
  /** Partitions that will run (skipped ones excluded). */
  total: number;
  job: string;
  /** Draw a live bar (stderr is a terminal) or print plain lines. */
  tty: boolean;
  write: (s: string) => void;
  /** Terminal width for the bar (default: stderr's, else 120). */
  columns?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface Progress {
  /** A partition started running. */
  start(dt: string): void;
  /** A partition finished (any status). */
  finish(outcome: PartitionOutcome): void;
  /** Prints a message line (warnings, "waiting for the warehouse") without breaking the bar. */
  log(message: string): void;
  /** Stops the bar (call once, also on errors: a TTY bar holds a redraw timer). */
  stop(): void;
}

/** Shows the progress of a backfill: a bar on a TTY, plain lines otherwise. */
export function createProgress(options: ProgressOptions): Progress {
  const tally = new Tally(options.total, options.now ?? Date.now);
  return options.tty ? new BarProgress(options, tally) : new LineProgress(options, tally);
}

/** What both views count: partitions running and done, failures, rows, and the rate and ETA from them. */
class Tally {
  readonly running: string[] = [];
  done = 0;
  failed = 0;
  rows = 0;
  private startedAt: number | undefined;

  constructor(
    readonly total: number,
    private readonly now: () => number,
  ) {}

  /** Starts the clock (once). */
  begin(): void {
    this.startedAt ??= this.now();
  }

  started(dt: string): void {
    this.running.push(dt);
  }

  finished(o: PartitionOutcome): void {
    remove(this.running, o.dt);
    this.done++;
    this.rows += o.rowsLoaded;
    if (o.status !== "succeeded" && o.status !== "skipped") this.failed++;
  }

  elapsedMs(): number {
    return this.startedAt === undefined ? 0 : Math.max(0, this.now() - this.startedAt);
  }

  etaMs(): number | undefined {
    return this.done === 0 ? undefined : (this.elapsedMs() / this.done) * (this.total - this.done);
  }

  /** Rows loaded per second since the first start. */
  rate(): number {
    const s = this.elapsedMs() / 1000;
    return s > 0 ? this.rows / s : 0;
  }

  /** One finished partition as a plain line, with the ETA while partitions remain. */
  line(o: PartitionOutcome): string {
    const eta = this.done < this.total ? ` (eta ${formatEta(this.etaMs())})` : "";
    const error = o.error && o.status !== "succeeded" ? `: ${firstLine(terminalSafe(errorCell(o.error), { newlines: true }), 200)}` : "";
    return `[${this.done}/${this.total}] ${terminalSafe(o.job)} ${o.dt} ${o.status} rows=${o.rowsLoaded} quarantined=${o.rowsQuarantined} ${(o.durationMs / 1000).toFixed(1)}s${eta}${error}\n`;
  }
}

/** Plain lines, one per finished partition (CI logs, cron mail, `2> file`). */
class LineProgress implements Progress {
  constructor(
    private readonly options: ProgressOptions,
    private readonly tally: Tally,
  ) {}

  start(dt: string): void {
    this.tally.begin();
    this.tally.started(dt);
  }

  finish(o: PartitionOutcome): void {
    this.tally.finished(o);
    this.options.write(this.tally.line(o));
  }

  log(message: string): void {
    this.options.write(asLine(message));
  }

  stop(): void {}
}

/** A live cli-progress bar; failures and messages are printed above it. */
class BarProgress implements Progress {
  private readonly bar: cliProgress.SingleBar;
  private active = false;

  constructor(
    private readonly options: ProgressOptions,
    private readonly tally: Tally,
  ) {
    this.bar = new cliProgress.SingleBar({
      stream: barStream(options) as unknown as NodeJS.WritableStream,
      fps: 4,
      // Lines printed above the bar clear its line: redraw even when the text did not change.
      forceRedraw: true,
      barsize: 24,
      barCompleteChar: "█",
      barIncompleteChar: "░",
      hideCursor: true,
      format: (opts, params) => this.format(cliProgress.Format.BarFormat(params.progress, opts)),
    });
  }

  start(dt: string): void {
    this.ensureStarted();
    this.tally.started(dt);
    this.bar.update(this.tally.done);
  }

  finish(o: PartitionOutcome): void {
    this.ensureStarted();
    this.tally.finished(o);
    // Keep failures on screen, above the bar.
    if (o.status !== "succeeded" && o.status !== "skipped") this.above(this.tally.line(o));
    this.bar.update(this.tally.done);
    this.bar.render();
  }

  log(message: string): void {
    if (!this.active) {
      this.options.write(asLine(message));
      return;
    }
    this.above(asLine(message));
    this.bar.render();
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.bar.stop();
  }

  private format(bar: string): string {
    const t = this.tally;
    const parts = [
      `${terminalSafe(this.options.job)} |${bar}| ${t.done}/${t.total} partitions`,
      `${formatInt(t.rows)} rows`,
      `${formatInt(Math.round(t.rate()))} rows/s`,
      `ETA ${formatEta(t.etaMs())}`,
    ];
    if (t.failed > 0) parts.push(`${t.failed} failed`);
    if (t.running.length > 0) parts.push(`running: ${t.running.slice(0, 3).join(", ")}${t.running.length > 3 ? ` +${t.running.length - 3}` : ""}`);
    return parts.join(" | ");
  }

  /**
   * Prints a line above the bar: clear the bar's line, print, and save the cursor at the start of
   * the bar's new line (ESC 7), because cli-progress restores the cursor saved at start() on stop().
   */
  private above(line: string): void {
    this.options.write(`\r\x1b[2K${line.endsWith("\n") ? line : `${line}\n`}\x1b7`);
  }

  private ensureStarted(): void {
    if (this.active) return;
    this.active = true;
    this.tally.begin();
    this.bar.start(this.tally.total, this.tally.done);
  }
}

/** A terminal-like stream over `write`, as cli-progress expects one. */
function barStream(options: ProgressOptions) {
  return {
    isTTY: true,
    columns: options.columns ?? process.stderr.columns ?? 120,
    write(chunk: string | Uint8Array, ...rest: unknown[]): boolean {
      options.write(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      // readline's cursor helpers pass a callback; call it like a real stream would.
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    },
  };
}

/** A message as one terminal-safe line (its own control characters escaped, one line break at the end). */
function asLine(message: string): string {
  return `${terminalSafe(message.replace(/\n$/, ""), { newlines: true })}\n`;
}

function remove(list: string[], item: string): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

function firstLine(s: string, max: number): string {
  const line = s.split("\n")[0] ?? "";
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function formatInt(n: number): string {
  return n.toLocaleString("en-US");
}

/** 45s, 1m02s, 1h05m; "?" before anything finished. */
export function formatEta(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "?";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

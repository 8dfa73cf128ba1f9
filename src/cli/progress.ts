/**
 * Backfill progress: a live cli-progress bar on a terminal, and one plain line per finished
 * partition otherwise (CI logs, cron mail, `2> file`), where a redrawn bar would be garbage.
 */
import cliProgress from "cli-progress";
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
  const now = options.now ?? Date.now;
  const running: string[] = [];
  let done = 0;
  let failed = 0;
  let rows = 0;
  let startedAt: number | undefined;

  const elapsedMs = () => (startedAt === undefined ? 0 : Math.max(0, now() - startedAt));
  const etaMs = (): number | undefined => (done === 0 ? undefined : (elapsedMs() / done) * (options.total - done));
  const rate = () => {
    const s = elapsedMs() / 1000;
    return s > 0 ? rows / s : 0;
  };

  const plainLine = (o: PartitionOutcome): string => {
    const eta = done < options.total ? ` (eta ${formatEta(etaMs())})` : "";
    const error = o.error && o.status !== "succeeded" ? `: ${firstLine(o.error, 200)}` : "";
    return `[${done}/${options.total}] ${o.job} ${o.dt} ${o.status} rows=${o.rowsLoaded} quarantined=${o.rowsQuarantined} ${(o.durationMs / 1000).toFixed(1)}s${eta}${error}\n`;
  };

  if (!options.tty) {
    return {
      start(dt) {
        startedAt ??= now();
        running.push(dt);
      },
      finish(o) {
        remove(running, o.dt);
        done++;
        rows += o.rowsLoaded;
        options.write(plainLine(o));
      },
      log(message) {
        options.write(message.endsWith("\n") ? message : `${message}\n`);
      },
      stop() {},
    };
  }

  const stream = {
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
  const bar = new cliProgress.SingleBar({
    stream: stream as unknown as NodeJS.WritableStream,
    fps: 4,
    // Lines printed above the bar clear its line: redraw even when the text did not change.
    forceRedraw: true,
    barsize: 24,
    barCompleteChar: "█",
    barIncompleteChar: "░",
    hideCursor: true,
    format: (opts, params) => {
      const parts = [
        `${options.job} |${cliProgress.Format.BarFormat(params.progress, opts)}| ${done}/${options.total} partitions`,
        `${formatInt(rows)} rows`,
        `${formatInt(Math.round(rate()))} rows/s`,
        `ETA ${formatEta(etaMs())}`,
      ];
      if (failed > 0) parts.push(`${failed} failed`);
      if (running.length > 0) parts.push(`running: ${running.slice(0, 3).join(", ")}${running.length > 3 ? ` +${running.length - 3}` : ""}`);
      return parts.join(" | ");
    },
  });
  let active = false;
  /**
   * Prints a line above the bar: clear the bar's line, print, and save the cursor at the start of
   * the bar's new line (ESC 7), because cli-progress restores the cursor saved at start() on stop().
   */
  const above = (line: string) => {
    options.write(`\r\x1b[2K${line.endsWith("\n") ? line : `${line}\n`}\x1b7`);
  };
  const ensureStarted = () => {
    if (active) return;
    active = true;
    startedAt ??= now();
    bar.start(options.total, done);
  };

  return {
    start(dt) {
      ensureStarted();
      running.push(dt);
      bar.update(done);
    },
    finish(o) {
      ensureStarted();
      remove(running, o.dt);
      done++;
      rows += o.rowsLoaded;
      if (o.status !== "succeeded" && o.status !== "skipped") {
        failed++;
        // Keep failures on screen, above the bar.
        above(plainLine(o));
      }
      bar.update(done);
      bar.render();
    },
    log(message) {
      if (!active) {
        options.write(message.endsWith("\n") ? message : `${message}\n`);
        return;
      }
      above(message);
      bar.render();
    },
    stop() {
      if (!active) return;
      active = false;
      bar.stop();
    },
  };
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

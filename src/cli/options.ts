/** The options and value parsers several commands share: one definition each, one message per bad value. */
import { Argument, Option, type Command } from "commander";
import { LOG_LEVELS, resolveQueueUrl, type Env } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { parseQueueUrl } from "../queue/queue-url.ts";
import type { Io } from "./context.ts";

export type OutputFormat = "table" | "csv" | "json";

/** `<job>`: a job of the catalog. */
export function jobArgument(): Argument {
  return new Argument("<job>", "job name (list them with: sluice jobs)");
}

/** --data-dir; `what` says what the command keeps there. */
export function dataDirOption(what = "data directory (lake, warehouse, reports)"): Option {
  return new Option("--data-dir <dir>", `${what} [env SLUICE_DATA_DIR, default ./data]`);
}

/** --api-url of the source API. */
export function apiUrlOption(): Option {
  return new Option("--api-url <url>", "source API base URL [env SLUICE_API_URL; default: start the demo API in-process]");
}

/** --log-level, one of pino's levels. */
export function logLevelOption(): Option {
  return new Option("--log-level <level>", "log level [env SLUICE_LOG_LEVEL]").choices(LOG_LEVELS);
}

/** --queue, for commands that can use the BullMQ queue. */
export function queueOption(): Option {
  return new Option("--queue <url>", "Redis URL of the BullMQ queue, e.g. redis://127.0.0.1:6379 [env SLUICE_QUEUE_URL]");
}

/** --jobs-dir, for commands that look up jobs. */
export function jobsDirOption(): Option {
  return new Option("--jobs-dir <dir>", "folder of job files [env SLUICE_JOBS_DIR; default ./jobs if it exists, else the built-in jobs]");
}

/** The flags of the commands that run partitions (`run`, `backfill`). */
export interface RunFlags {
  apiUrl?: string;
  dataDir?: string;
  logLevel?: string;
  jobsDir?: string;
  refetch?: boolean;
  keepRaw?: boolean;
  fullRefresh?: boolean;
}

/** Adds the options of RunFlags, in the order `--help` shows them. */
export function addRunOptions(command: Command): Command {
  return command
    .addOption(apiUrlOption())
    .addOption(dataDirOption())
    .addOption(logLevelOption())
    .addOption(jobsDirOption())
    .option("--refetch", "ignore landed raw pages and fetch again")
    .option("--keep-raw", "keep landed raw pages after successful runs")
    .option("--full-refresh", "incremental sources start over from their initial mark; unpartitioned tables are replaced in one transaction");
}

/** --allow-shrink: load a partition even when it shrinks by more than its table's maxShrink. */
export function allowShrinkOption(): Option {
  return new Option("--allow-shrink", "load a rerun even when it removes more of a loaded partition than its table allows (default: more than half fails)");
}

/** --format of tabular output. */
export function formatOption(): Option {
  return new Option("--format <format>", "output format").choices(["table", "csv", "json"]).default("table");
}

/** --concurrency: partitions at once, a whole number from 1 to 64 (default 2). */
export function concurrencyOption(description: string): Option {
  return new Option("--concurrency <n>", description).argParser((value: string) => parseIntFlag("concurrency", value, 1, 64)).default(2);
}

/** A whole-number option from `min` to `max`. */
export function intOption(name: string, description: string, min: number, max: number, fallback: number): Option {
  return new Option(`--${name} <n>`, description).argParser((value: string) => parseIntFlag(name, value, min, max)).default(fallback);
}

/** A number option from 0 to 1. */
export function fractionOption(name: string, description: string, fallback: number): Option {
  return new Option(`--${name} <r>`, description).argParser((value: string) => parseFraction(name, value)).default(fallback);
}

/**
 * `value` as a whole number from min to max, written in plain decimal digits (JS's Number() would
 * also take "1e1", "0x2", " 2 " and "": a flag means what it says or is refused); UsageError otherwise.
 */
export function parseIntFlag(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} "${value}" must be a whole number from ${min} to ${max}, in decimal digits`);
  return n;
}

/** `value` as a number from 0 to 1 in plain decimal notation (0.05, .5, 1); UsageError naming the flag otherwise. */
export function parseFraction(name: string, value: string): number {
  const n = /^(\d{1,15}(\.\d{0,15})?|\.\d{1,15})$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UsageError(`--${name} "${value}" must be a number from 0 to 1, like 0.05`);
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_DURATION_MS = 24 * 3_600_000;

/** `value` as milliseconds: decimal digits with a unit (500ms, 30s, 5m, 1h; no unit: seconds), from 1 ms to 24 h. */
export function parseDuration(name: string, value: string): number {
  const m = /^(\d{1,9})(ms|s|m|h)?$/.exec(value);
  const ms = m ? Number(m[1]) * (DURATION_UNITS[m[2] ?? "s"] ?? 1000) : NaN;
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) throw new UsageError(`--${name} "${value}" must be a duration like 30s, 5m or 500ms (at most 24h)`);
  return ms;
}

/** A duration option (see parseDuration); the value is { ms, text } so messages can quote it. */
export function durationOption(name: string, description: string, fallback: string): Option {
  return new Option(`--${name} <duration>`, description).argParser((value: string) => ({ ms: parseDuration(name, value), text: value })).default({ ms: parseDuration(name, fallback), text: fallback }, fallback);
}

/** A parsed duration flag: milliseconds, and the text the user gave. */
export interface DurationFlag {
  ms: number;
  text: string;
}

/** How wide tables may be: --wide (no limit), --width N, else the terminal's width (none when piped). */
export interface WidthFlags {
  wide?: boolean;
  width?: number;
}

/** Adds --wide and --width to a command that prints frames. */
export function addWidthOptions(command: Command): Command {
  return command
    .option("--wide", "print tables at full width (the default when stdout is not a terminal)")
    .addOption(new Option("--width <n>", "fit tables to this many columns (default: the terminal's width)").argParser((value: string) => parseIntFlag("width", value, 20, 100_000)));
}

/** The layout a frame is fitted to: full width with --wide or when stdout is not a terminal. */
export function frameWidth(flags: WidthFlags, io: Io): number | undefined {
  if (flags.wide) return undefined;
  return flags.width ?? io.stdoutColumns?.();
}

/** The queue URL from --queue or SLUICE_QUEUE_URL (validated), or undefined: run locally. */
export function queueUrlOf(flag: string | undefined, env: Env): string | undefined {
  const url = resolveQueueUrl(flag, env);
  return url === undefined ? undefined : parseQueueUrl(url);
}

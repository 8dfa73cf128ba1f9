/** Structured logging (pino): JSON lines by default, readable lines on a TTY. */
import { pino, type Logger } from "pino";
import { terminalSafeDeep } from "./terminal-text.ts";

export type { Logger };

export interface LoggerOptions {
  /** Default info; the CLI passes the configured level (flag or SLUICE_LOG_LEVEL). */
  level?: string;
  /** Human-readable output (pino-pretty); default: when stderr is a TTY. */
  pretty?: boolean;
  /** Where JSON lines go; default stderr (fd 2) so stdout stays for command output. */
  destination?: pino.DestinationStream;
  /** Secret values to scrub from every line, whatever field they end up in. */
  secrets?: string[];
  /** Secrets learned while running (a source's tokens, OAuth access tokens): scrubbed from the moment they are known. */
  redactor?: { onSecret(listener: (secret: string) => void): void };
}

/** Paths never logged; secrets are also scrubbed by value in `scrub` below. */
const REDACT_PATHS = ["token", "apiToken", "headers.authorization", "headers.Authorization", "*.token", "*.apiToken"];

/** Creates the process logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  options.redactor?.onSecret((s) => {
    if (s.length >= 4 && !secrets.includes(s)) secrets.push(s);
  });
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    hooks: {
      // Secrets can hide inside messages and URLs: scrub every string argument by value.
      logMethod(args, method) {
        if (secrets.length > 0) args = args.map((a) => scrub(a, secrets)) as typeof args;
        // An API's error body must not drive the terminal: pino-pretty prints strings raw, and JSON
        // leaves C1 controls and bidi overrides raw (log files end up in terminals too).
        args = args.map((a) => terminalSafeDeep(a)) as typeof args;
        method.apply(this, args);
      },
    },
  };
  if (options.destination) return pino(base, options.destination);
  if (pretty) {
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { destination: 2, colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" } },
    });
  }
  return pino(base, pino.destination(2));
}

/** Replaces every occurrence of a secret in strings, deeply. */
export function scrub<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === "string") {
    let s: string = value;
    for (const secret of secrets) s = s.split(secret).join("[redacted]");
    return s as T;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets)) as T;
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, secrets);
    if (value instanceof Error) return Object.assign(Object.create(Object.getPrototypeOf(value)), value, out, { message: scrub(value.message, secrets) });
    return out as T;
  }
  return value;
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/** What every command gets from the process: its output streams, its environment and its exit code. */
import type { Writable } from "node:stream";
import type { Env } from "../core/config.ts";

/** Where a command writes: stdout for results, stderr for messages. */
export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** stdout as a stream, for results too big to build as one string (query); default: through `stdout`. */
  stdoutStream?: Writable;
  /** The terminal's width when stdout is a terminal; undefined when piped (tables print at full width). */
  stdoutColumns?: () => number | undefined;
}

/** The process as a command sees it. */
export interface CliContext {
  io: Io;
  /** The environment, read only through core/config.ts. */
  env: Env;
  /** Sets the exit code of a command that finished without throwing. */
  setExit: (code: number) => void;
}

/** The `sluice` command line. Scripts depend on it: flags, output and exit codes are a contract. */
import { Command, CommanderError } from "commander";
import { resolveFailpoint, type Env } from "../core/config.ts";
import { SluiceError, formatError } from "../core/errors.ts";
import { armFailpoint } from "../core/failpoints.ts";
import { terminalSafe } from "../core/terminal-text.ts";
import { registerBackfill } from "./commands/backfill.ts";
import { registerCatchUp } from "./commands/catch-up.ts";
import { registerChecks } from "./commands/checks.ts";
import { registerDemoApi } from "./commands/demo-api.ts";
import { registerJobs } from "./commands/jobs.ts";
import { registerLoader } from "./commands/loader.ts";
import { registerQuery } from "./commands/query.ts";
import { registerReport } from "./commands/report.ts";
import { registerRun } from "./commands/run.ts";
import { registerSchedule } from "./commands/schedule.ts";
import { registerStatus } from "./commands/status.ts";
import { registerWarehouse } from "./commands/warehouse.ts";
import { registerWorker } from "./commands/worker.ts";
import type { CliContext, Io } from "./context.ts";

export { useJobImporter } from "./catalog.ts";

/** Every command, in the order of `sluice --help`. */
const COMMANDS: ReadonlyArray<(program: Command, ctx: CliContext) => void> = [
  registerRun,
  registerBackfill,
  registerCatchUp,
  registerSchedule,
  registerQuery,
  registerStatus,
  registerChecks,
  registerWarehouse,
  registerReport,
  registerJobs,
  registerDemoApi,
  registerWorker,
  registerLoader,
];

/** Builds the commander program (exported for tests and --help docs). */
export function buildProgram(io: Io, setExit: (code: number) => void, env: Env = process.env): Command {
  const program = new Command("sluice")
    .description("Batch data pipelines: paginated HTTP APIs -> Arrow -> Polars -> validated Parquet lake + DuckDB warehouse.")
    .showSuggestionAfterError()
    .exitOverride()
    // Commander quotes what was typed (an unknown command, a bad value): escape it like everything else.
    .configureOutput({ writeOut: io.stdout, writeErr: (s) => io.stderr(terminalSafe(s, { newlines: true })) });
  for (const register of COMMANDS) register(program, { io, env, setExit });
  return program;
}

/** The process's own output streams. */
function processIo(): Io {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    stdoutStream: process.stdout,
    stdoutColumns: () => (process.stdout.isTTY ? process.stdout.columns : undefined),
  };
}

/** Runs the CLI with process argv (tests may pass their own env and io); resolves to the exit code. */
export async function main(argv: string[], env: Env = process.env, io: Io = processIo()): Promise<number> {
  return runCli(argv, io, env);
}

/** Runs one command line against `io` and `env` (main's body; tests run commands in-process with it). */
export async function runCli(argv: string[], io: Io, env: Env): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c), env);
  try {
    // Tests kill a process at a named point to prove crash safety (core/failpoints.ts).
    armFailpoint(resolveFailpoint(env));
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    return exitCodeFor(error, io);
  }
}

/** Reports an error that ended a command and picks the exit code: 2 for usage, the error's own, else 1. */
function exitCodeFor(error: unknown, io: Io): number {
  if (error instanceof CommanderError) {
    // Commander already printed its one-line message; help and version are not errors.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof SluiceError) {
    io.stderr(`sluice: ${terminalSafe(formatError(error), { newlines: true })}\n`);
    return error.exitCode;
  }
  io.stderr(`sluice: unexpected error: ${terminalSafe(error instanceof Error ? (error.stack ?? error.message) : String(error), { newlines: true })}\n`);
  return 1;
}

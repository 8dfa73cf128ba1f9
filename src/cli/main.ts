/** The `sluice` command line. Scripts depend on it: flags, output and exit codes are a contract. */
import { Command, CommanderError } from "commander";
import { resolveFailpoint, type Env } from "../core/config.ts";
import { SluiceError, formatError } from "../core/errors.ts";
import { armFailpoint } from "../core/failpoints.ts";
import { registerBackfill } from "./commands/backfill.ts";
import { registerDemoApi } from "./commands/demo-api.ts";
import { registerJobs } from "./commands/jobs.ts";
import { registerLoader } from "./commands/loader.ts";
import { registerQuery } from "./commands/query.ts";
import { registerReport } from "./commands/report.ts";
import { registerRun } from "./commands/run.ts";
import { registerStatus } from "./commands/status.ts";
import { registerWarehouse } from "./commands/warehouse.ts";
import { registerWorker } from "./commands/worker.ts";
import type { CliContext, Io } from "./context.ts";

/** Every command, in the order of `sluice --help`. */
const COMMANDS: ReadonlyArray<(program: Command, ctx: CliContext) => void> = [
  registerRun,
  registerBackfill,
  registerQuery,
  registerStatus,
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
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const register of COMMANDS) register(program, { io, env, setExit });
  return program;
}

/** Runs the CLI with process argv; resolves to the exit code. */
export async function main(argv: string[], env: Env = process.env): Promise<number> {
  let code = 0;
  const io: Io = { stdout: (s) => void process.stdout.write(s), stderr: (s) => void process.stderr.write(s) };
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
    io.stderr(`sluice: ${formatError(error)}\n`);
    return error.exitCode;
  }
  io.stderr(`sluice: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

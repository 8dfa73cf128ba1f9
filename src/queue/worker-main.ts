/**
 * Standalone entry of the scale-out commands (`worker`, `loader`) for tests and benchmarks, and
 * for machines that only run workers: node --import tsx src/queue/worker-main.ts worker --queue ...
 * The same commands are part of `sluice` itself once main.ts registers them.
 */
import { Command, CommanderError } from "commander";
import { SluiceError, formatError } from "../core/errors.ts";
import { registerQueueCommands } from "./cli.ts";

const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
const program = new Command("sluice").exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
registerQueueCommands(program, io);
let code = 0;
try {
  await program.parseAsync(process.argv.slice(2), { from: "user" });
} catch (error) {
  if (error instanceof CommanderError) code = error.exitCode === 0 ? 0 : 2;
  else if (error instanceof SluiceError) {
    io.stderr(`sluice: ${formatError(error)}\n`);
    code = error.exitCode;
  } else {
    io.stderr(`sluice: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    code = 1;
  }
}
process.stdout.write("", () => process.exit(code));

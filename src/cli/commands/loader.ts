/** `sluice loader`: the one process that writes the warehouse for all workers. */
import type { Command } from "commander";
import { DEFAULT_QUEUE_URL, resolveQueueTuning, resolveSettingsFor } from "../../core/config.ts";
import { createLogger } from "../../core/log.ts";
import type { CliContext } from "../context.ts";
import { dataDirOption, logLevelOption, queueOption, queueUrlOf } from "../options.ts";
import { untilSignal } from "../signals.ts";

/** Adds `sluice loader`. */
export function registerLoader(program: Command, { io, env }: CliContext): void {
  program
    .command("loader")
    .description("Serve the warehouse queue: the one process that writes the DuckDB warehouse for all workers")
    .addOption(queueOption())
    .addOption(dataDirOption("the shared data directory (lake, locks, raw landing)"))
    .addOption(logLevelOption())
    .action(async (flags: { queue?: string; dataDir?: string; logLevel?: string }) => {
      const queueUrl = queueUrlOf(flags.queue, env) ?? DEFAULT_QUEUE_URL;
      const settings = resolveSettingsFor(["dataDir", "logLevel"], { flags, env });
      const tuning = resolveQueueTuning(env);
      const log = createLogger({ level: settings.logLevel });
      try {
        await untilSignal(io, "stopping after the warehouse operation in progress", async (signal) => (await import("../../queue/loader.ts")).runLoader({ queueUrl, dataDir: settings.dataDir, log, signal, tuning }));
      } finally {
        log.flush();
      }
    });
}

/** `sluice worker`: runs partitions taken from the queue until stopped. */
import type { Command } from "commander";
import { DEFAULT_QUEUE_URL, resolveQueueTuning, resolveSettings } from "../../core/config.ts";
import { createLogger } from "../../core/log.ts";
import { loadCatalog } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { apiUrlOption, concurrencyOption, dataDirOption, jobsDirOption, logLevelOption, queueOption, queueUrlOf } from "../options.ts";
import { untilSignal } from "../signals.ts";

interface WorkerFlags {
  queue?: string;
  concurrency: number;
  apiUrl?: string;
  dataDir?: string;
  logLevel?: string;
  jobsDir?: string;
}

/** Adds `sluice worker`. */
export function registerWorker(program: Command, { io, env }: CliContext): void {
  program
    .command("worker")
    .description("Run partitions taken from the queue until stopped (SIGINT/SIGTERM: running ones go back to the queue)")
    .addOption(queueOption())
    .addOption(concurrencyOption("partitions this worker runs at once"))
    .addOption(apiUrlOption())
    .addOption(dataDirOption("the shared data directory (lake, locks, raw landing)"))
    .addOption(logLevelOption())
    .addOption(jobsDirOption())
    .action(async (flags: WorkerFlags) => {
      const queueUrl = queueUrlOf(flags.queue, env) ?? DEFAULT_QUEUE_URL;
      const settings = resolveSettings({ flags, env });
      const tuning = resolveQueueTuning(env);
      const jobs = await loadCatalog(flags, env);
      const log = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [] });
      for (const failure of jobs.failures) log.warn({ file: failure.file, err: failure.error }, "job file did not load: its jobs cannot run here");
      try {
        await untilSignal(io, "stopping: running partitions are cancelled and go back to the queue", async (signal) =>
          (await import("../../queue/worker.ts")).runWorker({ queueUrl, concurrency: flags.concurrency, dataDir: settings.dataDir, ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}), jobs, log, signal, env, tuning }),
        );
      } finally {
        log.flush();
      }
    });
}

/** `sluice worker`: runs partitions taken from the queue, and the catch-ups that schedules fire, until stopped. */
import type { Command } from "commander";
import { DEFAULT_QUEUE_URL, resolveQueueTuning, resolveSettings, type Settings } from "../../core/config.ts";
import { createLogger, type Logger } from "../../core/log.ts";
import { Redactor } from "../../extract/index.ts";
import { alertOnFailures } from "../../operate/alert-webhook.ts";
import type { JobDefinition } from "../../pipeline/job.ts";
import type { PartitionOutcome } from "../../pipeline/index.ts";
import { loadCatalog } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { RunObserver } from "../observe.ts";
import { apiUrlOption, concurrencyOption, dataDirOption, jobsDirOption, logLevelOption, queueOption, queueUrlOf } from "../options.ts";
import { alertTarget } from "../run-environment.ts";
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
    .description("Run partitions taken from the queue, and scheduled catch-ups, until stopped (SIGINT/SIGTERM: running ones go back to the queue)")
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
      const redactor = new Redactor(settings.apiToken ? [settings.apiToken] : []);
      const log = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [], redactor });
      for (const failure of jobs.failures) log.warn({ file: failure.file, err: failure.error }, "job file did not load: its jobs cannot run here");
      const onCatchUpFinished = observeCatchUp(settings, log, redactor);
      try {
        await untilSignal(io, "stopping: running partitions are cancelled and go back to the queue", async (signal) =>
          (await import("../../queue/worker.ts")).runWorker({
            queueUrl,
            concurrency: flags.concurrency,
            dataDir: settings.dataDir,
            ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}),
            jobs,
            log,
            signal,
            env,
            tuning,
            redactor,
            onCatchUpFinished,
          }),
        );
      } finally {
        log.flush();
      }
    });
}

/** What a worker does once a scheduled catch-up's partitions finished: reports, metrics, and the alert when some failed. */
function observeCatchUp(settings: Settings, log: Logger, redactor: Redactor): (job: JobDefinition, outcomes: PartitionOutcome[]) => Promise<void> {
  return async (job, outcomes) => {
    const observer = new RunObserver(settings.dataDir, job, log, settings.pushgatewayUrl);
    for (const outcome of outcomes) await observer.partition(outcome);
    await observer.finish();
    await alertOnFailures(job.name, "scheduled catch-up", outcomes, alertTarget(settings, { log, redactor }));
  };
}

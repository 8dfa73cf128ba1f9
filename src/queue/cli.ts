/**
 * The scale-out commands for the `sluice` CLI: `worker` and `loader`, plus the pieces that
 * `backfill --queue` and `status --queue` call. main.ts wires them; worker-main.ts runs them alone.
 */
import { Option, type Command } from "commander";
import { LOG_LEVELS, resolveSettings } from "../core/config.ts";
import { UsageError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { formatRows } from "../cli/format.ts";
import { parseQueueUrl } from "./connection.ts";

/** The default queue when neither --queue nor SLUICE_QUEUE_URL is given (worker and loader only). */
export const DEFAULT_QUEUE_URL = "redis://127.0.0.1:6379";

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** The queue URL from --queue or SLUICE_QUEUE_URL (validated), or undefined: run locally. */
export function queueUrlOf(flag: string | undefined, env: Record<string, string | undefined>): string | undefined {
  const url = flag ?? (env["SLUICE_QUEUE_URL"] || undefined);
  return url === undefined ? undefined : parseQueueUrl(url);
}

/** The --queue option, for commands that take it. */
export function queueOption(): Option {
  return new Option("--queue <url>", "Redis URL of the BullMQ queue, e.g. redis://127.0.0.1:6379 [env SLUICE_QUEUE_URL]");
}

/** Adds `sluice worker` and `sluice loader` to the program. */
export function registerQueueCommands(program: Command, io: Io): void {
  const dataDir = () => new Option("--data-dir <dir>", "the shared data directory (lake, locks, raw landing) [env SLUICE_DATA_DIR, default ./data]");
  const logLevel = () => new Option("--log-level <level>", "log level [env SLUICE_LOG_LEVEL]").choices(LOG_LEVELS);

  program
    .command("worker")
    .description("Run partitions taken from the queue until stopped (SIGINT/SIGTERM: running ones go back to the queue)")
    .addOption(queueOption())
    .option("--concurrency <n>", "partitions this worker runs at once", "2")
    .addOption(new Option("--api-url <url>", "source API base URL [env SLUICE_API_URL; default: the built-in demo API in this process]"))
    .addOption(dataDir())
    .addOption(logLevel())
    .action(async (flags: { queue?: string; concurrency: string; apiUrl?: string; dataDir?: string; logLevel?: string }) => {
      const concurrency = Number(flags.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError(`--concurrency "${flags.concurrency}" must be a whole number from 1 to 64`);
      const queueUrl = queueUrlOf(flags.queue, process.env) ?? DEFAULT_QUEUE_URL;
      const settings = resolveSettings({ flags, env: process.env });
      const log = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [] });
      await untilSignal(io, log, "stopping: running partitions are cancelled and go back to the queue", (signal) =>
        import("./worker.ts").then(({ runWorker }) => runWorker({ queueUrl, concurrency, dataDir: settings.dataDir, ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}), log, signal, env: process.env })),
      );
    });

  program
    .command("loader")
    .description("Serve the warehouse queue: the one process that writes the DuckDB warehouse for all workers")
    .addOption(queueOption())
    .addOption(dataDir())
    .addOption(logLevel())
    .action(async (flags: { queue?: string; dataDir?: string; logLevel?: string }) => {
      const queueUrl = queueUrlOf(flags.queue, process.env) ?? DEFAULT_QUEUE_URL;
      const settings = resolveSettings({ flags, env: process.env });
      const log = createLogger({ level: settings.logLevel });
      await untilSignal(io, log, "stopping after the warehouse operation in progress", async (signal) => (await import("./loader.ts")).runLoader({ queueUrl, dataDir: settings.dataDir, log, signal, env: process.env }));
    });
}

/** Prints `sluice status --queue`: counts per state, workers, then one row per partition task. */
export async function printQueueStatus(queueUrl: string, jobName: string | undefined, format: "table" | "csv" | "json", io: Io): Promise<void> {
  // bullmq loads only when a queue command runs: it costs every other command start-up time.
  const { queueStatus } = await import("./status.ts");
  const status = await queueStatus(queueUrl, jobName === undefined ? {} : { job: jobName });
  const columns = ["job", "dt", "state", "attempts", "rows_loaded", "worker", "backfill", "enqueued_at", "finished_at", "error"];
  const rows = status.partitions.map((p) => [p.job, p.dt, p.state, p.attemptsMade, p.rowsLoaded, p.worker, p.backfill, p.enqueuedAt, p.finishedAt, p.error]);
  if (format === "json") {
    io.stdout(`${JSON.stringify(status, null, 2)}\n`);
    return;
  }
  if (format === "table") {
    const c = status.counts;
    io.stdout(`queued ${c.waiting + c.delayed} (waiting ${c.waiting}, retrying ${c.delayed}), active ${c.active}, failed ${c.failed}, done ${c.completed}\n`);
    io.stdout(`workers: ${status.workers.length > 0 ? status.workers.join(", ") : "none"}; loader: ${status.loaders.length > 0 ? status.loaders.join(", ") : "none"}; warehouse operations waiting: ${status.warehouseBacklog}\n`);
  }
  io.stdout(formatRows({ columns, rows }, format) + "\n");
}

/** Runs `fn` with a signal that the first SIGINT/SIGTERM aborts; a second one exits at once. */
async function untilSignal<T>(io: Io, log: Logger, message: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr(`\n${signal}: ${message} (press again to exit now)\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    log.flush();
  }
}

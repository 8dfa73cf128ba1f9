/** `sluice backfill <job>`: every day of a range, here or (--queue) on workers. */
import type { Command } from "commander";
import { resolveQueueTuning, resolveSettings, type QueueTuningOverrides } from "../../core/config.ts";
import { dayRange, parseDay } from "../../core/dates.ts";
import { terminalSafe } from "../../core/terminal-text.ts";
import { alertOnFailures } from "../../operate/alert-webhook.ts";
import { lastStatuses, runBackfill, type BackfillProgress } from "../../pipeline/backfill.ts";
import type { JobDefinition } from "../../pipeline/job.ts";
import type { PartitionOutcome } from "../../pipeline/index.ts";
import type { DaySelection } from "../../queue/backfill.ts";
import { findJob } from "../catalog.ts";
import type { CliContext, Io } from "../context.ts";
import { exitCodeOf, formatOutcomes } from "../format.ts";
import { RunObserver } from "../observe.ts";
import { addRunOptions, concurrencyOption, jobArgument, queueOption, queueUrlOf, type RunFlags } from "../options.ts";
import { createProgress, type Progress } from "../progress.ts";
import { alertTarget, withRunEnvironment, type RunEnvironment } from "../run-environment.ts";

/** The flags of the commands that run many partitions (`backfill`, `catch-up`). */
export interface ManyPartitionsFlags extends RunFlags {
  concurrency: number;
  queue?: string;
}

interface BackfillFlags extends ManyPartitionsFlags {
  from: string;
  to: string;
  force?: boolean;
  retryFailed?: boolean;
}

/** Which partitions a many-partitions command runs. */
export interface DayChoice {
  /** The days, or how to pick them from the partitions' last statuses (read here, or through the loader with --queue). */
  days: DaySelection;
  /** Rerun partitions that already succeeded. */
  force: boolean;
  /** Run only partitions whose last run did not succeed. */
  retryFailed: boolean;
}

/** Adds `sluice backfill`. */
export function registerBackfill(program: Command, ctx: CliContext): void {
  const command = program
    .command("backfill")
    .description("Run every day of an inclusive date range; partitions already loaded are skipped unless --force")
    .addArgument(jobArgument())
    .requiredOption("--from <YYYY-MM-DD>", "first day")
    .requiredOption("--to <YYYY-MM-DD>", "last day (inclusive)")
    .addOption(concurrencyOption("partitions extracted and transformed at once (loads stay serialized)"))
    .option("--force", "rerun partitions that already succeeded")
    .option("--retry-failed", "rerun only the partitions whose last run did not succeed");
  addRunOptions(command)
    .addOption(queueOption())
    .action((jobName: string, flags: BackfillFlags) => backfill(jobName, flags, ctx));
}

async function backfill(jobName: string, flags: BackfillFlags, ctx: CliContext): Promise<void> {
  const job = await findJob(jobName, flags, ctx.env);
  const days = dayRange(parseDay(flags.from, "from"), parseDay(flags.to, "to"));
  await runManyPartitions("backfill", job, flags, ctx, { days, force: Boolean(flags.force), retryFailed: Boolean(flags.retryFailed) });
}

/**
 * Runs the chosen partitions of a job here, or (with a queue) on workers while this process is the
 * loader; shows progress and the summary, writes reports and metrics, posts the alert when some
 * failed, and sets the exit code (0 all succeeded or skipped, 1 otherwise).
 */
export async function runManyPartitions(command: string, job: JobDefinition, flags: ManyPartitionsFlags, { io, env, setExit }: CliContext, choice: DayChoice): Promise<void> {
  // With a queue, workers run the partitions (their own --concurrency) and this process is the loader.
  const queueUrl = queueUrlOf(flags.queue, env);
  const queue = queueUrl === undefined ? undefined : { url: queueUrl, tuning: resolveQueueTuning(env) };
  // A live bar and info log lines fight over the terminal: on a TTY, log warnings only unless asked.
  const settings = resolveSettings({ flags, env, ...(process.stderr.isTTY ? { defaultLogLevel: "warn" as const } : {}) });
  await withRunEnvironment(
    settings,
    { io, env },
    async (environment) => {
      const view = new BackfillView(io, job.name, new RunObserver(settings.dataDir, job, environment.log, settings.pushgatewayUrl));
      try {
        const outcomes = await runDays(job, choice, flags.concurrency, queue, { ...environment, fullRefresh: Boolean(flags.fullRefresh) }, view);
        await view.finish();
        if (outcomes.length > 0) io.stdout(formatOutcomes(outcomes) + "\n");
        await alertOnFailures(job.name, command, outcomes, alertTarget(settings, environment));
        setExit(exitCodeOf(outcomes));
      } finally {
        view.stop();
      }
    },
    { demoApi: queue === undefined },
  );
}

/** Runs the days here, or enqueues them for workers when a queue is given. */
async function runDays(
  job: JobDefinition,
  choice: DayChoice,
  concurrency: number,
  queue: { url: string; tuning: QueueTuningOverrides } | undefined,
  run: RunEnvironment,
  view: BackfillView,
): Promise<PartitionOutcome[]> {
  const { force, retryFailed } = choice;
  const fullRefresh = run.fullRefresh === true;
  if (queue === undefined) {
    const days = typeof choice.days === "function" ? choice.days(await lastStatuses(job, run)) : choice.days;
    return runBackfill(job, days, { concurrency, force, retryFailed, onProgress: view.onProgress }, { ...run, preview: false, onWait: view.say });
  }
  // bullmq loads only when a queue is used: it costs every other command start-up time.
  const { enqueueBackfill } = await import("../../queue/backfill.ts");
  const options = { queueUrl: queue.url, force, retryFailed, onProgress: view.onProgress, onNote: view.say, tuning: queue.tuning };
  return enqueueBackfill(job, choice.days, options, { dataDir: run.dataDir, signal: run.signal, log: run.log, refetch: run.refetch, keepRaw: run.keepRaw, fullRefresh });
}

/** The progress bar (or lines) of a backfill, and the metrics and report of each finished partition. */
class BackfillView {
  private progress: Progress | undefined;
  private readonly pending: Array<Promise<unknown>> = [];

  constructor(
    private readonly io: Io,
    private readonly job: string,
    private readonly observer: RunObserver,
  ) {}

  readonly onProgress = (p: BackfillProgress): void => {
    this.progress ??= createProgress({ total: p.total, job: this.job, tty: Boolean(process.stderr.isTTY), write: this.io.stderr });
    if (p.kind === "start") this.progress.start(p.dt);
    if (p.kind === "finish" && p.outcome) {
      this.progress.finish(p.outcome);
      this.pending.push(this.observer.partition(p.outcome));
    }
  };

  /** A message line that does not break the bar. */
  readonly say = (message: string): void => (this.progress ? this.progress.log(message) : this.io.stderr(`${terminalSafe(message, { newlines: true })}\n`));

  /** Waits for the reports, clears the bar, and writes the metrics of the command. */
  async finish(): Promise<void> {
    await Promise.all(this.pending);
    this.stop();
    await this.observer.finish();
  }

  /** Stops the bar (idempotent; also on errors: a TTY bar holds a redraw timer). */
  stop(): void {
    this.progress?.stop();
    this.progress = undefined;
  }
}

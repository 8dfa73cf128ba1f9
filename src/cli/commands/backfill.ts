/** `sluice backfill <job>`: every day of a range, here or (--queue) on workers. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { resolveBackfillMaxDays, resolveQueueTuning, resolveSettings, type Env, type QueueTuningOverrides } from "../../core/config.ts";
import { dayCount, dayRange, parseDay } from "../../core/dates.ts";
import { UsageError } from "../../core/errors.ts";
import { terminalSafe } from "../../core/terminal-text.ts";
import { typicalRunSeconds } from "../../load/run-ledger.ts";
import { warehousePath, withWarehouse } from "../../load/warehouse.ts";
import { alertOnFailures } from "../../operate/alert-webhook.ts";
import { lastStatuses, runBackfill, unfinishedDays, type BackfillProgress } from "../../pipeline/backfill.ts";
import type { JobDefinition } from "../../pipeline/job.ts";
import type { PartitionOutcome } from "../../pipeline/index.ts";
import type { DaySelection } from "../../queue/backfill.ts";
import { findJob } from "../catalog.ts";
import type { CliContext, Io } from "../context.ts";
import { exitCodeOf, formatOutcomes } from "../format.ts";
import { checkDataDir } from "../data-dir.ts";
import { RunObserver } from "../observe.ts";
import { addRunOptions, allowShrinkOption, concurrencyOption, jobArgument, queueOption, queueUrlOf, type RunFlags } from "../options.ts";
import { createProgress, type Progress } from "../progress.ts";
import { alertTarget, withRunEnvironment, type RunEnvironment } from "../run-environment.ts";

/** The flags of the commands that run many partitions (`backfill`, `catch-up`). */
export interface ManyPartitionsFlags extends RunFlags {
  concurrency: number;
  queue?: string;
  allowShrink?: boolean;
}

interface BackfillFlags extends ManyPartitionsFlags {
  from?: string;
  to?: string;
  force?: boolean;
  retryFailed?: boolean;
  yes?: boolean;
}

/** Which partitions a many-partitions command runs. */
export interface DayChoice {
  /** The days, or how to pick them from the partitions' last statuses (read here, or through the loader with --queue). */
  days: DaySelection;
  /** Rerun partitions that already succeeded. */
  force: boolean;
  /** Run only partitions whose last run did not succeed (or that never ran). */
  retryFailed: boolean;
  /**
   * The range the user asked for, recorded in sluice.requests before anything runs so a day that
   * never runs shows as pending (runs here only; a queue's loader does not record it).
   */
  request?: { from: string; to: string };
}

/** Adds `sluice backfill`. */
export function registerBackfill(program: Command, ctx: CliContext): void {
  const command = program
    .command("backfill")
    .description("Run every day of an inclusive date range; partitions already loaded are skipped unless --force")
    .addArgument(jobArgument())
    .option("--from <YYYY-MM-DD>", "first day (required unless --retry-failed)")
    .option("--to <YYYY-MM-DD>", "last day, inclusive (required unless --retry-failed)")
    .addOption(concurrencyOption("partitions extracted and transformed at once (loads stay serialized)"))
    .option("--force", "rerun partitions that already succeeded")
    .option("--retry-failed", "run only the days whose last run did not succeed or that never ran; without --from/--to, every day a backfill asked for that has not succeeded")
    .option("--yes", "run a range longer than SLUICE_BACKFILL_MAX_DAYS (default 3660 days) without asking");
  addRunOptions(command)
    .addOption(allowShrinkOption())
    .addOption(queueOption())
    .action((jobName: string, flags: BackfillFlags) => backfill(jobName, flags, ctx));
}

async function backfill(jobName: string, flags: BackfillFlags, ctx: CliContext): Promise<void> {
  const job = await findJob(jobName, flags, ctx.env);
  const dataDir = resolveSettings({ flags, env: ctx.env }).dataDir;
  await checkDataDir(dataDir, "write");
  const plan = await planDays(job, flags, dataDir, ctx.env);
  if (plan.days.length === 0) {
    ctx.io.stdout(`nothing to retry: every day a backfill asked for of ${job.name} has succeeded\n`);
    return;
  }
  await runManyPartitions("backfill", job, flags, ctx, { ...plan, force: Boolean(flags.force), retryFailed: Boolean(flags.retryFailed) });
}

/**
 * The days to run: the --from/--to range (refused past SLUICE_BACKFILL_MAX_DAYS without --yes,
 * before a day of it is listed), or with --retry-failed alone every requested day not yet succeeded.
 */
async function planDays(job: JobDefinition, flags: BackfillFlags, dataDir: string, env: Env): Promise<{ days: string[]; request?: { from: string; to: string } }> {
  if (flags.from === undefined && flags.to === undefined) {
    if (!flags.retryFailed) throw new UsageError("backfill needs --from and --to (or --retry-failed alone: every day a backfill asked for that has not succeeded)");
    return { days: await unfinishedDays(job, { dataDir, signal: new AbortController().signal }) };
  }
  if (flags.from === undefined || flags.to === undefined) throw new UsageError(`backfill needs both --from and --to (got only --${flags.from === undefined ? "to" : "from"})`);
  const from = parseDay(flags.from, "from");
  const to = parseDay(flags.to, "to");
  const count = dayCount(from, to);
  const max = resolveBackfillMaxDays(env);
  if (count > max && !flags.yes) {
    const eta = await estimate(job, dataDir, count, flags.concurrency);
    throw new UsageError(`backfill ${job.name} --from ${from} --to ${to} is ${count} days, more than ${max} (SLUICE_BACKFILL_MAX_DAYS)${eta}; pass --yes to run it, or narrow the range`);
  }
  return { days: dayRange(from, to), request: { from, to } };
}

/** ", about N h at S s a day with --concurrency C" from the job's recent runs, or "" when it never succeeded. */
async function estimate(job: JobDefinition, dataDir: string, days: number, concurrency: number): Promise<string> {
  if (!existsSync(warehousePath(dataDir))) return "";
  const perDay = await withWarehouse(dataDir, "read", (conn) => typicalRunSeconds(conn, job.name), { waitMs: 5_000 }).catch(() => null);
  if (perDay === null) return "";
  const hours = (days * perDay) / Math.max(1, concurrency) / 3600;
  return `, about ${hours >= 48 ? `${Math.round(hours / 24)} days` : `${hours.toFixed(1)} h`} at ${perDay.toFixed(1)} s a day with --concurrency ${concurrency}`;
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
  await checkDataDir(settings.dataDir, "write");
  await withRunEnvironment(
    settings,
    { io, env },
    async (environment) => {
      const view = new BackfillView(io, job.name, new RunObserver(settings.dataDir, job, environment.log, settings.pushgatewayUrl));
      try {
        const outcomes = await runDays(job, choice, flags.concurrency, queue, { ...environment, fullRefresh: Boolean(flags.fullRefresh), allowShrink: Boolean(flags.allowShrink) }, view);
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
    const options = { concurrency, force, retryFailed, onProgress: view.onProgress, ...(choice.request ? { request: choice.request } : {}) };
    return runBackfill(job, days, options, { ...run, preview: false, onWait: view.say });
  }
  // bullmq loads only when a queue is used: it costs every other command start-up time.
  const { enqueueBackfill } = await import("../../queue/backfill.ts");
  const options = { queueUrl: queue.url, force, retryFailed, onProgress: view.onProgress, onNote: view.say, tuning: queue.tuning };
  return enqueueBackfill(job, choice.days, options, { dataDir: run.dataDir, signal: run.signal, log: run.log, refetch: run.refetch, keepRaw: run.keepRaw, fullRefresh, allowShrink: run.allowShrink === true });
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

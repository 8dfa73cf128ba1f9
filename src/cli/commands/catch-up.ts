/**
 * `sluice catch-up <job>`: what a nightly cron or timer runs. Every partition from the last
 * successful one (or the job's start) to yesterday that has not succeeded, every earlier one whose
 * last run failed, and the last --lookback days again for late records; here or (--queue) on workers.
 */
import type { Command } from "commander";
import { addDays, formatDay, parseDay } from "../../core/dates.ts";
import { planCatchUp, type CatchUpPlan } from "../../pipeline/catch-up.ts";
import { findJob } from "../catalog.ts";
import type { CliContext, Io } from "../context.ts";
import { addRunOptions, allowShrinkOption, concurrencyOption, intOption, jobArgument, queueOption } from "../options.ts";
import { runManyPartitions, type ManyPartitionsFlags } from "./backfill.ts";

interface CatchUpFlags extends ManyPartitionsFlags {
  lookback: number;
  from?: string;
}

/** Adds `sluice catch-up`. */
export function registerCatchUp(program: Command, ctx: CliContext): void {
  const command = program
    .command("catch-up")
    .description("Run every day missed since the last success (or the job's start) up to yesterday, failed days, and the last --lookback days again")
    .addArgument(jobArgument())
    .addOption(intOption("lookback", "days before today rerun even when they succeeded, for records that arrive late", 0, 3660, 0))
    .option("--from <YYYY-MM-DD>", "the job's first day, when it declares no start: days before it are never run")
    .addOption(concurrencyOption("partitions extracted and transformed at once (loads stay serialized)"));
  addRunOptions(command)
    .addOption(allowShrinkOption())
    .addOption(queueOption())
    .action((jobName: string, flags: CatchUpFlags) => catchUp(jobName, flags, ctx));
}

async function catchUp(jobName: string, flags: CatchUpFlags, ctx: CliContext): Promise<void> {
  const job = await findJob(jobName, flags, ctx.env);
  const start = flags.from === undefined ? job.start : parseDay(flags.from, "from");
  const today = formatDay(new Date());
  const plan = (last: ReadonlyMap<string, string>): string[] => {
    const statuses = [...last].map(([dt, status]) => ({ dt, status }));
    const planned = planCatchUp({ job: job.name, statuses, today, lookback: flags.lookback, ...(start === undefined ? {} : { start }) });
    describePlan(ctx.io, job.name, planned, today, flags.lookback);
    return planned.days.map((d) => d.dt);
  };
  // Every planned day runs, successes within the lookback included: hence force.
  await runManyPartitions("catch-up", job, flags, ctx, { days: plan, force: true, retryFailed: false });
}

/** What the catch-up is about to do, on stderr: the days and why, and the gaps it leaves to a backfill. */
function describePlan(io: Io, job: string, plan: CatchUpPlan, today: string, lookback: number): void {
  const yesterday = addDays(today, -1);
  const count = (reason: string): number => plan.days.filter((d) => d.reason === reason).length;
  if (plan.days.length === 0) {
    io.stderr(`catch-up ${job}: up to date through ${yesterday} (last success ${plan.from}); nothing to run\n`);
  } else {
    const reasons = [
      [count("missing"), "never ran"],
      [count("not-succeeded"), "did not succeed"],
      [count("lookback"), `rerun for late data (lookback ${lookback})`],
    ].filter(([n]) => Number(n) > 0);
    const why = reasons.map(([n, what]) => `${n} ${what}`).join(", ");
    io.stderr(`catch-up ${job}: ${plan.days.length} partition(s) from ${plan.days[0]?.dt} to ${plan.days.at(-1)?.dt}: ${why}\n`);
  }
  if (plan.gaps.length > 0) {
    const [first, last] = [plan.gaps[0], plan.gaps.at(-1)];
    io.stderr(
      `catch-up ${job}: ${plan.gaps.length} day(s) from ${first} to ${last} never ran but lie before the last success (${plan.from}); ` +
        `a catch-up leaves them alone. Fill them with: sluice backfill ${job} --from ${first} --to ${last}\n`,
    );
  }
}

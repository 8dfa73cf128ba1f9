/**
 * `sluice schedule <job> --cron "15 2 * * *"`: a BullMQ job scheduler that fires the job's catch-up
 * on the workers (`sluice worker` consumes the fires); `--list` shows the schedules, `--remove`
 * deletes one. Registering a job again replaces its schedule: one per job, whoever registers it.
 */
import type { Command } from "commander";
import { DEFAULT_QUEUE_URL } from "../../core/config.ts";
import { UsageError } from "../../core/errors.ts";
import type { ScheduleInfo, Schedules } from "../../queue/schedule.ts";
import { findJob } from "../catalog.ts";
import type { CliContext, Io } from "../context.ts";
import { formatRows } from "../format.ts";
import { formatOption, intOption, jobsDirOption, queueOption, queueUrlOf, type OutputFormat } from "../options.ts";

interface ScheduleFlags {
  cron?: string;
  tz?: string;
  lookback: number;
  from?: string;
  list?: boolean;
  remove?: boolean;
  queue?: string;
  jobsDir?: string;
  format: OutputFormat;
}

/** Adds `sluice schedule`. */
export function registerSchedule(program: Command, ctx: CliContext): void {
  program
    .command("schedule")
    .description('Run a job\'s catch-up on the workers on a cron schedule (sluice schedule events --cron "15 2 * * *"); --list, --remove')
    .argument("[job]", "job name (list them with: sluice jobs)")
    .option("--cron <pattern>", 'when to fire: minute hour day month weekday, e.g. "15 2 * * *" (a sixth field in front counts seconds)')
    .option("--tz <zone>", "IANA time zone of the cron pattern (default UTC)")
    .addOption(intOption("lookback", "days before today each catch-up reruns for late data", 0, 3660, 0))
    .option("--from <YYYY-MM-DD>", "the job's first day, when it declares no start")
    .option("--list", "list the schedules and when each fires next")
    .option("--remove", "remove the job's schedule")
    .addOption(queueOption())
    .addOption(jobsDirOption())
    .addOption(formatOption())
    .action((job: string | undefined, flags: ScheduleFlags) => schedule(job, flags, ctx));
}

async function schedule(job: string | undefined, flags: ScheduleFlags, { io, env }: CliContext): Promise<void> {
  const mode = modeOf(job, flags);
  if (mode === "add") await findJob(job as string, flags, env); // a typo fails here, not at 02:15
  const url = queueUrlOf(flags.queue, env) ?? DEFAULT_QUEUE_URL;
  const { Schedules, validateSchedule } = await import("../../queue/schedule.ts");
  const spec = mode === "add" ? { job: job as string, cron: flags.cron as string, lookback: flags.lookback, ...(flags.tz ? { tz: flags.tz } : {}), ...(flags.from ? { from: flags.from } : {}) } : undefined;
  if (spec) validateSchedule(spec);
  const { pingRedis } = await import("../../queue/connection.ts");
  await pingRedis(url);
  const schedules = new Schedules(url);
  try {
    if (mode === "list") return printSchedules(await schedules.list(), flags.format, io);
    if (mode === "remove") return await remove(schedules, job as string, io);
    const info = await schedules.register(spec as NonNullable<typeof spec>);
    io.stdout(`scheduled ${info.job}: "${info.cron}"${info.tz ? ` (${info.tz})` : " (UTC)"}, lookback ${info.lookback}; next fire ${info.next?.toISOString() ?? "never"}\n`);
    if (await noWorker(url)) io.stderr(`no worker is connected yet: fires wait until one runs (sluice worker --queue ...)\n`);
  } finally {
    await schedules.close();
  }
}

/** Which of add, list and remove the flags ask for; a UsageError when they ask for none or several. */
function modeOf(job: string | undefined, flags: ScheduleFlags): "add" | "list" | "remove" {
  const hint = 'sluice schedule <job> --cron "15 2 * * *" | sluice schedule --list | sluice schedule --remove <job>';
  if (flags.list && (flags.remove || flags.cron !== undefined || job !== undefined)) throw new UsageError("--list takes no job, --cron or --remove", { hint });
  if (flags.list) return "list";
  if (job === undefined) throw new UsageError("name a job to schedule, or pass --list", { hint });
  if (flags.remove && flags.cron !== undefined) throw new UsageError("--remove and --cron exclude each other", { hint });
  if (flags.remove) return "remove";
  if (flags.cron === undefined) throw new UsageError(`schedule ${job}: --cron is required`, { hint });
  return "add";
}

async function remove(schedules: Schedules, job: string, io: Io): Promise<void> {
  if (!(await schedules.remove(job))) throw new UsageError(`${job} has no schedule`, { hint: "list them with: sluice schedule --list" });
  io.stdout(`removed the schedule of ${job}\n`);
}

function printSchedules(list: ScheduleInfo[], format: OutputFormat, io: Io): void {
  const rows = list.map((s) => [s.job, s.cron, s.tz ?? "UTC", s.lookback, s.from, s.next?.toISOString() ?? null]);
  io.stdout(formatRows({ columns: ["job", "cron", "tz", "lookback", "from", "next"], rows }, format) + "\n");
}

/** True when no worker consumes the schedule queue. */
async function noWorker(url: string): Promise<boolean> {
  const { partitionQueue } = await import("../../queue/schedule.ts");
  const queue = partitionQueue(url);
  try {
    return (await queue.getWorkers()).length === 0;
  } finally {
    await queue.close();
  }
}

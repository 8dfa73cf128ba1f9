/** `sluice run <job>`: one partition, always (a rerun replaces it). */
import type { Command } from "commander";
import { resolveSettings } from "../../core/config.ts";
import { parseDay, yesterday } from "../../core/dates.ts";
import { alertOnFailures } from "../../operate/alert-webhook.ts";
import { runPartition } from "../../pipeline/index.ts";
import { findJob } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { exitCodeOf, formatOutcomes, printPreview } from "../format.ts";
import { RunObserver } from "../observe.ts";
import { checkDataDir } from "../data-dir.ts";
import { addRunOptions, addWidthOptions, allowShrinkOption, frameWidth, jobArgument, type RunFlags, type WidthFlags } from "../options.ts";
import { alertTarget, withRunEnvironment } from "../run-environment.ts";

interface RunCommandFlags extends RunFlags, WidthFlags {
  date?: string;
  preview?: boolean;
  allowShrink?: boolean;
}

/** Adds `sluice run`. */
export function registerRun(program: Command, ctx: CliContext): void {
  const command = program
    .command("run")
    .description("Run one partition of a job (a rerun replaces the partition)")
    .addArgument(jobArgument())
    .option("--date <YYYY-MM-DD>", "the UTC day to run (default: yesterday, UTC)");
  addWidthOptions(addRunOptions(command).option("--preview", "print each step's schema, first rows and counts; load nothing"))
    .addOption(allowShrinkOption())
    .action((jobName: string, flags: RunCommandFlags) => run(jobName, flags, ctx));
}

async function run(jobName: string, flags: RunCommandFlags, { io, env, setExit }: CliContext): Promise<void> {
  const job = await findJob(jobName, flags, env);
  const dt = flags.date === undefined ? yesterday() : parseDay(flags.date);
  const settings = resolveSettings({ flags, env });
  await checkDataDir(settings.dataDir, "write");
  await withRunEnvironment(settings, { io, env }, async (environment) => {
    const observer = new RunObserver(settings.dataDir, job, environment.log, settings.pushgatewayUrl);
    const onLakeWritten = (day: string) => observer.startCharts(day);
    const outcome = await runPartition(job, dt, { ...environment, preview: Boolean(flags.preview), fullRefresh: Boolean(flags.fullRefresh), allowShrink: Boolean(flags.allowShrink), onLakeWritten });
    if (flags.preview) {
      printPreview(outcome, io.stdout, { width: frameWidth(flags, io) });
    } else {
      const report = await observer.partition(outcome);
      await observer.finish();
      if (report) io.stderr(`report: ${report}\n`);
    }
    io.stdout(formatOutcomes([outcome]) + "\n");
    if (!flags.preview) await alertOnFailures(job.name, "run", [outcome], alertTarget(settings, environment));
    setExit(exitCodeOf([outcome]));
  });
}

/** `sluice report <job>`: the path of the latest run report. */
import type { Command } from "commander";
import { resolveSettingsFor } from "../../core/config.ts";
import { parseDay } from "../../core/dates.ts";
import { UsageError } from "../../core/errors.ts";
import { latestReport } from "../../report/index.ts";
import { findJob } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { dataDirOption, jobArgument, jobsDirOption } from "../options.ts";

/** Adds `sluice report`. */
export function registerReport(program: Command, { io, env }: CliContext): void {
  program
    .command("report")
    .description("Print the path of the latest run report of a job (HTML, self-contained)")
    .addArgument(jobArgument())
    .option("--date <YYYY-MM-DD>", "the partition (default: the latest report)")
    .addOption(dataDirOption())
    .addOption(jobsDirOption())
    .action(async (jobName: string, flags: { dataDir?: string; jobsDir?: string; date?: string }) => {
      await findJob(jobName, flags, env);
      const dt = flags.date === undefined ? undefined : parseDay(flags.date);
      const settings = resolveSettingsFor(["dataDir"], { flags, env });
      const found = await latestReport(settings.dataDir, jobName, dt);
      if (!found) {
        throw new UsageError(`no report of ${jobName}${dt ? ` for ${dt}` : ""} in ${settings.dataDir}`, { hint: `run it first: sluice run ${jobName}${dt ? ` --date ${dt}` : ""}` });
      }
      io.stdout(`${found}\n`);
    });
}

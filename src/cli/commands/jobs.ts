/** `sluice jobs`: the jobs found in the jobs directory, and the files there that did not load. */
import type { Command } from "commander";
import { terminalSafe } from "../../core/terminal-text.ts";
import type { CliContext } from "../context.ts";
import { loadCatalog } from "../catalog.ts";
import { formatRows } from "../format.ts";
import { formatOption, jobsDirOption, type OutputFormat } from "../options.ts";

/** Adds `sluice jobs`. */
export function registerJobs(program: Command, { io, env, setExit }: CliContext): void {
  program
    .command("jobs")
    .description("List the jobs found in the jobs directory (any top-level file whose default export is a job): name, description, tables, file")
    .addOption(jobsDirOption())
    .addOption(formatOption())
    .action(async (flags: { jobsDir?: string; format: OutputFormat }) => {
      const catalog = await loadCatalog(flags, env);
      const rows = catalog.entries.map(({ job, file }) => [job.name, job.description, job.tables.map((t) => t.name).join(", "), file]);
      io.stdout(formatRows({ columns: ["name", "description", "tables", "file"], rows }, flags.format, { terminal: io.stdoutColumns?.() !== undefined }) + "\n");
      // Broken files go to stderr so that stdout stays parseable; the exit code tells scripts.
      for (const failure of catalog.failures) io.stderr(`sluice: ${terminalSafe(`${failure.file} did not load: ${failure.error}`, { newlines: true })}\n`);
      if (catalog.failures.length > 0) setExit(1);
    });
}

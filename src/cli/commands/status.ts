/** `sluice status [job]`: each partition's last run, or (--queue) the partition tasks in Redis. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { resolveSettingsFor } from "../../core/config.ts";
import { readMarks } from "../../load/source-state.ts";
import { readPartitionStatus, warehousePath, withWarehouse } from "../../load/warehouse.ts";
import { findJob } from "../catalog.ts";
import { checkDataDir } from "../data-dir.ts";
import type { CliContext, Io } from "../context.ts";
import { formatRows } from "../format.ts";
import { dataDirOption, formatOption, jobsDirOption, queueOption, queueUrlOf, type OutputFormat } from "../options.ts";

interface StatusFlags {
  dataDir?: string;
  jobsDir?: string;
  format: OutputFormat;
  queue?: string;
}

const COLUMNS = ["job", "dt", "status", "rows_loaded", "rows_quarantined", "started_at", "finished_at", "error"];

/** Adds `sluice status`. */
export function registerStatus(program: Command, { io, env }: CliContext): void {
  program
    .command("status")
    .description("Each partition with its last run's outcome, rows and time; days a backfill asked for that never ran show as pending")
    .argument("[job]", "only this job")
    .addOption(dataDirOption())
    .addOption(formatOption())
    .addOption(queueOption())
    .addOption(jobsDirOption())
    .action(async (jobName: string | undefined, flags: StatusFlags) => {
      // Only a named job needs the catalog: plain `status` imports no job file.
      if (jobName !== undefined) await findJob(jobName, flags, env);
      // --queue (or SLUICE_QUEUE_URL): the partition tasks in Redis by state instead of sluice.runs.
      const queueUrl = queueUrlOf(flags.queue, env);
      if (queueUrl !== undefined) {
        await printQueueStatus(queueUrl, jobName, flags.format, io);
        return;
      }
      // The data directory is the one setting status uses: nothing else is validated for it.
      const settings = resolveSettingsFor(["dataDir"], { flags, env });
      await checkDataDir(settings.dataDir, "read");
      if (!existsSync(warehousePath(settings.dataDir))) {
        io.stdout(`no runs yet in ${settings.dataDir}\n`);
        return;
      }
      const { rows, marks } = await withWarehouse(
        settings.dataDir,
        "read",
        async (conn) => ({ rows: await readPartitionStatus(conn, jobName), marks: await readMarks(conn, jobName) }),
        { onWait: (m) => io.stderr(`${m}\n`) },
      );
      const terminal = { terminal: io.stdoutColumns?.() !== undefined };
      const table = { columns: COLUMNS, rows: rows.map((r) => COLUMNS.map((c) => (r as unknown as Record<string, unknown>)[c] ?? null)) };
      io.stdout(formatRows(table, flags.format, terminal) + "\n");
      // The marks of incremental sources: where each continues next time (tables only: csv/json keep their shape).
      if (flags.format === "table" && marks.length > 0) {
        const markTable = { columns: ["job", "source", "key", "mark", "run_id", "updated_at"], rows: marks.map((m) => [m.job, m.source, m.key, m.value, m.runId, m.updatedAt]) };
        io.stdout(`\nincremental sources continue from:\n${formatRows(markTable, "table", terminal)}\n`);
      }
    });
}

/** Prints `sluice status --queue`: counts per state, workers, then one row per partition task. */
export async function printQueueStatus(queueUrl: string, jobName: string | undefined, format: OutputFormat, io: Io): Promise<void> {
  // bullmq loads only when a queue command runs: it costs every other command start-up time.
  const { queueStatus } = await import("../../queue/status.ts");
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
  io.stdout(formatRows({ columns, rows }, format, { terminal: io.stdoutColumns?.() !== undefined }) + "\n");
}

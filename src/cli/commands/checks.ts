/** `sluice checks <job>`: each partition's check results (its last run that ran checks), without SQL. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { resolveSettings } from "../../core/config.ts";
import { parseDay } from "../../core/dates.ts";
import { readCheckResults, warehousePath, withWarehouse, type CheckResultRow } from "../../load/warehouse.ts";
import { findJob } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { formatRows } from "../format.ts";
import { dataDirOption, formatOption, jobArgument, jobsDirOption, type OutputFormat } from "../options.ts";

interface ChecksFlags {
  dataDir?: string;
  jobsDir?: string;
  format: OutputFormat;
  failed?: boolean;
  since?: string;
}

/** The table's columns; csv and json add run_id and checked_at. */
const TABLE_COLUMNS = ["dt", "table", "check", "result", "severity", "action", "failing_rows", "observed", "expected", "detail"] as const;
const FULL_COLUMNS = [...TABLE_COLUMNS, "run_id", "checked_at"] as const;

/** Adds `sluice checks`. */
export function registerChecks(program: Command, { io, env }: CliContext): void {
  program
    .command("checks")
    .description("The check results of each partition of a job (its last run): passed, failed or skipped, with what was measured")
    .addArgument(jobArgument())
    .option("--failed", "only the checks that did not pass")
    .option("--since <YYYY-MM-DD>", "only partitions from this day on")
    .addOption(formatOption())
    .addOption(dataDirOption())
    .addOption(jobsDirOption())
    .action(async (jobName: string, flags: ChecksFlags) => {
      const since = flags.since === undefined ? undefined : parseDay(flags.since, "since");
      await findJob(jobName, flags, env);
      const settings = resolveSettings({ flags, env });
      if (!existsSync(warehousePath(settings.dataDir))) {
        io.stdout(`no runs yet in ${settings.dataDir}\n`);
        return;
      }
      const filter = { job: jobName, ...(flags.failed ? { failed: true } : {}), ...(since === undefined ? {} : { since }) };
      const rows = await withWarehouse(settings.dataDir, "read", (conn) => readCheckResults(conn, filter), { onWait: (m) => io.stderr(`${m}\n`) });
      io.stdout(`${renderChecks(rows, flags.format)}\n`);
    });
}

/** The rows as a table, CSV or JSON. */
export function renderChecks(rows: readonly CheckResultRow[], format: OutputFormat): string {
  const columns = format === "table" ? TABLE_COLUMNS : FULL_COLUMNS;
  const cells = rows.map((r) => {
    const row: Record<(typeof FULL_COLUMNS)[number], unknown> = { ...r, expected: expected(r) };
    return columns.map((c) => (format === "table" && c === "observed" && typeof row[c] === "number" ? shortNumber(row[c]) : row[c]));
  });
  return formatRows({ columns: [...columns], rows: cells }, format);
}

/** "1505 to 2795", "at least 1505", or null when the check has no band. */
function expected(r: CheckResultRow): string | null {
  const lower = r.lower_bound === null ? null : shortNumber(r.lower_bound);
  const upper = r.upper_bound === null ? null : shortNumber(r.upper_bound);
  if (lower !== null && upper !== null) return `${lower} to ${upper}`;
  if (lower !== null) return `at least ${lower}`;
  return upper === null ? null : `at most ${upper}`;
}

function shortNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

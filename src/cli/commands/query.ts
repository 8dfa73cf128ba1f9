/** `sluice query "<sql>"`: read-only SQL against the warehouse. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { resolveSettings } from "../../core/config.ts";
import { UsageError } from "../../core/errors.ts";
import { query, warehousePath, withWarehouse } from "../../load/warehouse.ts";
import type { CliContext } from "../context.ts";
import { formatRows } from "../format.ts";
import { dataDirOption, formatOption, type OutputFormat } from "../options.ts";

/** Adds `sluice query`. */
export function registerQuery(program: Command, { io, env }: CliContext): void {
  program
    .command("query")
    .description("Run read-only SQL against the warehouse (waits briefly while a load holds it)")
    .argument("<sql>", "the SQL to run, e.g. \"select dt, count(*) from events group by dt\"")
    .addOption(formatOption())
    .addOption(dataDirOption())
    .action(async (sql: string, flags: { dataDir?: string; format: OutputFormat }) => {
      const settings = resolveSettings({ flags, env });
      if (!existsSync(warehousePath(settings.dataDir))) {
        throw new UsageError(`no warehouse at ${warehousePath(settings.dataDir)}`, { hint: "run a job first, e.g. sluice run events, or pass --data-dir" });
      }
      const result = await withWarehouse(
        settings.dataDir,
        "read",
        (conn) =>
          query(conn, sql).catch((error: unknown) => {
            // A query DuckDB rejects is the user's mistake: say what DuckDB said, no stack.
            throw new UsageError(`query failed: ${error instanceof Error ? error.message : String(error)}`);
          }),
        { onWait: (m) => io.stderr(`${m}\n`) },
      );
      io.stdout(formatRows(result, flags.format) + "\n");
    });
}

/** `sluice warehouse rebuild`: a new warehouse from the lake, when the warehouse file is lost or damaged. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import path from "node:path";
import { resolveSettings } from "../../core/config.ts";
import { UsageError } from "../../core/errors.ts";
import { rebuildWarehouse } from "../../load/rebuild.ts";
import type { TableSpec } from "../../load/types.ts";
import { loadCatalog } from "../catalog.ts";
import type { CliContext } from "../context.ts";
import { checkDataDir } from "../data-dir.ts";
import { formatRows } from "../format.ts";
import { dataDirOption, jobsDirOption } from "../options.ts";
import { untilSignal } from "../signals.ts";

/** Adds `sluice warehouse rebuild`. */
export function registerWarehouse(program: Command, ctx: CliContext): void {
  const warehouse = program.command("warehouse").description("Warehouse maintenance: rebuild it from the lake");
  warehouse
    .command("rebuild")
    .description("Recreate the warehouse from the lake: every table from its Parquet partitions, sluice.* from the lake's copy (lake/_sluice); the old file is kept beside it")
    .addOption(dataDirOption())
    .addOption(jobsDirOption())
    .action((flags: { dataDir?: string; jobsDir?: string }) => rebuild(flags, ctx));
}

async function rebuild(flags: { dataDir?: string; jobsDir?: string }, { io, env, setExit }: CliContext): Promise<void> {
  const settings = resolveSettings({ flags, env });
  await checkDataDir(settings.dataDir, "write");
  if (!existsSync(path.join(settings.dataDir, "lake"))) throw new UsageError(`no lake at ${path.join(settings.dataDir, "lake")}: nothing to rebuild the warehouse from`, { hint: "pass the --data-dir of the lake" });
  // Every job's tables, so each is replayed with its declared types, keys and upsert rules.
  const catalog = await loadCatalog(flags, env);
  for (const failure of catalog.failures) io.stderr(`sluice: ${failure.file} did not load (${failure.error}); its tables are restored as the lake files have them\n`);
  const tables = new Map<string, TableSpec>();
  for (const { job } of catalog.entries) for (const table of job.tables) if (!tables.has(table.name)) tables.set(table.name, table);
  const report = await untilSignal(io, "stopping the rebuild; the warehouse stays as it was", (signal) => rebuildWarehouse(settings.dataDir, [...tables.values()], { signal }));
  const rows = report.tables.map((t) => [t.table, t.partitions, t.rows, t.declared ? "job declaration" : "lake files (no job declares it)"]);
  for (const [table, n] of Object.entries(report.bookkeeping)) rows.push([`sluice.${table}`, "", n, "lake/_sluice"]);
  io.stdout(`${formatRows({ columns: ["table", "partitions", "rows", "from"], rows }, "table")}\n`);
  if (report.previous) io.stdout(`the previous warehouse file is kept as ${report.previous} (delete it once you are satisfied)\n`);
  for (const problem of report.problems) io.stderr(`sluice: ${problem}\n`);
  if (report.problems.length > 0) setExit(1);
}

/** `sluice query "<sql>"`: read-only SQL against the warehouse, streamed out in bounded memory. */
import { Option, type Command } from "commander";
import { createWriteStream, existsSync } from "node:fs";
import { Writable } from "node:stream";
import { resolveSettingsFor } from "../../core/config.ts";
import { UsageError } from "../../core/errors.ts";
import { terminalSafe } from "../../core/terminal-text.ts";
import { ReadOnlyQuery, lakeSandbox, withReadOnlyQuery, type QuerySandbox } from "../../load/read-only-query.ts";
import { warehousePath, type DuckDBConnection } from "../../load/warehouse.ts";
import type { CliContext, Io } from "../context.ts";
import { OutputFile } from "../output-file.ts";
import { addWidthOptions, dataDirOption, durationOption, frameWidth, intOption, type DurationFlag, type WidthFlags } from "../options.ts";
import { CsvWriter, JsonWriter, PlanWriter, TableCollector, TextSink, type RowWriter } from "../query-output.ts";
import { untilSignal } from "../signals.ts";

type QueryFormat = "table" | "csv" | "json" | "parquet";

interface QueryFlags extends WidthFlags {
  dataDir?: string;
  format: QueryFormat;
  output?: string;
  maxRows: number;
  timeout: DurationFlag;
}

/** Adds `sluice query`. */
export function registerQuery(program: Command, ctx: CliContext): void {
  const command = program
    .command("query")
    .description("Run read-only SQL (one SELECT) against the warehouse and the lake; waits briefly while a load holds it")
    .argument("<sql>", 'the SQL to run, e.g. "select dt, count(*) from events group by dt"')
    .addOption(new Option("--format <format>", "output format (parquet needs --output)").choices(["table", "csv", "json", "parquet"]).default("table"))
    .option("--output <file>", "write the result to this new file instead of stdout (csv, json or parquet; never inside the data directory)")
    .addOption(intOption("max-rows", "rows a table shows, first and last halves (csv, json and parquet write all)", 0, 1_000_000, 40))
    .addOption(durationOption("timeout", "stop the query after this long: loads wait while it holds the warehouse", "30s"));
  addWidthOptions(command)
    .addOption(dataDirOption())
    .action((sql: string, flags: QueryFlags) => runQuery(sql, flags, ctx));
}

async function runQuery(sql: string, flags: QueryFlags, { io, env }: CliContext): Promise<void> {
  // The data directory is the one setting a query uses: nothing else is validated for it.
  const { dataDir } = resolveSettingsFor(["dataDir"], { flags, env });
  if (flags.format === "parquet" && flags.output === undefined) throw new UsageError("--format parquet writes a file: give it --output FILE");
  if (flags.format === "table" && flags.output !== undefined) throw new UsageError("--output takes --format csv, json or parquet");
  if (!existsSync(warehousePath(dataDir))) {
    throw new UsageError(`no warehouse at ${warehousePath(dataDir)}`, { hint: "run a job first, e.g. sluice run events, or pass --data-dir" });
  }
  const output = flags.output === undefined ? undefined : OutputFile.check(flags.output, dataDir);
  const sandbox: QuerySandbox = { ...lakeSandbox(dataDir), ...(output && flags.format === "parquet" ? { writeFile: output.temp } : {}) };
  await untilSignal(io, "stopping the query", async (signal) => {
    try {
      const done = await withReadOnlyQuery(dataDir, sandbox, (conn) => execute(conn, sql, flags, { io, output, signal }), { onWait: (m) => io.stderr(`${m}\n`), signal });
      // A table prints once the warehouse is closed again: a slow terminal must not hold up loads.
      if (done instanceof TableCollector) io.stdout(done.render({ width: frameWidth(flags, io) }));
      if (output && typeof done === "number") {
        await output.commit();
        io.stderr(`wrote ${done.toLocaleString("en-US")} rows to ${terminalSafe(output.target)}\n`);
      }
    } finally {
      await output?.discard();
    }
  });
}

interface Destination {
  io: Io;
  output: OutputFile | undefined;
  signal: AbortSignal;
}

/** Runs the query on the locked-down connection: a Parquet copy, rows streamed as CSV/JSON, or the rows a table keeps. */
async function execute(conn: DuckDBConnection, sql: string, flags: QueryFlags, to: Destination): Promise<TableCollector | number | undefined> {
  const query = await ReadOnlyQuery.start(conn, sql, { timeoutMs: flags.timeout.ms, timeoutText: flags.timeout.text, signal: to.signal });
  try {
    if (flags.format === "parquet" && to.output) return await query.copyToParquet(to.output.temp);
    const sink = new TextSink(to.output ? createWriteStream(to.output.temp, { flags: "wx" }) : (to.io.stdoutStream ?? writableOf(to.io)));
    const writer = flags.format === "table" && query.isExplain ? new PlanWriter(sink) : writerFor(flags, sink, to.io);
    let rows = 0;
    await writer.begin(query.columns, query.types);
    for await (const batch of query.batches()) {
      await writer.rows(batch);
      rows += batch.length;
      // The reader went away (`| head`): stop reading the warehouse.
      if (sink.closed) break;
    }
    await writer.end();
    if (to.output) await sink.finish();
    return writer instanceof TableCollector ? writer : to.output ? rows : undefined;
  } finally {
    query.close();
  }
}

function writerFor(flags: QueryFlags, sink: TextSink, io: Io): RowWriter {
  if (flags.format === "csv") return new CsvWriter(sink, io.stdoutColumns?.() !== undefined && flags.output === undefined);
  if (flags.format === "json") return new JsonWriter(sink);
  return new TableCollector(flags.maxRows);
}

/** A stream over Io.stdout, for an Io without a stream of its own (tests, embedding). */
function writableOf(io: Io): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      io.stdout(chunk.toString());
      callback();
    },
  });
}

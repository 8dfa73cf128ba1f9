/** The `sluice` command line. Scripts depend on it: flags, output and exit codes are a contract. */
import { Command, CommanderError, Option } from "commander";
import { existsSync } from "node:fs";
import { dayRange, parseDay, yesterday } from "../core/dates.ts";
import { LOG_LEVELS, resolveSettings, type Settings } from "../core/config.ts";
import { SluiceError, UsageError, formatError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { startDemoApi, type DemoApi } from "../demo-api/index.ts";
import { query, readPartitionStatus, warehousePath, withWarehouse } from "../load/warehouse.ts";
import { runBackfill, type BackfillProgress } from "../pipeline/backfill.ts";
import { runPartition, type PartitionOutcome, type RunSettings } from "../pipeline/index.ts";
import { getJob, JOBS } from "../../jobs/index.ts";
import { formatOutcomes, formatRows, printPreview } from "./format.ts";
import { RunObserver } from "./observe.ts";
import { createProgress, type Progress } from "./progress.ts";
import { latestReport } from "../report/index.ts";
import { printQueueStatus, queueOption, queueUrlOf, registerQueueCommands } from "../queue/cli.ts";

interface CommonFlags {
  dataDir?: string;
  apiUrl?: string;
  logLevel?: string;
}

/** Builds the commander program (exported for tests and --help docs). */
export function buildProgram(io: { stdout: (s: string) => void; stderr: (s: string) => void }, setExit: (code: number) => void): Command {
  const program = new Command("sluice")
    .description("Batch data pipelines: paginated HTTP APIs -> Arrow -> Polars -> validated Parquet lake + DuckDB warehouse.")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const dataDir = () => new Option("--data-dir <dir>", "data directory (lake, warehouse, reports) [env SLUICE_DATA_DIR, default ./data]");
  const apiUrl = () => new Option("--api-url <url>", "source API base URL [env SLUICE_API_URL; default: start the demo API in-process]");
  const logLevel = () => new Option("--log-level <level>", "log level [env SLUICE_LOG_LEVEL]").choices(LOG_LEVELS);

  program
    .command("run")
    .description("Run one partition of a job (a rerun replaces the partition)")
    .argument("<job>", `job name (${[...JOBS.keys()].join(", ")})`)
    .option("--date <YYYY-MM-DD>", "the UTC day to run (default: yesterday, UTC)")
    .addOption(apiUrl())
    .addOption(dataDir())
    .addOption(logLevel())
    .option("--refetch", "ignore landed raw pages and fetch again")
    .option("--keep-raw", "keep landed raw pages after a successful run")
    .option("--preview", "print each step's schema, first rows and counts; load nothing")
    .action(async (jobName: string, flags: CommonFlags & { date?: string; refetch?: boolean; keepRaw?: boolean; preview?: boolean }) => {
      const job = getJob(jobName);
      const dt = flags.date === undefined ? yesterday() : parseDay(flags.date);
      const settings = resolveSettings({ flags, env: process.env });
      await withRunEnvironment(settings, io, async (run) => {
        const outcome = await runPartition(job, dt, { ...run, preview: Boolean(flags.preview) });
        if (flags.preview) {
          printPreview(outcome, io.stdout);
        } else {
          const observer = new RunObserver(settings.dataDir, job, run.log, settings.pushgatewayUrl);
          const report = await observer.partition(outcome);
          await observer.finish();
          if (report) io.stderr(`report: ${report}\n`);
        }
        io.stdout(formatOutcomes([outcome]) + "\n");
        setExit(exitCodeOf([outcome]));
      });
    });

  program
    .command("backfill")
    .description("Run every day of an inclusive date range; partitions already loaded are skipped unless --force")
    .argument("<job>", `job name (${[...JOBS.keys()].join(", ")})`)
    .requiredOption("--from <YYYY-MM-DD>", "first day")
    .requiredOption("--to <YYYY-MM-DD>", "last day (inclusive)")
    .option("--concurrency <n>", "partitions extracted and transformed at once (loads stay serialized)", "2")
    .option("--force", "rerun partitions that already succeeded")
    .option("--retry-failed", "rerun only the partitions whose last run did not succeed")
    .addOption(apiUrl())
    .addOption(dataDir())
    .addOption(logLevel())
    .option("--refetch", "ignore landed raw pages and fetch again")
    .option("--keep-raw", "keep landed raw pages after successful runs")
    .addOption(queueOption())
    .action(async (jobName: string, flags: CommonFlags & { from: string; to: string; concurrency: string; force?: boolean; retryFailed?: boolean; refetch?: boolean; keepRaw?: boolean; queue?: string }) => {
      const job = getJob(jobName);
      const days = dayRange(parseDay(flags.from, "from"), parseDay(flags.to, "to"));
      const concurrency = Number(flags.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw new UsageError(`--concurrency "${flags.concurrency}" must be a whole number from 1 to 64`);
      }
      // With a queue, workers run the partitions (their own --concurrency) and this process is the loader.
      const queueUrl = queueUrlOf(flags.queue, process.env);
      const resolved = resolveSettings({ flags, env: process.env });
      // A live bar and info log lines fight over the terminal: on a TTY, log warnings only unless asked.
      const quietTty = Boolean(process.stderr.isTTY) && flags.logLevel === undefined && process.env["SLUICE_LOG_LEVEL"] === undefined;
      const settings = quietTty ? { ...resolved, logLevel: "warn" as const } : resolved;
      await withRunEnvironment(settings, io, async (run) => {
        const observer = new RunObserver(settings.dataDir, job, run.log, settings.pushgatewayUrl);
        let progress: Progress | undefined;
        const pending: Array<Promise<unknown>> = [];
        try {
          const onProgress = (p: BackfillProgress): void => {
            progress ??= createProgress({ total: p.total, job: job.name, tty: Boolean(process.stderr.isTTY), write: io.stderr });
            if (p.kind === "start") progress.start(p.dt);
            if (p.kind === "finish" && p.outcome) {
              progress.finish(p.outcome);
              pending.push(observer.partition(p.outcome));
            }
          };
          const say = (m: string): void => (progress ? progress.log(m) : io.stderr(`${m}\n`));
          const force = Boolean(flags.force);
          const retryFailed = Boolean(flags.retryFailed);
          const outcomes = queueUrl
            ? await (await import("../queue/backfill.ts")).enqueueBackfill(job, days, { queueUrl, force, retryFailed, onProgress, onNote: say }, { dataDir: run.dataDir, signal: run.signal, log: run.log, refetch: run.refetch, keepRaw: run.keepRaw, env: process.env })
            : await runBackfill(job, days, { concurrency, force, retryFailed, onProgress }, { ...run, preview: false, onWait: say });
          await Promise.all(pending);
          progress?.stop();
          progress = undefined;
          await observer.finish();
          io.stdout(formatOutcomes(outcomes) + "\n");
          setExit(exitCodeOf(outcomes));
        } finally {
          progress?.stop();
        }
      }, { demoApi: queueUrl === undefined });
    });

  program
    .command("query")
    .description("Run read-only SQL against the warehouse (waits briefly while a load holds it)")
    .argument("<sql>", "the SQL to run, e.g. \"select dt, count(*) from events group by dt\"")
    .addOption(new Option("--format <format>", "output format").choices(["table", "csv", "json"]).default("table"))
    .addOption(dataDir())
    .action(async (sql: string, flags: { dataDir?: string; format: "table" | "csv" | "json" }) => {
      const settings = resolveSettings({ flags, env: process.env });
      requireWarehouse(settings);
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

  program
    .command("status")
    .description("Each partition with its last run's outcome, rows and time")
    .argument("[job]", "only this job")
    .addOption(dataDir())
    .addOption(new Option("--format <format>", "output format").choices(["table", "csv", "json"]).default("table"))
    .addOption(queueOption())
    .action(async (jobName: string | undefined, flags: { dataDir?: string; format: "table" | "csv" | "json"; queue?: string }) => {
      if (jobName !== undefined) getJob(jobName);
      // --queue (or SLUICE_QUEUE_URL): the partition tasks in Redis by state instead of sluice.runs.
      const queueUrl = queueUrlOf(flags.queue, process.env);
      if (queueUrl !== undefined) {
        await printQueueStatus(queueUrl, jobName, flags.format, io);
        return;
      }
      const settings = resolveSettings({ flags, env: process.env });
      if (!existsSync(warehousePath(settings.dataDir))) {
        io.stdout(`no runs yet in ${settings.dataDir}\n`);
        return;
      }
      const rows = await withWarehouse(settings.dataDir, "read", (conn) => readPartitionStatus(conn, jobName), { onWait: (m) => io.stderr(`${m}\n`) });
      const columns = ["job", "dt", "status", "rows_loaded", "rows_quarantined", "started_at", "finished_at", "error"];
      io.stdout(formatRows({ columns, rows: rows.map((r) => columns.map((c) => (r as unknown as Record<string, unknown>)[c] ?? null)) }, flags.format) + "\n");
    });

  program
    .command("report")
    .description("Print the path of the latest run report of a job (HTML, self-contained)")
    .argument("<job>", `job name (${[...JOBS.keys()].join(", ")})`)
    .option("--date <YYYY-MM-DD>", "the partition (default: the latest report)")
    .addOption(dataDir())
    .action(async (jobName: string, flags: { dataDir?: string; date?: string }) => {
      getJob(jobName);
      const dt = flags.date === undefined ? undefined : parseDay(flags.date);
      const settings = resolveSettings({ flags, env: process.env });
      const found = await latestReport(settings.dataDir, jobName, dt);
      if (!found) {
        throw new UsageError(`no report of ${jobName}${dt ? ` for ${dt}` : ""} in ${settings.dataDir}`, { hint: `run it first: sluice run ${jobName}${dt ? ` --date ${dt}` : ""}` });
      }
      io.stdout(`${found}\n`);
    });

  program
    .command("demo-api")
    .description("Serve the built-in demo source API (deterministic clickstream and users) until interrupted")
    .option("--port <n>", "port on 127.0.0.1 (0 = any free port)", "8787")
    .option("--seed <n>", "seed of the generated data", "42")
    .option("--events-per-day <n>", "events generated per UTC day", "20000")
    .option("--fault-rate <r>", "probability that a request misbehaves (429, 5xx, resets, stalls, bad bodies)", "0")
    .action(async (flags: { port: string; seed: string; eventsPerDay: string; faultRate: string }) => {
      const port = intFlag("port", flags.port, 0, 65535);
      const seed = intFlag("seed", flags.seed, 0, 2 ** 31 - 1);
      const eventsPerDay = intFlag("events-per-day", flags.eventsPerDay, 0, 50_000_000);
      const faultRate = Number(flags.faultRate);
      if (!(faultRate >= 0 && faultRate <= 1)) throw new UsageError(`--fault-rate "${flags.faultRate}" must be a number from 0 to 1`);
      const token = process.env["SLUICE_API_TOKEN"];
      const api = await startDemoApi({ port, seed, eventsPerDay, faultRate, ...(token ? { token } : {}) });
      io.stderr(`demo API listening on ${api.url} (seed ${seed}, ${eventsPerDay} events/day, fault rate ${faultRate}${token ? ", token required" : ""}); Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void api.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });

  registerQueueCommands(program, io);
  return program;
}

/** Sets up logging, cancellation on SIGINT/SIGTERM, and the in-process demo API when no URL is given. */
async function withRunEnvironment(
  settings: Settings,
  io: { stderr: (s: string) => void },
  fn: (run: Omit<RunSettings, "preview">) => Promise<void>,
  options: { demoApi: boolean } = { demoApi: true },
): Promise<void> {
  const log: Logger = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [] });
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr(`\n${signal}: stopping; no new partitions start, running ones roll back (press again to exit now)\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let demo: Promise<DemoApi> | undefined;
  try {
    // Sources read their base URL from the environment; --api-url is SLUICE_API_URL, the demo API's override.
    const env = settings.apiUrl === undefined ? { ...process.env } : { ...process.env, SLUICE_API_URL: settings.apiUrl };
    const demoApi = async (): Promise<string> => {
      demo ??= startDemoApi(settings.apiToken ? { token: settings.apiToken } : {}).then((api) => {
        io.stderr(`no --api-url or SLUICE_API_URL given: using the built-in demo API at ${api.url}\n`);
        return api;
      });
      return (await demo).url;
    };
    await fn({
      dataDir: settings.dataDir,
      signal: controller.signal,
      log,
      env,
      ...(options.demoApi ? { demoApi } : {}),
      refetch: settings.refetch,
      keepRaw: settings.keepRaw,
      onWait: (m) => io.stderr(`${m}\n`),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await (await demo?.catch(() => undefined))?.close();
    log.flush();
  }
}

function requireWarehouse(settings: Settings): void {
  if (!existsSync(warehousePath(settings.dataDir))) {
    throw new UsageError(`no warehouse at ${warehousePath(settings.dataDir)}`, { hint: "run a job first, e.g. sluice run events, or pass --data-dir" });
  }
}

function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} "${value}" must be a whole number from ${min} to ${max}`);
  return n;
}

/** 0 when every requested partition succeeded (or was skipped), 1 otherwise. */
export function exitCodeOf(outcomes: PartitionOutcome[]): number {
  return outcomes.every((o) => o.status === "succeeded" || o.status === "skipped") ? 0 : 1;
}

/** Runs the CLI with process argv; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its one-line message; help and version are not errors.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof SluiceError) {
      io.stderr(`sluice: ${formatError(error)}\n`);
      return error.exitCode;
    }
    io.stderr(`sluice: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/**
 * Prometheus metrics of a Sluice command: one fresh Registry per RunMetrics (never prom-client's
 * global default registry), fed from PartitionOutcomes, exported as a node_exporter textfile or
 * pushed to a Pushgateway. Batch jobs are short-lived, so counters count what this command did;
 * dashboards sum them over time with increase()/sum_over_time on the pushed groups.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ServiceUnavailableError, SluiceError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import type { PartitionOutcome, StepRecord } from "../pipeline/index.ts";
import { ANOMALY_KINDS } from "../validate/check-types.ts";
import type { CheckResult } from "../validate/types.ts";

/** Seconds: partitions take from milliseconds (tiny days) to tens of minutes (1M+ events, slow APIs). */
export const PROCESSING_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

const JOB_RE = /^[A-Za-z0-9_.-]+$/;
const LAST_SUCCESS = "pipeline_last_success_timestamp_seconds";

type Stage = "extract" | "transform" | "validate" | "load" | "run";

/** The metrics of one command (a run or a backfill), in their own registry. */
export class RunMetrics {
  readonly registry: Registry;
  private readonly records: Counter<"job" | "partition" | "status">;
  private readonly seconds: Histogram<"job" | "stage">;
  private readonly httpRequests: Counter<"job" | "status">;
  private readonly httpRetries: Counter<"job">;
  private readonly quarantined: Counter<"job" | "table">;
  private readonly checkFailures: Counter<"job" | "table" | "check" | "severity" | "action">;
  private readonly partitions: Counter<"job" | "outcome">;
  private readonly lastSuccess: Gauge<"job">;
  private readonly lastSuccessByJob = new Map<string, number>();
  private readonly checkObserved: Gauge<"job" | "table" | "check">;
  private readonly checkAnomaly: Gauge<"job" | "table" | "check">;
  /** The partition each anomaly check's gauges show: the latest by date this command ran. */
  private readonly anomalyDts = new Map<string, string>();

  constructor() {
    this.registry = new Registry();
    const registers = [this.registry];
    this.records = new Counter({
      name: "pipeline_records_processed_total",
      help: "Records of a partition by what happened to them: extracted from the source, loaded, or quarantined.",
      labelNames: ["job", "partition", "status"],
      registers,
    });
    this.seconds = new Histogram({
      name: "pipeline_processing_seconds",
      help: "Time one partition run spent in each stage (run = the whole partition).",
      labelNames: ["job", "stage"],
      buckets: PROCESSING_BUCKETS,
      registers,
    });
    this.httpRequests = new Counter({
      name: "pipeline_http_requests_total",
      help: "HTTP requests sent to source APIs, by response status (or network error kind).",
      labelNames: ["job", "status"],
      registers,
    });
    this.httpRetries = new Counter({
      name: "pipeline_http_retries_total",
      help: "HTTP requests to source APIs that were retries of a failed attempt.",
      labelNames: ["job"],
      registers,
    });
    this.quarantined = new Counter({
      name: "pipeline_rows_quarantined_total",
      help: "Rows that failed a quarantine check and went to sluice.quarantine instead of their table.",
      labelNames: ["job", "table"],
      registers,
    });
    this.checkFailures = new Counter({
      name: "pipeline_check_failures_total",
      help: "Validation checks that failed on a partition; action is what applied (block stopped the partition's load).",
      labelNames: ["job", "table", "check", "severity", "action"],
      registers,
    });
    this.partitions = new Counter({
      name: "pipeline_partitions_total",
      help: "Partition runs by outcome (succeeded, failed, cancelled, skipped).",
      labelNames: ["job", "outcome"],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: LAST_SUCCESS,
      help: "Unix time at which a partition of the job last succeeded.",
      labelNames: ["job"],
      registers,
    });
    const checkGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ["job", "table", "check"] as const, registers });
    this.checkObserved = checkGauge("pipeline_check_observed_value", "What an anomaly check (volume, aggregate) measured on the latest partition: rows, or the aggregate's value.");
    this.checkAnomaly = checkGauge("pipeline_check_anomaly", "1 when the latest partition failed an anomaly check (volume, aggregate), else 0 (passed or skipped for too little history).");
  }

  /** Adds one partition outcome to the metrics. */
  observe(outcome: PartitionOutcome): void {
    const job = outcome.job;
    this.partitions.inc({ job, outcome: outcome.status });
    // A skipped partition did no work: counting its zeros would only add a series per skipped day.
    if (outcome.status === "skipped") return;
    const partition = outcome.dt;
    this.records.inc({ job, partition, status: "extracted" }, outcome.rowsIn);
    this.records.inc({ job, partition, status: "loaded" }, outcome.rowsLoaded);
    this.records.inc({ job, partition, status: "quarantined" }, outcome.rowsQuarantined);
    this.seconds.observe({ job, stage: "run" }, outcome.durationMs / 1000);
    for (const [stage, ms] of stageMillis(outcome.steps)) this.seconds.observe({ job, stage }, ms / 1000);

    for (const step of outcome.steps) {
      if (step.kind === "extract") {
        const counts = step.details["statusCounts"];
        if (isRecord(counts)) {
          for (const [status, n] of Object.entries(counts)) if (typeof n === "number" && n > 0) this.httpRequests.inc({ job, status }, n);
        }
        this.httpRetries.inc({ job }, numberOr(step.details["retries"], 0));
      } else if (step.kind === "validate") {
        const n = numberOr(step.details["quarantined"], 0);
        this.quarantined.inc({ job, table: validatedTable(step) }, n);
      }
    }
    for (const check of failedChecks(outcome)) {
      // action tells a blocking failure (nothing loaded) from a quarantining one: the alert rules need it.
      this.checkFailures.inc({ job, table: check.table, check: check.check, severity: check.severity, action: check.action });
    }
    this.observeAnomalies(outcome);
    if (outcome.status === "succeeded") this.setLastSuccess(job, Date.now() / 1000);
  }

  /** Sets the anomaly gauges from the partition's anomaly checks, unless a later partition already set them. */
  private observeAnomalies(outcome: PartitionOutcome): void {
    for (const check of outcome.checks) {
      if (check.kind === undefined || !ANOMALY_KINDS.has(check.kind)) continue;
      const labels = { job: outcome.job, table: check.table, check: check.check };
      const key = JSON.stringify(labels);
      const shown = this.anomalyDts.get(key);
      // A backfill finishes partitions in any order: the gauges show the latest day's values.
      if (shown !== undefined && shown > outcome.dt) continue;
      this.anomalyDts.set(key, outcome.dt);
      this.checkAnomaly.set(labels, check.passed ? 0 : 1);
      if (typeof check.observed === "number" && Number.isFinite(check.observed)) this.checkObserved.set(labels, check.observed);
      else this.checkObserved.remove(labels);
    }
  }

  /** The last-success time this command recorded for `job` (seconds), if any partition succeeded. */
  lastSuccessSeconds(job: string): number | undefined {
    return this.lastSuccessByJob.get(job);
  }

  /** Sets the last-success gauge unless a later value is already set. */
  setLastSuccess(job: string, seconds: number): void {
    const current = this.lastSuccessByJob.get(job);
    if (current !== undefined && current >= seconds) return;
    this.lastSuccessByJob.set(job, seconds);
    this.lastSuccess.set({ job }, seconds);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Milliseconds per stage of one run; a transform with several outputs is recorded once per output with the same ms, so count it once. */
function stageMillis(steps: readonly StepRecord[]): Map<Exclude<Stage, "run">, number> {
  const out = new Map<Exclude<Stage, "run">, number>();
  const seenTransforms = new Set<string>();
  for (const step of steps) {
    if (step.kind === "transform") {
      const key = `${step.name.split(": ")[0] ?? step.name}\u0000${step.ms}`;
      if (seenTransforms.has(key)) continue;
      seenTransforms.add(key);
    }
    out.set(step.kind, (out.get(step.kind) ?? 0) + step.ms);
  }
  return out;
}

/** The table a validate step checked: details.table when present, else its name "validate <table>". */
function validatedTable(step: StepRecord): string {
  const table = step.details["table"];
  if (typeof table === "string") return table;
  return step.name.startsWith("validate ") ? step.name.slice("validate ".length) : step.name;
}

/** Failed checks of the run: from the validate steps (outcome.checks holds the same results). */
function failedChecks(outcome: PartitionOutcome): CheckResult[] {
  return outcome.checks.filter((c) => !c.passed);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/** The textfile of a job: `<dataDir>/metrics/<job>.prom`. */
export function metricsTextfilePath(dataDir: string, job: string): string {
  if (!JOB_RE.test(job)) throw new SluiceError(`job name "${job}" cannot be a metrics file name`, { context: { job } });
  return path.join(dataDir, "metrics", `${job}.prom`);
}

/**
 * Writes the metrics for node_exporter's textfile collector at `<dataDir>/metrics/<job>.prom`,
 * atomically (temp file + fsync + rename, so the collector never reads half a file); returns the path.
 * When this command had no success, the previous file's last-success time is carried over so a
 * failing day does not make the "last success" alert lose its value.
 */
export async function writeMetricsTextfile(dataDir: string, job: string, metrics: RunMetrics): Promise<string> {
  const target = metricsTextfilePath(dataDir, job);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  if (metrics.lastSuccessSeconds(job) === undefined) {
    const previous = await readFile(target, "utf8").then(parseLastSuccess(job), () => undefined);
    if (previous !== undefined) metrics.setLastSuccess(job, previous);
  }
  const text = await metrics.text();
  // node_exporter only reads *.prom: the dot-prefixed temp file is never half-read.
  try {
    await writeFileAtomic(target, text, { durable: true });
  } catch (error) {
    throw new SluiceError(`could not write metrics file ${target}: ${(error as Error).message}`, { cause: error, context: { job, stage: "metrics" } });
  }
  return target;
}

function parseLastSuccess(job: string): (text: string) => number | undefined {
  return (text) => {
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${LAST_SUCCESS}{`)) continue;
      const match = /^[^{]+\{(.*)\}\s+(\S+)$/.exec(line);
      if (!match || !(match[1] ?? "").split(",").includes(`job="${job}"`)) continue;
      const value = Number(match[2]);
      if (Number.isFinite(value)) return value;
    }
    return undefined;
  };
}

/**
 * Pushes the metrics to a Pushgateway as group `job=<job>`. Uses POST, which replaces only the
 * metric names in this push: a run with no success leaves the group's last-success gauge in place.
 */
export async function pushMetrics(gatewayUrl: string, job: string, metrics: RunMetrics, signal?: AbortSignal): Promise<void> {
  let url: URL;
  try {
    url = new URL(`metrics/job/${encodeURIComponent(job)}`, gatewayUrl.endsWith("/") ? gatewayUrl : `${gatewayUrl}/`);
  } catch (error) {
    throw new SluiceError(`invalid Pushgateway URL "${gatewayUrl}"`, { cause: error, context: { job, stage: "metrics" }, hint: "set SLUICE_PUSHGATEWAY_URL to e.g. http://pushgateway:9091" });
  }
  const shown = redact(url);
  const headers: Record<string, string> = { "content-type": metrics.registry.contentType };
  // fetch() refuses URLs with credentials: send them as Basic auth instead.
  if (url.username || url.password) {
    headers["authorization"] = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  const body = await metrics.text();
  const timeout = AbortSignal.timeout(10_000);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error) {
    throw new ServiceUnavailableError(`could not push metrics to ${shown}: ${(error as Error).message}`, { cause: error, context: { job, url: shown, stage: "metrics" } });
  }
  if (!response.ok) {
    const snippet = (await response.text().catch(() => "")).slice(0, 300).trim();
    const Class = response.status >= 500 ? ServiceUnavailableError : SluiceError;
    throw new Class(`Pushgateway at ${shown} answered ${response.status}${snippet ? `: ${snippet}` : ""}`, { context: { job, url: shown, stage: "metrics" } });
  }
  await response.body?.cancel().catch(() => undefined);
}

/** The URL without credentials or query, safe to put in an error message. */
function redact(url: URL): string {
  const copy = new URL(url);
  copy.username = "";
  copy.password = "";
  copy.search = "";
  return copy.toString();
}

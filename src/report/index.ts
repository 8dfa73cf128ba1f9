/**
 * The run report: one self-contained HTML page per partition run, read like a notebook (a header,
 * then one cell per step with its schema, first rows and facts, then charts). Nothing is fetched
 * from the network: CSS, data and Chart.js's UMD build are inlined, so the page works from a mail
 * attachment or an air-gapped file share.
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import pl from "nodejs-polars";
import { SluiceError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { lakePartitionPath } from "../load/lake.ts";
import type { PartitionOutcome, StepRecord } from "../pipeline/index.ts";
import type { CheckResult } from "../validate/types.ts";

/** One chart of the report. `histogram` draws adjacent bars; `hbar` is a horizontal bar chart. */
export interface ReportChart {
  title: string;
  kind: "bar" | "hbar" | "line" | "histogram";
  labels: string[];
  values: number[];
  /** Axis titles (optional). */
  xLabel?: string;
  yLabel?: string;
}

/** The charts of a report, drawn in order. */
export type ReportCharts = ReportChart[];

export interface RunReportOptions {
  dataDir: string;
  /** Job-specific charts (e.g. eventsCharts); a time-per-step chart is always added. */
  charts?: ReportCharts;
  /** Clock of the "generated at" line (tests). */
  now?: Date;
}

const DT_RE = /^\d{4}-\d{2}-\d{2}$/;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** Where the report of a partition lives: `<dataDir>/reports/<job>/<dt>.html`. */
export function reportPath(dataDir: string, job: string, dt: string): string {
  if (!NAME_RE.test(job)) throw new SluiceError(`job name "${job}" cannot be a report directory`, { context: { job } });
  if (!DT_RE.test(dt)) throw new SluiceError(`"${dt}" is not a YYYY-MM-DD partition`, { context: { job, partition: dt } });
  return path.join(dataDir, "reports", job, `${dt}.html`);
}

/** Writes the HTML report of one partition run atomically (temp file + rename); returns its path. */
export async function writeRunReport(outcome: PartitionOutcome, options: RunReportOptions): Promise<string> {
  const target = reportPath(options.dataDir, outcome.job, outcome.dt);
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  const html = renderRunReport(outcome, options.charts ?? [], options.now ?? new Date());
  // Dot-prefixed temp: latestReport and a browser refreshing the page never see half a file.
  try {
    await writeFileAtomic(target, html);
  } catch (error) {
    throw new SluiceError(`could not write report ${target}: ${(error as Error).message}`, { cause: error, context: { job: outcome.job, partition: outcome.dt, stage: "report" } });
  }
  return target;
}

/** The path of a job's report for `dt`, or of its latest partition's report when dt is omitted; null when none exists. */
export async function latestReport(dataDir: string, job: string, dt?: string): Promise<string | null> {
  if (dt !== undefined) {
    const file = reportPath(dataDir, job, dt);
    return (await isFile(file)) ? file : null;
  }
  const dir = path.dirname(reportPath(dataDir, job, "2000-01-01"));
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const dts = names.filter((n) => /^\d{4}-\d{2}-\d{2}\.html$/.test(n)).sort();
  const last = dts.at(-1);
  return last === undefined ? null : path.join(dir, last);
}

/** Session duration buckets, in minutes: [lower, upper) with labels. */
const DURATION_BUCKETS: Array<{ upper: number; label: string }> = [
  { upper: 1, label: "<1" },
  { upper: 2, label: "1–2" },
  { upper: 5, label: "2–5" },
  { upper: 10, label: "5–10" },
  { upper: 15, label: "10–15" },
  { upper: 30, label: "15–30" },
  { upper: 60, label: "30–60" },
  { upper: 120, label: "60–120" },
  { upper: Number.POSITIVE_INFINITY, label: "≥120" },
];

/**
 * Charts of the events job for day `dt`, computed from the lake with Polars: sessions per UTC hour
 * of session_start, the session duration distribution (minutes), and events by event_type.
 * Returns [] when the lake has neither partition.
 */
export async function eventsCharts(dataDir: string, dt: string): Promise<ReportCharts> {
  const sessionsFile = lakePartitionPath(dataDir, "sessions", dt);
  const eventsFile = lakePartitionPath(dataDir, "events", dt);
  const [hasSessions, hasEvents] = await Promise.all([isFile(sessionsFile), isFile(eventsFile)]);
  try {
    return computeEventsCharts(dt, hasSessions ? sessionsFile : null, hasEvents ? eventsFile : null);
  } catch (error) {
    throw new SluiceError(`could not compute the report charts of events ${dt} from the lake: ${(error as Error).message}`, {
      cause: error,
      context: { job: "events", partition: dt, stage: "report" },
    });
  }
}

function computeEventsCharts(dt: string, sessionsFile: string | null, eventsFile: string | null): ReportCharts {
  const charts: ReportCharts = [];
  if (sessionsFile !== null) {
    const sessions = pl.readParquet(sessionsFile, { columns: ["session_start", "duration_s"] }).lazy();
    const byHour = sessions
      .select(pl.col("session_start").dt.hour().cast(pl.Int32).alias("hour"))
      .groupBy("hour")
      .len()
      .collectSync();
    const perHour = new Array<number>(24).fill(0);
    // At most 24 aggregated rows: a plain loop is fine here.
    const hours = byHour.getColumn("hour").toArray() as Array<number | null>;
    const hourCounts = byHour.getColumn("len").toArray() as number[];
    hours.forEach((h, i) => {
      if (h !== null && h >= 0 && h < 24) perHour[h] = Number(hourCounts[i] ?? 0);
    });
    charts.push({
      title: `Sessions per hour of session_start (UTC), ${dt}`,
      kind: "bar",
      labels: perHour.map((_, h) => String(h).padStart(2, "0")),
      values: perHour,
      xLabel: "hour (UTC)",
      yLabel: "sessions",
    });

    const minutes = pl.col("duration_s").div(60);
    let bucket = pl.when(minutes.lt(DURATION_BUCKETS[0]?.upper ?? 1)).then(pl.lit(0));
    DURATION_BUCKETS.slice(1, -1).forEach((b, i) => {
      bucket = bucket.when(minutes.lt(b.upper)).then(pl.lit(i + 1));
    });
    const byBucket = sessions
      .filter(pl.col("duration_s").isNotNull())
      .select(bucket.otherwise(pl.lit(DURATION_BUCKETS.length - 1)).cast(pl.Int32).alias("bucket"))
      .groupBy("bucket")
      .len()
      .collectSync();
    const perBucket = new Array<number>(DURATION_BUCKETS.length).fill(0);
    const buckets = byBucket.getColumn("bucket").toArray() as number[];
    const bucketCounts = byBucket.getColumn("len").toArray() as number[];
    buckets.forEach((b, i) => {
      perBucket[b] = Number(bucketCounts[i] ?? 0);
    });
    charts.push({
      title: "Session duration",
      kind: "histogram",
      labels: DURATION_BUCKETS.map((b) => b.label),
      values: perBucket,
      xLabel: "minutes",
      yLabel: "sessions",
    });
  }
  if (eventsFile !== null) {
    const byType = pl
      .readParquet(eventsFile, { columns: ["event_type"] })
      .lazy()
      .groupBy("event_type")
      .len()
      .sort({ by: ["len", "event_type"], descending: [true, false], nullsLast: true })
      .collectSync();
    charts.push({
      title: `Events by event_type, ${dt}`,
      kind: "hbar",
      labels: (byType.getColumn("event_type").toArray() as Array<string | null>).map((t) => t ?? "(null)"),
      values: (byType.getColumn("len").toArray() as number[]).map(Number),
      xLabel: "events",
    });
  }
  return charts;
}

/** The report's HTML (exported for previews and tests). */
export function renderRunReport(outcome: PartitionOutcome, charts: ReportCharts, now: Date = new Date()): string {
  const allCharts: ReportCharts = [...(outcome.steps.length > 0 ? [stepTimingChart(outcome.steps)] : []), ...charts];
  const title = `${outcome.job} ${outcome.dt}: ${outcome.status}`;
  let previous: { index: number; key: string } | undefined;
  const cells = outcome.steps
    .map((step, i) => {
      // A step whose schema and first rows equal the previous step's (validate with nothing
      // quarantined up front, a no-op dedup) shows them folded, so the notebook stays short.
      const key = step.kind === "load" ? "" : JSON.stringify([step.schema, step.head]);
      const same = previous !== undefined && key !== "" && key === previous.key ? previous.index : undefined;
      if (key !== "") previous = { index: i + 1, key };
      return renderStep(step, i + 1, same);
    })
    .join("\n");
  const noSteps = outcome.steps.length === 0 ? `<section class="cell cell-empty"><div class="gutter"></div><div class="body"><p class="muted">No step ran.</p></div></section>` : "";
  const data = { job: outcome.job, dt: outcome.dt, runId: outcome.runId, status: outcome.status, charts: allCharts };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sluice">
<title>${esc(title)} · Sluice run report</title>
<style>${CSS}</style>
</head>
<body>
<main class="container">
${renderHeader(outcome, now)}
${cells}${noSteps}
${renderCharts(allCharts)}
<footer class="muted">Generated by Sluice at ${esc(now.toISOString())}. Self-contained: no network access needed.</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
${allCharts.length > 0 ? `<script>${chartJs()}</script>\n<script>${RENDER_SCRIPT}</script>` : ""}
</body>
</html>
`;
}

function renderHeader(o: PartitionOutcome, now: Date): string {
  const facts: Array<[string, string, string]> = [
    ["run_id", "run-id", o.runId || "—"],
    ["duration", "duration", formatMs(o.durationMs)],
    ["rows in", "rows-in", formatInt(o.rowsIn)],
    ["rows loaded", "rows-loaded", formatInt(o.rowsLoaded)],
    ["rows quarantined", "rows-quarantined", formatInt(o.rowsQuarantined)],
    ["failed checks", "failed-checks", `${formatInt(o.failedChecks)} of ${formatInt(Math.max(o.checks.length, o.failedChecks))}`],
  ];
  const error = o.error ? `<div class="error" data-field="error"><strong>Error</strong><pre>${esc(o.error)}</pre></div>` : "";
  return `<header class="run" data-job="${esc(o.job)}" data-dt="${esc(o.dt)}" data-status="${esc(o.status)}">
<div class="eyebrow">Sluice run report · generated ${esc(now.toISOString().slice(0, 19).replace("T", " "))} UTC</div>
<h1><span class="job">${esc(o.job)}</span> <span class="dt">${esc(o.dt)}</span> <span class="status status-${esc(o.status)}" data-field="status">${esc(o.status)}</span></h1>
<dl class="facts">
${facts.map(([label, field, value]) => `<div class="fact"><dt>${esc(label)}</dt><dd data-field="${field}">${esc(value)}</dd></div>`).join("\n")}
</dl>
${error}
</header>`;
}

function renderStep(step: StepRecord, index: number, sameAs: number | undefined): string {
  const facts = step.kind === "extract" ? extractFacts(step) : step.kind === "validate" ? validateFacts(step) : step.kind === "load" ? loadFacts(step) : "";
  const grid = `<div class="grid">
<div class="schema"><h3>Schema <span class="muted">${plural(step.schema.length, "column")}</span></h3>${renderSchema(step.schema)}</div>
<div class="head"><h3>First rows <span class="muted">${formatInt(step.head.length)} of ${formatInt(step.rows)}</span></h3>${renderHead(step)}</div>
</div>`;
  const data =
    step.kind === "load"
      ? ""
      : sameAs === undefined
        ? grid
        : `<details class="unchanged" data-same-as="${sameAs}"><summary>Schema (${plural(step.schema.length, "column")}) and first rows unchanged from [${sameAs}]</summary>${grid}</details>`;
  return `<section class="cell" id="step-${index}" data-step-index="${index}" data-kind="${esc(step.kind)}" data-name="${esc(step.name)}" data-rows="${step.rows}">
<div class="gutter">[${index}]</div>
<div class="body">
<h2><span class="badge badge-${esc(step.kind)}">${esc(step.kind)}</span> <span class="step-name">${esc(step.name)}</span></h2>
<div class="meta"><span data-field="rows">${formatInt(step.rows)} rows</span> · <span data-field="ms">${esc(formatMs(step.ms))}</span></div>
${facts}
${data}
</div>
</section>`;
}

function extractFacts(step: StepRecord): string {
  const d = step.details;
  const statusCounts = isRecord(d["statusCounts"]) ? Object.entries(d["statusCounts"]).filter(([, n]) => typeof n === "number") : [];
  const drift = Array.isArray(d["drift"]) ? d["drift"].map(String) : [];
  const chips = statusCounts
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `<span class="chip ${/^2\d\d$/.test(status) ? "chip-ok" : "chip-bad"}" data-status="${esc(status)}">${esc(status)}: ${formatInt(Number(n))}</span>`)
    .join(" ");
  return `<dl class="kv">
${kv("pages", "pages", formatMaybeInt(d["pages"]))}
${kv("requests", "requests", formatMaybeInt(d["requests"]))}
${kv("retries", "retries", formatMaybeInt(d["retries"]))}
${kv("resumed from landed pages", "resumed", d["resumed"] === true ? "yes" : d["resumed"] === false ? "no" : "—")}
<div><dt>status counts</dt><dd data-field="status-counts">${chips || "—"}</dd></div>
<div><dt>schema drift</dt><dd data-field="drift">${drift.length > 0 ? `<span class="warn">${formatInt(drift.length)} unknown field${drift.length === 1 ? "" : "s"}: ${drift.map((f) => `<code>${esc(f)}</code>`).join(", ")}</span>` : "none"}</dd></div>
</dl>`;
}

function validateFacts(step: StepRecord): string {
  const d = step.details;
  const results = Array.isArray(d["results"]) ? (d["results"] as unknown[]).filter(isCheckResult) : [];
  const blocked = d["blocked"] === true ? `<div class="error"><strong>Blocked:</strong> a check with action <code>block</code> failed; nothing of this partition was loaded.</div>` : "";
  const rows = results
    .map(
      (r) => `<tr class="${r.passed ? "pass" : "fail"}" data-check="${esc(r.check)}" data-passed="${r.passed}">
<td><code>${breakable(r.check)}</code></td><td>${esc(r.columns.join(", "))}</td><td><span class="sev sev-${esc(r.severity)}">${esc(r.severity)}</span></td><td>${esc(r.action)}</td>
<td class="mark">${r.passed ? `<span class="ok">✓</span>` : `<span class="bad">✗</span>`}</td><td class="num">${formatInt(r.failingRows)}</td><td>${renderSamples(r)}</td></tr>`,
    )
    .join("\n");
  const quarantined = typeof d["quarantined"] === "number" ? kv("rows quarantined", "quarantined", formatInt(d["quarantined"])) : "";
  return `${blocked}<dl class="kv">${quarantined}${kv("checks", "checks", `${formatInt(results.filter((r) => r.passed).length)} passed, ${formatInt(results.filter((r) => !r.passed).length)} failed`)}</dl>
<div class="scroll"><table class="checks"><thead><tr><th>check</th><th>columns</th><th>severity</th><th>action</th><th>passed</th><th class="num">failing rows</th><th>sample values</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="7" class="muted">no checks</td></tr>`}
</tbody></table></div>`;
}

/** Escaped text with line-break opportunities after | and , (long accepted-values lists). */
function breakable(text: string): string {
  return esc(text).replace(/([|,])/g, "$1<wbr>");
}

function renderSamples(r: CheckResult): string {
  if (r.sample.length === 0) return r.passed ? "" : `<span class="muted">—</span>`;
  return r.sample
    .map((s) => {
      const key = isRecord(s.key)
        ? Object.entries(s.key)
            .map(([k, v]) => `${k}=${cellText(v)}`)
            .join(", ")
        : "";
      return `<span class="sample"><code>${esc(truncate(cellText(s.value), 60))}</code>${key ? ` <span class="muted">(${esc(truncate(key, 80))})</span>` : ""}</span>`;
    })
    .join("");
}

function loadFacts(step: StepRecord): string {
  const d = step.details;
  const partitions = Array.isArray(d["partitions"]) ? d["partitions"].map(String) : [];
  return `<dl class="kv">
${kv("inserted", "inserted", formatMaybeInt(d["inserted"]))}
${kv("updated", "updated", formatMaybeInt(d["updated"]))}
${kv("deleted", "deleted", formatMaybeInt(d["deleted"]))}
${kv("lake write", "lake-ms", typeof d["lakeMs"] === "number" ? formatMs(d["lakeMs"]) : "—")}
${kv("warehouse load", "warehouse-ms", typeof d["warehouseMs"] === "number" ? formatMs(d["warehouseMs"]) : "—")}
<div><dt>partitions</dt><dd data-field="partitions">${partitions.length > 0 ? `<ul class="partitions">${partitions.map((p) => `<li><code>${esc(p)}</code></li>`).join("")}</ul>` : "—"}</dd></div>
</dl>`;
}

function kv(label: string, field: string, value: string): string {
  return `<div><dt>${esc(label)}</dt><dd data-field="${field}">${esc(value)}</dd></div>`;
}

function renderSchema(schema: Array<[string, string]>): string {
  if (schema.length === 0) return `<p class="muted">no columns</p>`;
  return `<table class="schema-table"><thead><tr><th>column</th><th>dtype</th></tr></thead><tbody>
${schema.map(([name, dtype]) => `<tr><td><code>${esc(name)}</code></td><td class="dtype" title="${esc(dtype)}">${esc(shortDtype(dtype))}</td></tr>`).join("\n")}
</tbody></table>`;
}

const SHORT_DTYPES: Record<string, string> = {
  Int8: "i8",
  Int16: "i16",
  Int32: "i32",
  Int64: "i64",
  UInt8: "u8",
  UInt16: "u16",
  UInt32: "u32",
  UInt64: "u64",
  Float32: "f32",
  Float64: "f64",
  String: "str",
  Utf8: "str",
  Bool: "bool",
  Boolean: "bool",
  Date: "date",
  Time: "time",
  Null: "null",
  Categorical: "cat",
  Object: "object",
};
const TIME_UNITS: Record<string, string> = { Nanoseconds: "ns", Microseconds: "μs", Milliseconds: "ms", ns: "ns", us: "μs", ms: "ms" };

/** Polars dtype names as Polars prints them in a frame header: "DataType(Datetime(us,UTC))" -> "datetime[μs, UTC]". */
export function shortDtype(raw: string): string {
  let t = raw.trim();
  while (/^DataType\((.*)\)$/.test(t)) t = t.replace(/^DataType\((.*)\)$/, "$1");
  const simple = SHORT_DTYPES[t];
  if (simple) return simple;
  const dt = /^(Datetime|Duration)\((\w+)\s*(?:,\s*(?:Some\()?"?([^")]*)"?\)?)?\)$/.exec(t);
  if (dt) {
    const unit = TIME_UNITS[dt[2] ?? ""] ?? dt[2] ?? "";
    const tz = dt[3] && dt[3] !== "None" ? `, ${dt[3]}` : "";
    return `${(dt[1] ?? "").toLowerCase()}[${unit}${tz}]`;
  }
  const list = /^List\((.*)\)$/.exec(t);
  if (list) return `list[${shortDtype(list[1] ?? "")}]`;
  if (/^Struct\b/.test(t)) return "struct";
  if (/^Categorical\b/.test(t)) return "cat";
  if (/^Decimal\b/.test(t)) return t.toLowerCase();
  return t;
}

function renderHead(step: StepRecord): string {
  if (step.head.length === 0) return `<p class="muted">no rows</p>`;
  const columns = step.schema.length > 0 ? step.schema.map(([name]) => name) : Object.keys(step.head[0] ?? {});
  return `<div class="scroll"><table class="rows"><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>
${step.head.map((row) => `<tr>${columns.map((c) => renderCell(row[c])).join("")}</tr>`).join("\n")}
</tbody></table></div>`;
}

function renderCell(value: unknown): string {
  if (value === null || value === undefined) return `<td class="null">null</td>`;
  const text = cellText(value);
  const cls = typeof value === "number" || typeof value === "bigint" ? ` class="num"` : "";
  const shown = truncate(text, 48);
  return shown === text ? `<td${cls}>${esc(text)}</td>` : `<td${cls} title="${esc(text)}">${esc(shown)}</td>`;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

function renderCharts(charts: ReportCharts): string {
  const figures = charts
    .map(
      (c, i) => `<figure class="chart" data-chart-index="${i}" data-chart-kind="${esc(c.kind)}">
<figcaption>${esc(c.title)}</figcaption>
<div class="canvas-box${c.kind === "hbar" ? " canvas-tall" : ""}"><canvas id="chart-${i}" role="img" aria-label="${esc(c.title)}"></canvas></div>
<details><summary>data</summary><div class="scroll"><table class="chart-data"><tbody>${c.labels.map((label, j) => `<tr><th>${esc(label)}</th><td class="num">${esc(formatNumber(c.values[j] ?? 0))}</td></tr>`).join("")}</tbody></table></div></details>
</figure>`,
    )
    .join("\n");
  return `<section class="cell cell-charts" id="charts" data-kind="charts">
<div class="gutter">[*]</div>
<div class="body">
<h2><span class="badge badge-charts">charts</span> <span class="step-name">Charts</span></h2>
${charts.length > 0 ? `<div class="charts">${figures}</div>` : `<p class="muted">No charts for this run.</p>`}
</div>
</section>`;
}

function stepTimingChart(steps: readonly StepRecord[]): ReportChart {
  return {
    title: "Time per step (seconds)",
    kind: "hbar",
    labels: steps.map((s, i) => `[${i + 1}] ${s.name}`),
    values: steps.map((s) => Math.round(s.ms) / 1000),
    xLabel: "seconds",
  };
}

let chartJsSource: string | undefined;

/** Chart.js's UMD build, read once, without its source-map comment (which would make devtools fetch a file). */
function chartJs(): string {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    const file = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.min.js");
    chartJsSource = readFileSync(file, "utf8")
      .replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n")
      .replace(/<\/script/gi, "<\\/script");
  }
  return chartJsSource;
}

/** JSON safe inside a <script> element: no "</script>", no "<!--", no U+2028/2029 surprises. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function plural(n: number, noun: string): string {
  return `${formatInt(n)} ${noun}${n === 1 ? "" : "s"}`;
}

function formatMaybeInt(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? formatInt(v) : "—";
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? formatInt(n) : n.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

/** 850 ms, 1.2 s, 1m 02s, 1h 02m. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, "0")}s`;
  return `${Math.floor(total / 3600)}h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")}m`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCheckResult(value: unknown): value is CheckResult {
  return isRecord(value) && typeof value["check"] === "string" && typeof value["passed"] === "boolean" && Array.isArray(value["columns"]) && Array.isArray(value["sample"]);
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Draws each chart with Chart.js (no animation, so it is drawn at load) and marks its canvas
 * data-rendered="true" with data-points=<drawn elements> once drawn at a non-zero size.
 */
const RENDER_SCRIPT = `(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  if (typeof Chart === "undefined") return;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#4b5563";
  var colors = { bar: "#3b82f6", hbar: "#8b5cf6", line: "#0ea5e9", histogram: "#10b981" };
  var marker = {
    id: "sluiceRendered",
    afterRender: function (chart) {
      var drawn = chart.getDatasetMeta(0).data.length;
      if (chart.width > 0 && chart.height > 0) {
        chart.canvas.setAttribute("data-rendered", "true");
        chart.canvas.setAttribute("data-points", String(drawn));
      }
    }
  };
  data.charts.forEach(function (c, i) {
    var canvas = document.getElementById("chart-" + i);
    if (!canvas) return;
    var color = colors[c.kind] || "#3b82f6";
    var horizontal = c.kind === "hbar";
    var histogram = c.kind === "histogram";
    var valueAxis = { beginAtZero: true, grid: { color: "#eef0f3" }, title: { display: !!(horizontal ? c.xLabel : c.yLabel), text: (horizontal ? c.xLabel : c.yLabel) || "" } };
    var categoryAxis = { grid: { display: false }, title: { display: !!(horizontal ? c.yLabel : c.xLabel), text: (horizontal ? c.yLabel : c.xLabel) || "" } };
    new Chart(canvas, {
      type: c.kind === "line" ? "line" : "bar",
      data: {
        labels: c.labels,
        datasets: [{
          label: c.yLabel || c.xLabel || c.title,
          data: c.values,
          backgroundColor: c.kind === "line" ? "rgba(14,165,233,0.15)" : color,
          borderColor: color,
          borderWidth: c.kind === "line" ? 2 : 0,
          borderRadius: histogram ? 0 : 3,
          fill: c.kind === "line",
          tension: 0.25,
          pointRadius: 2,
          barPercentage: histogram ? 1 : 0.8,
          categoryPercentage: histogram ? 1 : 0.85
        }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false }, tooltip: { intersect: false } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      },
      plugins: [marker]
    });
  });
  // The page's full height, for screenshot tools that size their window to it.
  document.documentElement.setAttribute("data-height", String(document.documentElement.scrollHeight));
})();`;

const CSS = `
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #fff; --ok: #15803d; --bad: #b91c1c; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, .dtype, table.rows td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
.container { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
.muted { color: var(--muted); font-weight: normal; }
header.run { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin-bottom: 18px; }
.eyebrow { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
h1 { margin: 4px 0 12px; font-size: 26px; font-weight: 650; }
h1 .dt { color: var(--muted); font-weight: 500; }
.status { display: inline-block; vertical-align: middle; font-size: 13px; font-weight: 600; padding: 2px 10px; border-radius: 999px; margin-left: 6px; }
.status-succeeded { background: #dcfce7; color: var(--ok); }
.status-failed { background: #fee2e2; color: var(--bad); }
.status-cancelled, .status-skipped { background: #f3f4f6; color: var(--muted); }
dl { margin: 0; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.fact { background: #f9fafb; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 0; }
.fact dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
.fact dd { margin: 2px 0 0; font-size: 17px; font-weight: 600; overflow-wrap: anywhere; }
.fact dd[data-field="run-id"] { font-size: 13px; font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 500; }
.body .error { margin: 4px 0 12px; }
.error { margin-top: 14px; background: #fef2f2; border: 1px solid #fecaca; color: var(--bad); border-radius: 8px; padding: 10px 14px; }
.error pre { margin: 6px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; color: #7f1d1d; }
section.cell { display: grid; grid-template-columns: 44px minmax(0, 1fr); gap: 8px; margin-bottom: 14px; }
.gutter { color: #9ca3af; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; padding-top: 16px; text-align: right; }
.body { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; min-width: 0; }
h2 { margin: 0 0 2px; font-size: 17px; font-weight: 600; }
h3 { margin: 0 0 6px; font-size: 12px; font-weight: 600; color: #374151; text-transform: uppercase; letter-spacing: .04em; }
.badge { display: inline-block; vertical-align: 2px; font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; padding: 2px 8px; border-radius: 5px; margin-right: 4px; }
.badge-extract { background: #dbeafe; color: #1d4ed8; }
.badge-transform { background: #ede9fe; color: #6d28d9; }
.badge-validate { background: #fef3c7; color: #92400e; }
.badge-load { background: #dcfce7; color: #166534; }
.badge-charts { background: #e0f2fe; color: #075985; }
.meta { color: var(--muted); margin-bottom: 10px; }
dl.kv { display: flex; flex-wrap: wrap; gap: 6px 22px; margin-bottom: 12px; }
dl.kv > div { min-width: 0; }
dl.kv dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
dl.kv dd { margin: 0; font-weight: 600; }
.chip { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px; margin: 1px 2px 1px 0; }
.chip-ok { background: #dcfce7; color: var(--ok); }
.chip-bad { background: #fee2e2; color: var(--bad); }
.warn { color: var(--warn); font-weight: normal; }
ul.partitions { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 10px; font-weight: normal; }
.grid { display: grid; grid-template-columns: minmax(170px, 240px) minmax(0, 1fr); gap: 18px; align-items: start; margin-top: 12px; }
details.unchanged { margin-top: 10px; font-size: 13px; }
details.unchanged > summary { cursor: pointer; }
@media (max-width: 800px) { .grid { grid-template-columns: minmax(0, 1fr); } }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: baseline; }
th { font-size: 11px; color: var(--muted); font-weight: 600; background: #f9fafb; white-space: nowrap; }
table.rows td { white-space: nowrap; }
table.schema-table td { padding: 2px 8px; white-space: nowrap; }
table.rows td { padding: 2px 8px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null { color: #9ca3af; font-style: italic; }
.dtype { color: #6d28d9; }
table.checks { font-size: 13px; }
table.checks td { vertical-align: baseline; }
table.checks td:first-child { max-width: 340px; overflow-wrap: break-word; }
table.checks td:last-child { max-width: 360px; overflow-wrap: anywhere; }
table.checks tr.fail td { background: #fff7f7; }
td.mark { text-align: center; font-size: 15px; }
.ok { color: var(--ok); font-weight: 700; }
.bad { color: var(--bad); font-weight: 700; }
.sev { font-size: 11px; font-weight: 600; padding: 1px 6px; border-radius: 4px; }
.sev-error { background: #fee2e2; color: var(--bad); }
.sev-warn { background: #fef3c7; color: var(--warn); }
.sample { display: block; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
@media (max-width: 900px) { .charts { grid-template-columns: minmax(0, 1fr); } }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.canvas-box { position: relative; height: 240px; }
.canvas-box.canvas-tall { height: 280px; }
figure.chart details { margin-top: 6px; font-size: 12px; color: var(--muted); }
table.chart-data th, table.chart-data td { padding: 1px 8px; font-size: 12px; }
footer { margin-top: 20px; font-size: 12px; text-align: center; }
`;

/** The notebook cells of the report: the header, then one cell per step with its facts, schema and first rows. */
import type { PartitionOutcome, StepRecord } from "../pipeline/index.ts";
import type { CheckResult } from "../validate/types.ts";
import { shortDtype } from "./dtypes.ts";
import { esc, formatInt, formatMaybeInt, formatMs, isCheckResult, isRecord, plural, truncate } from "./format.ts";

/** The header: job, partition, status, the run's facts and its error. */
export function renderHeader(o: PartitionOutcome, now: Date): string {
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

/** The cells of the steps, in order; a step whose schema and first rows equal the previous step's shows them folded. */
export function renderCells(steps: readonly StepRecord[]): string {
  let previous: { index: number; key: string } | undefined;
  return steps
    .map((step, i) => {
      // Validate with nothing quarantined up front, or a no-op dedup: folded, so the notebook stays short.
      const key = step.kind === "load" ? "" : JSON.stringify([step.schema, step.head]);
      const same = previous !== undefined && key !== "" && key === previous.key ? previous.index : undefined;
      if (key !== "") previous = { index: i + 1, key };
      return renderStep(step, i + 1, same);
    })
    .join("\n");
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
      (r) => `<tr class="${r.skipped === true ? "skip" : r.passed ? "pass" : "fail"}" data-check="${esc(r.check)}" data-passed="${r.passed}"${r.skipped === true ? ` data-skipped="true"` : ""}>
<td><code>${breakable(r.check)}</code></td><td>${esc(r.columns.join(", "))}</td><td><span class="sev sev-${esc(r.severity)}">${esc(r.severity)}</span></td><td>${esc(r.action)}</td>
<td class="mark">${checkMark(r)}</td><td class="num">${formatInt(r.failingRows)}</td><td>${renderDetail(r)}${renderSamples(r)}</td></tr>`,
    )
    .join("\n");
  const quarantined = typeof d["quarantined"] === "number" ? kv("rows quarantined", "quarantined", formatInt(d["quarantined"])) : "";
  const skipped = results.filter((r) => r.skipped === true).length;
  const counts = `${formatInt(results.filter((r) => r.passed && r.skipped !== true).length)} passed, ${formatInt(results.filter((r) => !r.passed).length)} failed${skipped > 0 ? `, ${formatInt(skipped)} skipped` : ""}`;
  return `${blocked}<dl class="kv">${quarantined}${kv("checks", "checks", counts)}</dl>
<div class="scroll"><table class="checks"><thead><tr><th>check</th><th>columns</th><th>severity</th><th>action</th><th>passed</th><th class="num">failing rows</th><th>sample values</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="7" class="muted">no checks</td></tr>`}
</tbody></table></div>`;
}

/** Escaped text with line-break opportunities after | and , (long accepted-values lists). */
function breakable(text: string): string {
  return esc(text).replace(/([|,])/g, "$1<wbr>");
}

/** ✓ passed, ✗ failed, – skipped (could not judge: too little history, no reference table). */
function checkMark(r: CheckResult): string {
  if (r.skipped === true) return `<span class="muted" title="skipped">–</span>`;
  return r.passed ? `<span class="ok">✓</span>` : `<span class="bad">✗</span>`;
}

/** What a check measured or why it was skipped (table-level and history-aware checks). */
function renderDetail(r: CheckResult): string {
  return typeof r.detail === "string" && r.detail !== "" ? `<span class="detail" data-field="detail">${esc(r.detail)}</span>` : "";
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

/** Words for checks: the default description of each kind, dtype names, limits and percentages. */
import type pl from "nodejs-polars";
import type { AnomalyRule, CheckInput, CompareOp, Limit } from "./check-types.ts";

const OP_TEXT: Record<CompareOp, string> = { eq: "=", ne: "!=", gt: ">", ge: ">=", lt: "<", le: "<=" };

function show(value: unknown): string {
  if (typeof value === "function") return "(depends on the partition)";
  if (value instanceof Date) return value.toISOString();
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** A default sentence for a check without a description. */
export function describe(check: CheckInput): string {
  switch (check.kind) {
    case "not_null": return `${check.column} must not be null`;
    case "unique": return `${check.columns.join(", ")} must be unique (nulls never collide)`;
    case "compare": return `${check.column} must be ${OP_TEXT[check.op]} ${show(check.value)} (nulls pass)`;
    case "between": return `${check.column} must be between ${show(check.min ?? "-inf")} and ${show(check.max ?? "+inf")}, closed ${check.closed ?? "both"} (nulls pass)`;
    case "is_in": return `${check.column} must be one of ${Array.isArray(check.values) ? check.values.map(show).join(", ") : show(check.values)} (nulls pass)`;
    case "not_in": return `${check.column} must not be one of ${Array.isArray(check.values) ? check.values.map(show).join(", ") : show(check.values)} (nulls pass)`;
    case "matches": return `${check.column} must match /${check.pattern}/ (nulls pass)`;
    case "str_length": return `${check.column} must be ${check.min ?? 0} to ${check.max ?? "any number of"} characters long (nulls pass)`;
    case "dtype": return `${check.column} must have dtype ${dtypeName(check.dtype)}`;
    case "column_compare": return `${check.left} must be ${OP_TEXT[check.op]} ${check.right} (nulls pass)`;
    case "foreign_key": return `${(check.column !== undefined ? [check.column] : (check.columns ?? [])).join(", ")} must exist in ${referenceText(check.references)} (nulls pass)`;
    case "row_count": return `the partition must have ${check.min ?? 0} to ${check.max ?? "any number of"} rows`;
    case "freshness": return `the newest ${check.column} must be at most ${check.maxAgeHours} h before ${check.relativeTo === "now" ? "now" : "the partition's end"}`;
    case "custom": return `custom rule over ${(check.columns ?? []).join(", ") || "the row"}`;
    case "volume": return `the partition's row count must be ${anomalyText(check.anomaly ?? {})}${check.minRows !== undefined ? `, and at least ${check.minRows}` : ""}`;
    case "aggregate": return `${aggregateName(check.agg, check.column, check.quantile)}${check.where !== undefined ? " over the selected rows" : ""} must be ${boundsText(check.min, check.max, check.anomaly)}`;
    case "presence": return `${check.column} must be sent (even as null) in all records${check.maxAbsent ? ` but at most ${percent(check.maxAbsent)}` : ""}`;
  }
}

/** "users.user_id" or "members(org_id, user_id)". */
export function referenceText(references: string | { table: string; columns: string[] }): string {
  return typeof references === "string" ? references : `${references.table}(${references.columns.join(", ")})`;
}

/** "mean(amount)", "count(*)", "quantile(amount, 0.9)". */
export function aggregateName(agg: string, column: string | undefined, quantile: number | undefined): string {
  if (agg === "quantile") return `quantile(${column ?? "?"}, ${quantile ?? "?"})`;
  return `${agg}(${column ?? "*"})`;
}

function boundsText(min: number | undefined, max: number | undefined, anomaly: AnomalyRule | undefined): string {
  const parts: string[] = [];
  if (min !== undefined || max !== undefined) parts.push(`between ${min ?? "-inf"} and ${max ?? "+inf"}`);
  if (anomaly !== undefined) parts.push(anomalyText(anomaly));
  return parts.join(", and ");
}

/** "within 30% of the median of the previous 14 partitions (at least 7 needed)". */
function anomalyText(rule: AnomalyRule): string {
  const history = rule.history ?? 14;
  const side = rule.direction === "drop" ? "no more than" : rule.direction === "rise" ? "no more than" : "within";
  const band = rule.method === "zscore"
    ? `${side} ${rule.maxZ ?? 3} standard deviations ${rule.direction === "drop" ? "below" : rule.direction === "rise" ? "above" : "of"} the mean`
    : `${side} ${percent(rule.maxChange ?? 0.3)} ${rule.direction === "drop" ? "below" : rule.direction === "rise" ? "above" : "of"} the median`;
  const days = rule.seasonality === "weekly" ? `the same weekday of the previous ${history} weeks` : `the previous ${history} partitions`;
  return `${band} of ${days} (at least ${rule.minHistory ?? 7} needed)`;
}

/** "500 rows" or "5.0%". */
export function limitText(limit: Limit): string {
  if (typeof limit === "number") return limit >= 1 ? `${limit} rows` : percent(limit);
  return "rows" in limit ? `${limit.rows} rows` : percent(limit.fraction);
}

/** "Datetime(us,UTC)" rather than Polars' "DataType(Datetime(us,UTC))". */
export function dtypeName(dtype: pl.DataType): string {
  const text = String(dtype);
  const m = /^DataType\((.*)\)$/.exec(text);
  return m?.[1] ?? text;
}

/** "12.5%", with two decimals below 1%. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 && fraction > 0 ? 2 : 1)}%`;
}

/** A number for messages: integers as they are, others with at most 4 significant decimals. */
export function numberText(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(Math.abs(value) >= 1000 ? 7 : 4)));
}

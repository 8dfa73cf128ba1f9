/**
 * Validation suites: a table's checks declared as data (shapes in check-types.ts), validated with
 * zod when defined so a mistake in a suite fails at startup with a ConfigError naming the check,
 * not mid-run.
 */
import pl from "nodejs-polars";
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import {
  DECODE_CHECK,
  DEFAULT_ALLOWANCE,
  TABLE_LEVEL_KINDS,
  type CheckCommon,
  type CheckInput,
  type CheckKind,
  type CheckSpec,
  type Suite,
  type SuiteInput,
  type ValidationContext,
} from "./check-types.ts";
import { describe } from "./describe.ts";
import { limitProblem, limitsProblem } from "./thresholds.ts";

export * from "./check-types.ts";
export { dtypeName } from "./describe.ts";

// ---- zod schemas: shape and ranges; cross-field rules are checked by hand below ----

const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === "function", { message: `expected ${what}` });
const column = z.string().min(1, "expected a column name");
const scalar = z.union([z.string(), z.number(), z.bigint(), z.boolean(), z.date()], {
  message: "expected a string, number, bigint, boolean or valid Date",
});
const param = z.union([scalar, fn<(c: ValidationContext) => unknown>("a value or a function of the context")]);
const list = z.union([z.array(scalar), fn<(c: ValidationContext) => unknown>("an array or a function of the context")]);
const op = z.enum(["eq", "ne", "gt", "ge", "lt", "le"]);
const count = z.number().int().min(0);
const limit = z.unknown().superRefine((v, ctx) => {
  const problem = limitProblem(v);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});
const expr = z.custom<unknown>(
  (v) => typeof v === "function" || (typeof v === "object" && v !== null && typeof (v as { alias?: unknown }).alias === "function"),
  { message: "expected a Polars expression or a function of the context returning one" },
);
const anomaly = z.strictObject({
  history: z.number().int().min(1).optional(),
  minHistory: z.number().int().min(1).optional(),
  method: z.enum(["percent", "zscore"]).optional(),
  maxChange: z.number().min(0).optional(),
  maxZ: z.number().positive().optional(),
  seasonality: z.enum(["none", "weekly"]).optional(),
  direction: z.enum(["both", "drop", "rise"]).optional(),
});

const common = {
  name: z.string().min(1, "a check needs a name"),
  severity: z.enum(["error", "warn"]).optional(),
  onFail: z.enum(["quarantine", "block"]).optional(),
  allowance: z.number().min(0).max(1).optional(),
  thresholds: z.strictObject({ warn: limit.optional(), quarantine: limit.optional(), block: limit.optional() }).optional(),
  description: z.string().optional(),
  columns: z.array(column).optional(),
};

const bodies = {
  not_null: { column },
  unique: { columns: z.array(column).min(1, "unique needs at least one column") },
  compare: { column, op, value: param },
  between: { column, min: param.optional(), max: param.optional(), closed: z.enum(["both", "left", "right", "neither"]).optional() },
  is_in: { column, values: list },
  not_in: { column, values: list },
  matches: { column, pattern: z.string().min(1) },
  str_length: { column, min: count.optional(), max: count.optional() },
  dtype: { column, dtype: z.custom<pl.DataType>((v) => v instanceof pl.DataType, { message: "expected a Polars DataType, e.g. pl.Int64" }) },
  column_compare: { left: column, op, right: column },
  foreign_key: {
    column: column.optional(),
    references: z.union([
      z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'expected "table.column" or { table, columns }'),
      z.strictObject({ table: z.string().min(1), columns: z.array(column).min(1) }),
    ]),
  },
  row_count: { min: count.optional(), max: count.optional() },
  freshness: { column, maxAgeHours: z.number().positive(), relativeTo: z.enum(["partition_end", "now"]).optional() },
  custom: { columns: z.array(column).optional(), expr: fn<(c: ValidationContext) => pl.Expr>("a function returning a Polars expression") },
  volume: { anomaly: anomaly.optional(), minRows: count.optional() },
  aggregate: {
    agg: z.enum(["count", "sum", "mean", "median", "min", "max", "std", "quantile", "null_rate", "distinct_count"]),
    column: column.optional(),
    quantile: z.number().min(0).max(1).optional(),
    where: expr.optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    anomaly: anomaly.optional(),
  },
  presence: { column, maxAbsent: z.number().min(0).max(1).optional() },
} as const;

const KINDS = Object.keys(bodies) as CheckKind[];
const schemas = Object.fromEntries(
  KINDS.map((kind) => [kind, z.strictObject({ ...common, kind: z.literal(kind), ...bodies[kind] })]),
) as unknown as Record<CheckKind, z.ZodType>;

/** Validates a suite definition and fills defaults; throws ConfigError naming the faulty check. */
export function defineSuite(input: SuiteInput): Suite {
  const declared = typeof input?.table === "object" && input.table !== null ? input.table : undefined;
  const table = declared ? declared.name : typeof input?.table === "string" && input.table ? input.table : "?";
  const key = input?.key ?? declared?.key;
  const fail = (message: string): never => {
    throw new ConfigError(`validation suite "${table}": ${message}`, { context: { table, stage: "validate" } });
  };
  const head = z
    .object({
      table: z.union([z.string().min(1), z.looseObject({ name: z.string().min(1), key: z.array(column) })]),
      key: z.array(column, { message: "a suite of a table named by a string needs its key" }),
      checks: z.array(z.unknown()),
      decodeAllowance: z.number().min(0).max(1).optional(),
    })
    .safeParse({ ...input, key });
  if (!head.success) fail(formatIssues(head.error));

  const seen = new Set<string>();
  const checks = input.checks.map((raw, i) => {
    const label = typeof (raw as { name?: unknown })?.name === "string" ? `check "${(raw as { name: string }).name}"` : `check #${i + 1}`;
    const kind = (raw as { kind?: unknown })?.kind;
    if (typeof kind !== "string" || !(KINDS as string[]).includes(kind)) {
      return fail(`${label}: unknown kind ${JSON.stringify(kind)} (expected one of ${KINDS.join(", ")})`);
    }
    const parsed = schemas[kind as CheckKind].safeParse(raw);
    if (!parsed.success) return fail(`${label} (${kind}): ${formatIssues(parsed.error)}`);
    if (raw.name === DECODE_CHECK) fail(`${label}: the name "${DECODE_CHECK}" is reserved for the built-in decode check`);
    if (seen.has(raw.name)) fail(`${label}: duplicate check name (names are quarantine reasons and must be unique)`);
    seen.add(raw.name);
    const problem = commonProblem(raw) ?? kindProblem(raw);
    if (problem) fail(`${label} (${kind}): ${problem}`);
    return normalize(raw);
  });
  return { table, key: [...(key ?? [])], checks, decodeAllowance: input.decodeAllowance ?? DEFAULT_ALLOWANCE };
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/** Rules about the fields every check has; returns a message or null. */
function commonProblem(check: CheckInput): string | null {
  const tableLevel = TABLE_LEVEL_KINDS.has(check.kind);
  const onFail = check.onFail ?? (tableLevel ? "block" : "quarantine");
  if (check.kind !== "unique" && check.kind !== "custom" && !(check.kind === "foreign_key" && check.column === undefined) && check.columns !== undefined) {
    const derived = columnsOf(check);
    if (JSON.stringify(check.columns) !== JSON.stringify(derived)) {
      return `columns is derived from the check's fields (${JSON.stringify(derived)}); omit it`;
    }
  }
  if (tableLevel && onFail === "quarantine") return `a table-level check has no rows to quarantine: use onFail "block"`;
  // 0 is what a defined block check carries, so a defined check can be spread into a new suite.
  if (check.allowance !== undefined && check.allowance !== 0 && onFail !== "quarantine") return `allowance only applies to onFail "quarantine"`;
  if (check.thresholds !== undefined) {
    if (tableLevel || onFail !== "quarantine") return `thresholds grade quarantine checks; a block check blocks on its first failing row (use onFail "quarantine" with thresholds.block)`;
    return limitsProblem(check.thresholds, check.severity ?? "error");
  }
  return null;
}

/** Rules of one kind that zod's shapes do not express; returns a message or null. */
function kindProblem(check: CheckInput): string | null {
  switch (check.kind) {
    case "between": {
      if (check.min === undefined && check.max === undefined) return "needs min, max or both";
      const { min, max } = check;
      if (min !== undefined && max !== undefined && typeof min !== "function" && typeof max !== "function") {
        if (typeof min !== typeof max || min instanceof Date !== max instanceof Date) return "min and max must be of the same type";
        if (min > max) return "min is greater than max";
      }
      return null;
    }
    case "str_length":
    case "row_count":
    case "aggregate":
      if (check.kind === "aggregate" && check.agg !== "count" && check.column === undefined) return `agg "${check.agg}" needs a column`;
      if (check.kind === "aggregate" && (check.agg === "quantile") !== (check.quantile !== undefined)) return `quantile is given with (and only with) agg "quantile"`;
      if (check.min === undefined && check.max === undefined && !(check.kind === "aggregate" && check.anomaly !== undefined)) {
        return check.kind === "aggregate" ? "needs min, max or an anomaly rule" : "needs min, max or both";
      }
      if (check.min !== undefined && check.max !== undefined && check.min > check.max) return "min is greater than max";
      return null;
    case "is_in":
    case "not_in":
      if (Array.isArray(check.values) && check.values.length === 0) return "values is empty";
      return null;
    case "matches":
      return regexProblem(check.pattern);
    case "foreign_key":
      return foreignKeyProblem(check);
    default:
      return null;
  }
}

function foreignKeyProblem(check: Extract<CheckInput, { kind: "foreign_key" }>): string | null {
  const key = columnsOf(check);
  if (key.length === 0) return "needs column, or columns for a compound key";
  const refColumns = typeof check.references === "string" ? 1 : check.references.columns.length;
  if (refColumns !== key.length) return `the key has ${key.length} column(s) but references names ${refColumns}: give { table, columns } in the key's order`;
  return null;
}

/** Compiles the pattern with Polars' own regex engine (Rust syntax differs from JS RegExp). */
function regexProblem(pattern: string): string | null {
  try {
    pl.DataFrame({ s: [""] }).lazy().select(pl.col("s").str.contains(pattern)).collectSync();
    return null;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `invalid pattern ${JSON.stringify(pattern)}: ${message.split("\n").slice(0, 4).join(" ").replace(/\s+/g, " ")}`;
  }
}

function normalize(check: CheckInput): CheckSpec {
  const tableLevel = TABLE_LEVEL_KINDS.has(check.kind);
  const onFail = check.onFail ?? (tableLevel ? "block" : "quarantine");
  const base: Omit<CheckCommon, "name"> = {
    severity: check.severity ?? "error",
    onFail,
    allowance: onFail === "quarantine" ? (check.allowance ?? DEFAULT_ALLOWANCE) : 0,
    description: check.description ?? describe(check),
    columns: columnsOf(check),
  };
  switch (check.kind) {
    case "between":
      return { ...check, ...base, closed: check.closed ?? "both" };
    case "custom":
      return { ...check, ...base, columns: check.columns ?? [] };
    default:
      return { ...check, ...base };
  }
}

function columnsOf(check: CheckInput): string[] {
  switch (check.kind) {
    case "unique":
      return [...check.columns];
    case "custom":
      return [...(check.columns ?? [])];
    case "column_compare":
      return [check.left, check.right];
    case "row_count":
    case "volume":
      return [];
    case "aggregate":
      return check.column === undefined ? [] : [check.column];
    case "foreign_key":
      return check.column !== undefined ? [check.column] : [...(check.columns ?? [])];
    default:
      return [check.column];
  }
}

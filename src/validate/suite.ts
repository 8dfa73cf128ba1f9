/**
 * Validation suites: a table's checks declared as data, validated with zod when defined so a
 * mistake in a suite fails at startup with a ConfigError naming the check, not mid-run.
 *
 * Semantics every check shares:
 * - `severity` "error" (default) acts on failures; "warn" only reports them (passed=false) and
 *   never removes rows nor blocks the partition.
 * - `onFail` "quarantine" (default for row checks) moves the failing rows out of the load with the
 *   check's name as the reason; "block" stops the whole partition (nothing of it is loaded).
 *   Table-level checks (dtype, row_count, freshness) have no rows to move: they default to, and
 *   only accept, "block".
 * - `allowance` (quarantine only, default {@link DEFAULT_ALLOWANCE} = 0.05): the largest fraction of
 *   the partition's rows allowed to fail. Up to it the failing rows are quarantined and the rest
 *   loads; above it the check blocks the partition instead: a source that suddenly breaks 30% of
 *   its records is an incident to look at, not noise to quietly drop.
 * - Nulls, as in pandera: value checks (compare, between, is_in, not_in, matches, str_length,
 *   column_compare, foreign_key) treat a null as passing, so "is it present" and "is it valid" are
 *   separate checks and a null is reported once, by not_null. `unique` follows SQL: a row with a
 *   null in any of its columns is never a duplicate. A custom expression that yields null passes.
 */
import pl from "nodejs-polars";
import { z } from "zod";
import type { PartitionWindow } from "../core/dates.ts";
import { ConfigError } from "../core/errors.ts";
import type { FailureAction, Severity } from "./types.ts";

/** Largest fraction of rows a quarantine check may fail before it blocks the partition. */
export const DEFAULT_ALLOWANCE = 0.05;

/** Name of the built-in check that reports records the extract stage could not decode. */
export const DECODE_CHECK = "decodes";

/** What a check's parameters may depend on: the partition being validated and reference data. */
export interface ValidationContext {
  window: PartitionWindow;
  /**
   * Reference values for foreign_key checks, keyed `${table}.${column}` (e.g. "users.user_id"),
   * read from the warehouse by the caller. Missing values make an error-severity foreign_key check
   * throw a ConfigError, and a warn-severity one report itself as skipped (passed, with a detail).
   */
  foreignKeys?: Record<string, pl.Series | readonly unknown[]>;
}

/** A literal a check compares against. Dates compare against Datetime and Date columns. */
export type Scalar = string | number | bigint | boolean | Date;
/** A parameter: a plain value, or a function of the validation context (e.g. the window). */
export type Param<T> = T | ((context: ValidationContext) => T);
export type CompareOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";
/** Which ends of a `between` range are inclusive. */
export type Closed = "both" | "left" | "right" | "neither";

/** Fields every check declares (input form: defaults not yet filled). */
export interface CheckCommonInput {
  /** Unique within the suite; it is the quarantine reason, so name the field and the rule. */
  name: string;
  severity?: Severity;
  onFail?: FailureAction;
  allowance?: number;
  /** For humans reading run summaries; defaults to a sentence derived from the check. */
  description?: string;
  /**
   * Derived from the check's fields; may be given (it must then match), so that a defined check
   * can be spread into a new suite: `{ ...check, allowance: 0.2 }`.
   */
  columns?: string[];
}

/** Fields every check carries once its suite is defined. */
export interface CheckCommon {
  name: string;
  severity: Severity;
  onFail: FailureAction;
  /** Fraction of rows allowed to fail (quarantine checks); 0 for block checks. */
  allowance: number;
  description: string;
  /** Every column the check reads, in a stable order (for reports and samples). */
  columns: string[];
}

export interface NotNullCheck { kind: "not_null"; column: string }
/** A row fails when the combination of its values in `columns` occurs more than once. */
export interface UniqueCheck { kind: "unique"; columns: string[] }
export interface CompareCheck { kind: "compare"; column: string; op: CompareOp; value: Param<Scalar> }
/** At least one bound; `closed` defaults to "both" (inclusive). */
export interface BetweenCheck { kind: "between"; column: string; min?: Param<Scalar>; max?: Param<Scalar>; closed: Closed }
export interface IsInCheck { kind: "is_in"; column: string; values: Param<readonly Scalar[]> }
export interface NotInCheck { kind: "not_in"; column: string; values: Param<readonly Scalar[]> }
/** `pattern` is a Rust regex (Polars' syntax: no look-around); unanchored unless you anchor it. */
export interface MatchesCheck { kind: "matches"; column: string; pattern: string }
/** Length in characters (not bytes), inclusive bounds. */
export interface StrLengthCheck { kind: "str_length"; column: string; min?: number; max?: number }
/** Table-level: the column exists and its Polars dtype equals `dtype` (time unit and zone included). */
export interface DtypeCheck { kind: "dtype"; column: string; dtype: pl.DataType }
/** Row-level comparison of two columns: `left op right`, e.g. session_end ge session_start. */
export interface ColumnCompareCheck { kind: "column_compare"; left: string; op: CompareOp; right: string }
/** Values must be present in another table's column, given in context.foreignKeys[references]. */
export interface ForeignKeyCheck { kind: "foreign_key"; column: string; references: string }
/** Table-level: the partition's row count is within [min, max]. */
export interface RowCountCheck { kind: "row_count"; min?: number; max?: number }
/** Table-level: the newest value of `column` is at most `maxAgeHours` before the window's end. */
export interface FreshnessCheck { kind: "freshness"; column: string; maxAgeHours: number }
/** `expr` returns a boolean expression that is true for passing rows; `columns` feed samples. */
export interface CustomCheck { kind: "custom"; columns: string[]; expr: (context: ValidationContext) => pl.Expr }

type CheckBody =
  | NotNullCheck | UniqueCheck | CompareCheck | BetweenCheck | IsInCheck | NotInCheck | MatchesCheck
  | StrLengthCheck | DtypeCheck | ColumnCompareCheck | ForeignKeyCheck | RowCountCheck | FreshnessCheck
  | CustomCheck;

/** A check as stored in a defined suite (defaults filled). */
export type CheckSpec = CheckCommon & CheckBody;
export type CheckKind = CheckSpec["kind"];

type BodyInput =
  | Exclude<CheckBody, BetweenCheck | CustomCheck>
  | (Omit<BetweenCheck, "closed"> & { closed?: Closed })
  | (Omit<CustomCheck, "columns"> & { columns?: string[] });

/** A check as written in a suite definition. */
export type CheckInput = CheckCommonInput & BodyInput;

/** A suite as written: the table, its row key (for samples) and its checks. */
export interface SuiteInput {
  /** The table the suite validates: its declaration (the key then comes from it), or its name. */
  table: string | { name: string; key: string[] };
  /** The row key shown with samples; default: the declared table's key. */
  key?: string[];
  checks: CheckInput[];
  /** Allowance of the built-in "decodes" check (records the extract stage could not decode). */
  decodeAllowance?: number;
}

/** A defined suite: every check validated and its defaults filled. */
export interface Suite {
  table: string;
  key: string[];
  checks: CheckSpec[];
  decodeAllowance: number;
}

/** Checks judged on the table as a whole; they cannot quarantine rows. */
export const TABLE_LEVEL_KINDS: ReadonlySet<CheckKind> = new Set<CheckKind>(["dtype", "row_count", "freshness"]);

// ---- zod schemas: shape and ranges; cross-field rules are checked by hand below ----

const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === "function", { message: `expected ${what}` });
const column = z.string().min(1, "expected a column name");
const scalar = z.union([z.string(), z.number(), z.bigint(), z.boolean(), z.date()], {
  message: "expected a string, number, bigint, boolean or valid Date",
});
const param = z.union([scalar, fn<(c: ValidationContext) => Scalar>("a value or a function of the context")]);
const list = z.union([z.array(scalar), fn<(c: ValidationContext) => Scalar[]>("an array or a function of the context")]);
const op = z.enum(["eq", "ne", "gt", "ge", "lt", "le"]);
const count = z.number().int().min(0);

const common = {
  name: z.string().min(1, "a check needs a name"),
  severity: z.enum(["error", "warn"]).optional(),
  onFail: z.enum(["quarantine", "block"]).optional(),
  allowance: z.number().min(0).max(1).optional(),
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
  foreign_key: { column, references: z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'expected "table.column"') },
  row_count: { min: count.optional(), max: count.optional() },
  freshness: { column, maxAgeHours: z.number().positive() },
  custom: { columns: z.array(column).optional(), expr: fn<(c: ValidationContext) => pl.Expr>("a function returning a Polars expression") },
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
    const problem = crossFieldProblem(raw);
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

/** Rules zod's shapes do not express; returns a message or null. */
function crossFieldProblem(check: CheckInput): string | null {
  const tableLevel = TABLE_LEVEL_KINDS.has(check.kind);
  const onFail = check.onFail ?? (tableLevel ? "block" : "quarantine");
  if (check.kind !== "unique" && check.kind !== "custom" && check.columns !== undefined) {
    const derived = columnsOf(check);
    if (JSON.stringify(check.columns) !== JSON.stringify(derived)) {
      return `columns is derived from the check's fields (${JSON.stringify(derived)}); omit it`;
    }
  }
  if (tableLevel && onFail === "quarantine") return `a table-level check has no rows to quarantine: use onFail "block"`;
  if (check.allowance !== undefined && onFail !== "quarantine") return `allowance only applies to onFail "quarantine"`;
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
      if (check.min === undefined && check.max === undefined) return "needs min, max or both";
      if (check.min !== undefined && check.max !== undefined && check.min > check.max) return "min is greater than max";
      return null;
    case "is_in":
    case "not_in":
      if (Array.isArray(check.values) && check.values.length === 0) return "values is empty";
      return null;
    case "matches":
      return regexProblem(check.pattern);
    default:
      return null;
  }
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
  const onFail: FailureAction = check.onFail ?? (tableLevel ? "block" : "quarantine");
  const base = {
    severity: check.severity ?? "error",
    onFail,
    allowance: onFail === "quarantine" ? (check.allowance ?? DEFAULT_ALLOWANCE) : 0,
    description: check.description ?? describe(check),
    columns: columnsOf(check),
  } satisfies Omit<CheckCommon, "name">;
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
      return [];
    default:
      return [check.column];
  }
}

const OP_TEXT: Record<CompareOp, string> = { eq: "=", ne: "!=", gt: ">", ge: ">=", lt: "<", le: "<=" };

function show(value: unknown): string {
  if (typeof value === "function") return "(depends on the partition)";
  if (value instanceof Date) return value.toISOString();
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** A default sentence for a check without a description. */
function describe(check: CheckInput): string {
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
    case "foreign_key": return `${check.column} must exist in ${check.references} (nulls pass)`;
    case "row_count": return `the partition must have ${check.min ?? 0} to ${check.max ?? "any number of"} rows`;
    case "freshness": return `the newest ${check.column} must be at most ${check.maxAgeHours} h before the partition's end`;
    case "custom": return `custom rule over ${(check.columns ?? []).join(", ") || "the row"}`;
  }
}

/** "Datetime(us,UTC)" rather than Polars' "DataType(Datetime(us,UTC))". */
export function dtypeName(dtype: pl.DataType): string {
  const text = String(dtype);
  const m = /^DataType\((.*)\)$/.exec(text);
  return m?.[1] ?? text;
}

/**
 * Foreign keys as a join: the frame is left-joined (order kept) with the reference table's distinct
 * keys plus a marker column, inside the validation pass; a row whose key is complete and finds no
 * marker fails. The reference rows stay in Polars (a lazy scan of the lake): nothing is shipped
 * into JavaScript, and compound keys work like single ones.
 */
import pl from "nodejs-polars";
import type { CheckSpec, ValidationContext } from "./check-types.ts";
import { ParamResolver, referenceKey, referenceOf, type FrameSchema, type ReferenceJoin } from "./row-checks.ts";

/** How a foreign_key check runs on this context. */
export type ForeignKeyPlan =
  | { kind: "join"; join: ReferenceJoin; fail: pl.Expr }
  /** context.foreignKeys has the values (single column): compileRowCheck tests membership. */
  | { kind: "values" }
  | { kind: "skipped"; detail: string };

/** Plans a foreign_key check: a join against context.references, values, or skipped with the reason. */
export function planForeignKey(check: CheckSpec & { kind: "foreign_key" }, index: number, schema: FrameSchema, context: ValidationContext, table: string, helper: string): ForeignKeyPlan {
  const ref = referenceOf(check);
  const references = context.references;
  if (references !== undefined && Object.hasOwn(references, ref.table)) {
    const rows = references[ref.table];
    if (rows === null || rows === undefined) {
      return { kind: "skipped", detail: `skipped: the reference table ${ref.table} does not exist (no partition of it is loaded yet), so no key could be looked up` };
    }
    return joinPlan(check, ref, rows, schema, new ParamResolver(check, context, table), `${helper}r${index}_`);
  }
  if (context.foreignKeys?.[referenceKey(check)] !== undefined) return { kind: "values" };
  // A warning without reference data (e.g. validate() called without it) is reported as skipped;
  // an error-severity one throws in compileRowCheck instead.
  if (check.severity === "warn") return { kind: "skipped", detail: `skipped: no reference values for ${referenceKey(check)} in the validation context` };
  return { kind: "values" };
}

function joinPlan(
  check: CheckSpec & { kind: "foreign_key" },
  ref: { table: string; columns: string[] },
  rows: pl.LazyDataFrame | pl.DataFrame,
  schema: FrameSchema,
  p: ParamResolver,
  prefix: string,
): ForeignKeyPlan {
  const lazy = isLazy(rows) ? rows : rows.lazy();
  let available: string[];
  try {
    available = lazy.columns;
  } catch (error) {
    throw p.bad(`the reference table ${ref.table} cannot be read: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  const missing = ref.columns.filter((c) => !available.includes(c));
  if (missing.length > 0) throw p.bad(`the reference table ${ref.table} has no column ${missing.join(", ")} (it has ${available.join(", ")})`);
  const rightOn = ref.columns.map((_, k) => `${prefix}${k}`);
  const marker = `${prefix}m`;
  // The reference keys take the frame's dtypes (a join needs equal ones); values that do not
  // convert cannot match any row, so they are dropped rather than failing the cast.
  const keys = ref.columns.map((c, k) => {
    const dtype = schema[check.columns[k] as string];
    return (dtype ? pl.col(c).cast(dtype, false) : pl.col(c)).alias(rightOn[k] as string);
  });
  const right = lazy.select(...keys).dropNulls().unique().withColumns(pl.lit(true).alias(marker));
  const complete = check.columns.map((c) => pl.col(c).isNotNull()).reduce((a, b) => a.and(b));
  return { kind: "join", join: { right, leftOn: [...check.columns], rightOn, marker }, fail: complete.and(pl.col(marker).isNull()) };
}

function isLazy(rows: pl.LazyDataFrame | pl.DataFrame): rows is pl.LazyDataFrame {
  return typeof (rows as { collectSync?: unknown }).collectSync === "function";
}

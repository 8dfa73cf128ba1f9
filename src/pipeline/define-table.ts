/**
 * Tables declared once. Where a table's columns are a record's fields, its spec is derived from the
 * zod record (names, DuckDB types, the key), so a job does not list the same columns in a zod
 * object, a TableSpec and again in checks. Hand-written specs go through the same checks.
 */
import type { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { deriveColumns, type ColumnKind } from "../extract/index.ts";
import type { ColumnSpec, TableSpec } from "../load/types.ts";

const DUCKDB_TYPE: Record<Exclude<ColumnKind, "list">, string> = { utf8: "VARCHAR", int64: "BIGINT", float64: "DOUBLE", bool: "BOOLEAN", timestamp: "TIMESTAMPTZ", json: "VARCHAR" };

/** The DuckDB type of a derived column: a list of objects is a list of structs. */
function duckdbType(column: { kind: ColumnKind; fields?: Array<{ name: string; kind: ColumnKind }> }): string {
  if (column.kind !== "list") return DUCKDB_TYPE[column.kind];
  return `STRUCT(${(column.fields ?? []).map((f) => `"${f.name.replaceAll('"', '""')}" ${duckdbType(f)}`).join(", ")})[]`;
}
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How a table derived from a record is declared. */
export interface RecordTableOptions {
  name: string;
  key: string[];
  partitioned: boolean;
  versionColumn?: string;
  /** See TableSpec: the largest share of a loaded partition a rerun may remove (default 0.5), and what a larger shrink does. */
  maxShrink?: number;
  onShrink?: "fail" | "warn";
  /** Record fields the table does not keep (by column name). */
  omit?: string[];
  /** Columns the table has beyond the record's (computed by the job), appended in order. */
  extra?: ColumnSpec[];
  /** Keep the record's undeclared fields in a JSON column `_extra` (default true, as sources keep them by default). */
  keepUnknown?: boolean;
}

/** The DuckDB columns of a zod record: one per leaf field, named as the extract stage names them. */
export function recordColumns(record: z.ZodObject): ColumnSpec[] {
  return deriveColumns(record).columns.map((c) => ({ name: c.name, type: duckdbType(c) }));
}

/** A table whose columns are a record's fields (minus `omit`, plus `extra`), checked like defineTable. */
export function tableFromRecord(record: z.ZodObject, options: RecordTableOptions): TableSpec {
  const omit = new Set(options.omit ?? []);
  const unknown = options.keepUnknown === false ? [] : [{ name: "_extra", type: "JSON" }];
  const columns = [...recordColumns(record).filter((c) => !omit.has(c.name)), ...(options.extra ?? []), ...unknown];
  const { omit: _omit, extra: _extra, keepUnknown: _keep, ...rest } = options;
  return defineTable({ ...rest, columns });
}

/** Checks a table declaration; ConfigError naming the table and what is wrong. */
export function defineTable(spec: TableSpec): TableSpec {
  const fail = (message: string): never => {
    throw new ConfigError(`table "${spec.name}": ${message}`, { context: { table: spec.name } });
  };
  if (!IDENT.test(spec.name ?? "")) fail(`the name must be a plain identifier (letters, digits, underscore)`);
  const names = spec.columns.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) fail(`column "${dup}" is declared twice`);
  for (const n of names) if (!IDENT.test(n)) fail(`column "${n}" is not a plain identifier`);
  if (spec.key.length === 0) fail("a table needs a key (the columns MERGE matches rows on)");
  for (const k of spec.key) if (!names.includes(k)) fail(`key column "${k}" is not one of its columns (${names.join(", ")})`);
  if (spec.partitioned && !names.includes("dt")) fail(`a partitioned table needs a dt DATE column`);
  if (spec.versionColumn !== undefined && !names.includes(spec.versionColumn)) fail(`versionColumn "${spec.versionColumn}" is not one of its columns`);
  if (spec.deleteWhen !== undefined && !names.includes(spec.deleteWhen.column)) fail(`deleteWhen.column "${spec.deleteWhen.column}" is not one of its columns`);
  if (spec.maxShrink !== undefined && !(spec.maxShrink >= 0 && spec.maxShrink <= 1)) fail(`maxShrink ${String(spec.maxShrink)} must be a share from 0 to 1 (1: no limit)`);
  if (spec.onShrink !== undefined && spec.onShrink !== "fail" && spec.onShrink !== "warn") fail(`onShrink "${String(spec.onShrink)}" must be "fail" or "warn"`);
  return spec;
}

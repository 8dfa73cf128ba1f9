/**
 * A record schema's columns: derived from a zod object schema (nested objects flattened to their
 * leaves), with their Arrow types. The decoder (record-decoder.ts) fills them.
 */
import { Bool, Field, Float64, Int32, Int64, List, Schema, Struct, TimestampMicrosecond, Utf8, type DataType } from "apache-arrow";
import type { z } from "zod";
import { ConfigError } from "../core/errors.ts";

/**
 * Arrow type of a declared column. `json` columns hold the JSON text of arrays/records/unknown
 * values; `list` columns an array of objects as List(Struct) (its `fields`).
 */
export type ColumnKind = "utf8" | "int64" | "float64" | "bool" | "timestamp" | "json" | "list";

/** What a `json` column accepts: an array, an object (record/map) or any value. */
export type JsonShape = "array" | "object" | "any";

/** One output column: a leaf of the (possibly nested) record schema. Plain data (worker-transferable). */
export interface ColumnSpec {
  /** Column name in the frame: the leaf key, or the path joined with `_` when leaf keys collide. */
  name: string;
  /** Keys from the record root to the leaf. */
  path: string[];
  kind: ColumnKind;
  /** Only for `json` columns. */
  json?: JsonShape;
  /** Only for `list` columns: the fields of each element (scalars; nested values as JSON text). */
  fields?: ColumnSpec[];
}

/** Nested objects declared loose (catchall) do not report drift; their paths are listed here. */
export interface DerivedColumns {
  columns: ColumnSpec[];
  /** Dotted paths of objects whose unknown keys are expected (z.looseObject / catchall). */
  looseObjects: string[];
}

/** Columns every extracted frame carries after the declared ones. */
export const META_COLUMNS = ["_page", "_row", "_error"] as const;

/** The column that keeps, as JSON, the fields a record has beyond its schema (unknownFields: "keep"). */
export const EXTRA_COLUMN = "_extra";

const withExtra = new WeakMap<readonly ColumnSpec[], ColumnSpec[]>();

/** The columns plus `_extra` (the same array for the same columns, so the decoder's plan is cached). */
export function withExtraColumn(columns: readonly ColumnSpec[]): ColumnSpec[] {
  let out = withExtra.get(columns);
  if (!out) withExtra.set(columns, (out = [...columns, { name: EXTRA_COLUMN, path: ["\u0000extra"], kind: "json", json: "object" }]));
  return out;
}

interface ZodDefLike {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  shape?: Record<string, ZodLike>;
  catchall?: ZodLike;
  format?: string;
  checks?: ZodLike[];
  check?: string;
  values?: unknown[];
  entries?: Record<string, unknown>;
  getter?: () => ZodLike;
  element?: ZodLike;
}
interface ZodLike {
  _zod: { def: ZodDefLike };
}

const INTEGER_FORMATS = new Set(["safeint", "int32", "uint32", "int64", "uint64"]);
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "catch", "readonly", "nonoptional", "success"]);

function unwrap(t: ZodLike): ZodLike {
  for (let depth = 0; depth < 32; depth++) {
    const def = t._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) t = def.innerType;
    else if (def.type === "pipe" && def.in) t = def.in;
    else if (def.type === "lazy" && def.getter) t = def.getter();
    else return t;
  }
  return t;
}

function hasFormat(def: ZodDefLike, accept: (format: string) => boolean): boolean {
  if (def.format !== undefined && accept(def.format)) return true;
  for (const c of def.checks ?? []) {
    const f = c._zod.def.format;
    if (f !== undefined && accept(f)) return true;
  }
  return false;
}

/** A leaf's column kind; an array of objects becomes a `list` of their (scalar) fields. */
function leafKind(def: ZodDefLike): { kind: ColumnKind; json?: JsonShape; fields?: ColumnSpec[] } {
  if (def.type === "array" && def.element) {
    const element = unwrap(def.element)._zod.def;
    if (element.type === "object") return { kind: "list", fields: elementFields(element) };
  }
  return scalarKind(def);
}

/** The fields of an array's object elements: scalars keep their kind, anything nested is JSON text. */
function elementFields(element: ZodDefLike): ColumnSpec[] {
  return Object.entries(element.shape ?? {}).map(([key, type]) => {
    const leaf = scalarKind(unwrap(type)._zod.def);
    const nested = unwrap(type)._zod.def.type === "object";
    const col: ColumnSpec = { name: key, path: [key], kind: nested ? "json" : leaf.kind };
    if (nested) col.json = "object";
    else if (leaf.json !== undefined) col.json = leaf.json;
    return col;
  });
}

function scalarKind(def: ZodDefLike): { kind: ColumnKind; json?: JsonShape } {
  switch (def.type) {
    case "string":
      return { kind: hasFormat(def, (f) => f === "datetime") ? "timestamp" : "utf8" };
    case "number":
      return { kind: hasFormat(def, (f) => INTEGER_FORMATS.has(f)) ? "int64" : "float64" };
    case "int":
    case "bigint":
      return { kind: "int64" };
    case "boolean":
      return { kind: "bool" };
    case "enum": {
      const values = Object.values(def.entries ?? {});
      return values.every((v) => typeof v === "string") ? { kind: "utf8" } : { kind: "json", json: "any" };
    }
    case "literal": {
      const values = def.values ?? [];
      if (values.length > 0 && values.every((v) => typeof v === "string")) return { kind: "utf8" };
      if (values.length > 0 && values.every((v) => typeof v === "boolean")) return { kind: "bool" };
      if (values.length > 0 && values.every((v) => typeof v === "number"))
        return { kind: values.every((v) => Number.isInteger(v)) ? "int64" : "float64" };
      return { kind: "json", json: "any" };
    }
    case "array":
    case "tuple":
    case "set":
      return { kind: "json", json: "array" };
    case "record":
    case "map":
      return { kind: "json", json: "object" };
    default:
      // unknown, any, union, ...: keep the JSON text, a later stage can parse it
      return { kind: "json", json: "any" };
  }
}

/** Derives the frame's columns from a zod object schema (nested objects flattened to their leaves). */
export function columnsFromSchema(schema: z.ZodObject): ColumnSpec[] {
  return deriveColumns(schema).columns;
}

const derivedBySchema = new WeakMap<object, DerivedColumns>();

/**
 * Like columnsFromSchema, plus the nested objects declared loose (no drift reported under them).
 * Cached per schema object: child sources derive them once per listing.
 */
export function deriveColumns(schema: z.ZodObject): DerivedColumns {
  const cached = derivedBySchema.get(schema);
  if (cached) return cached;
  const derived = deriveColumnsUncached(schema);
  derivedBySchema.set(schema, derived);
  return derived;
}

function deriveColumnsUncached(schema: z.ZodObject): DerivedColumns {
  const leaves: Array<{ path: string[]; kind: ColumnKind; json?: JsonShape; fields?: ColumnSpec[] }> = [];
  const looseObjects: string[] = [];
  const walk = (obj: ZodLike, prefix: string[]): void => {
    const def = obj._zod.def;
    if (def.catchall && unwrap(def.catchall)._zod.def.type !== "never") looseObjects.push(prefix.join("."));
    for (const [key, fieldType] of Object.entries(def.shape ?? {})) {
      const inner = unwrap(fieldType);
      const path = [...prefix, key];
      if (inner._zod.def.type === "object") walk(inner, path);
      else leaves.push({ path, ...leafKind(inner._zod.def) });
    }
  };
  const root = unwrap(schema as unknown as ZodLike);
  if (root._zod.def.type !== "object") throw new ConfigError("a source's record schema must be a z.object");
  walk(root, []);

  const byLeafKey = new Map<string, number>();
  for (const l of leaves) {
    const k = l.path[l.path.length - 1]!;
    byLeafKey.set(k, (byLeafKey.get(k) ?? 0) + 1);
  }
  const columns: ColumnSpec[] = leaves.map((l) => {
    const leafKey = l.path[l.path.length - 1]!;
    const collides = (byLeafKey.get(leafKey) ?? 0) > 1 && l.path.length > 1;
    const col: ColumnSpec = { name: collides ? l.path.join("_") : leafKey, path: l.path, kind: l.kind };
    if (l.json !== undefined) col.json = l.json;
    if (l.fields !== undefined) col.fields = l.fields;
    return col;
  });
  const seen = new Set<string>([...META_COLUMNS, EXTRA_COLUMN]);
  for (const c of columns) {
    if (seen.has(c.name)) {
      throw new ConfigError(`schema field ${c.path.join(".")} maps to column "${c.name}", which is already taken`, {
        hint: "rename the field or nest it differently; _page, _row, _error and _extra are reserved",
      });
    }
    seen.add(c.name);
  }
  return { columns, looseObjects };
}

/** The Arrow schema of a decoded batch: declared columns, then _page, _row, _error. */
export function arrowSchema(columns: readonly ColumnSpec[]): Schema {
  const fields = columns.map((c) => new Field(c.name, arrowTypeOf(c), true));
  fields.push(new Field("_page", new Int32(), false), new Field("_row", new Int32(), false), new Field("_error", new Utf8(), true));
  return new Schema(fields);
}

/** The Arrow type of a column: List(Struct(fields)) for a list column. */
export function arrowTypeOf(column: ColumnSpec): DataType {
  if (column.kind !== "list") return arrowType(column.kind);
  const struct = new Struct((column.fields ?? []).map((f) => new Field(f.name, arrowTypeOf(f), true)));
  return new List(new Field("item", struct, true));
}

/** The Arrow type of a scalar column kind. */
export function arrowType(kind: Exclude<ColumnKind, "list">): DataType {
  switch (kind) {
    case "utf8":
    case "json":
      return new Utf8();
    case "int64":
      return new Int64();
    case "float64":
      return new Float64();
    case "bool":
      return new Bool();
    case "timestamp":
      return new TimestampMicrosecond("UTC");
  }
}

/**
 * Records into Arrow: column derivation from a zod object schema and a hand-built, type-only
 * decoder (decode, not validate) from parsed JSON records to an Arrow RecordBatch.
 *
 * Why by hand: apache-arrow's vectorFromArray/tableFromArrays is ~3x slower and dictionary-encodes
 * strings (separately built batches then cannot be concatenated and Polars sees Categorical).
 */
import {
  Bool,
  Field,
  Float64,
  Int32,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  makeData,
  tableToIPC,
  type DataType,
} from "apache-arrow";
import type { Data } from "apache-arrow";
import pl from "nodejs-polars";
import type { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { parseRfc3339, type TimestampParts } from "./timestamp.ts";

/** Arrow type of a declared column. `json` columns hold the JSON text of arrays/records/unknown values. */
export type ColumnKind = "utf8" | "int64" | "float64" | "bool" | "timestamp" | "json";

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
}

/** Nested objects declared loose (catchall) do not report drift; their paths are listed here. */
export interface DerivedColumns {
  columns: ColumnSpec[];
  /** Dotted paths of objects whose unknown keys are expected (z.looseObject / catchall). */
  looseObjects: string[];
}

/** Columns every extracted frame carries after the declared ones. */
export const META_COLUMNS = ["_page", "_row", "_error"] as const;

// ---------------------------------------------------------------------------------------------
// Column derivation

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

function leafKind(def: ZodDefLike): { kind: ColumnKind; json?: JsonShape } {
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

/** Like columnsFromSchema, plus the nested objects declared loose (no drift reported under them). */
export function deriveColumns(schema: z.ZodObject): DerivedColumns {
  const leaves: Array<{ path: string[]; kind: ColumnKind; json?: JsonShape }> = [];
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
    return col;
  });
  const seen = new Set<string>(META_COLUMNS);
  for (const c of columns) {
    if (seen.has(c.name)) {
      throw new ConfigError(`schema field ${c.path.join(".")} maps to column "${c.name}", which is already taken`, {
        hint: "rename the field or nest it differently; _page, _row and _error are reserved",
      });
    }
    seen.add(c.name);
  }
  return { columns, looseObjects };
}

/** The Arrow schema of a decoded batch: declared columns, then _page, _row, _error. */
export function arrowSchema(columns: readonly ColumnSpec[]): Schema {
  const fields = columns.map((c) => new Field(c.name, arrowType(c.kind), true));
  fields.push(new Field("_page", new Int32(), false), new Field("_row", new Int32(), false), new Field("_error", new Utf8(), true));
  return new Schema(fields);
}

function arrowType(kind: ColumnKind): DataType {
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

// ---------------------------------------------------------------------------------------------
// Decoding

const K_UTF8 = 0;
const K_INT = 1;
const K_FLOAT = 2;
const K_BOOL = 3;
const K_TS = 4;
const K_JSON = 5;
const K_OBJECT = 6;

/** A node of the decode tree: a leaf column or a nested object with its own children. */
interface Node {
  kind: number;
  /** Column index for leaves. */
  col: number;
  /** Dotted path, used in error messages and drift paths. */
  field: string;
  json: JsonShape;
  children: Map<string, Node> | null;
  loose: boolean;
}

interface Plan {
  root: Map<string, Node>;
  rootLoose: boolean;
  schema: Schema;
  columns: readonly ColumnSpec[];
}

const KIND_CODE: Record<ColumnKind, number> = { utf8: K_UTF8, int64: K_INT, float64: K_FLOAT, bool: K_BOOL, timestamp: K_TS, json: K_JSON };

const plans = new WeakMap<readonly ColumnSpec[], Plan>();

function planFor(columns: readonly ColumnSpec[], looseObjects: readonly string[] = []): Plan {
  const cached = plans.get(columns);
  if (cached) return cached;
  const loose = new Set(looseObjects);
  const root = new Map<string, Node>();
  columns.forEach((c, col) => {
    let level = root;
    for (let d = 0; d < c.path.length - 1; d++) {
      const key = c.path[d]!;
      let node = level.get(key);
      if (!node) {
        const field = c.path.slice(0, d + 1).join(".");
        node = { kind: K_OBJECT, col: -1, field, json: "any", children: new Map(), loose: loose.has(field) };
        level.set(key, node);
      }
      level = node.children!;
    }
    level.set(c.path[c.path.length - 1]!, { kind: KIND_CODE[c.kind], col, field: c.path.join("."), json: c.json ?? "any", children: null, loose: false });
  });
  const plan: Plan = { root, rootLoose: loose.has(""), schema: arrowSchema(columns), columns };
  plans.set(columns, plan);
  return plan;
}

/** Registers which nested objects are loose for a column list (drift is not reported under them). */
export function registerLooseObjects(columns: readonly ColumnSpec[], looseObjects: readonly string[]): void {
  plans.delete(columns);
  planFor(columns, looseObjects);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/** How a wrong value is quoted in `_error`: `string "42"`, `number 4.5`, `boolean true`, `array`, `object`. */
function describe(v: unknown): string {
  switch (typeof v) {
    case "string":
      return `string ${quote(v)}`;
    case "number":
      return `number ${String(v)}`;
    case "boolean":
      return `boolean ${String(v)}`;
    default:
      return Array.isArray(v) ? "array" : typeof v;
  }
}

/** Per-column output buffers of one batch. */
interface Builder {
  kind: number;
  validity: Uint8Array;
  valid: number;
  /** utf8/json: the strings, undefined for null. */
  strings: Array<string | undefined> | null;
  /** int64/timestamp: two 32-bit halves per value (little endian), written without BigInt. */
  i32: Int32Array | null;
  f64: Float64Array | null;
  bits: Uint8Array | null;
}

const TWO32 = 4294967296;
const MAX_SAFE_MICROS_SECONDS = 9_000_000_000; // |seconds| * 1e6 + 999999 stays below 2^53

function newBuilder(kind: number, n: number): Builder {
  const bytes = (n + 7) >> 3;
  return {
    kind,
    validity: new Uint8Array(bytes),
    valid: 0,
    strings: kind === K_UTF8 || kind === K_JSON ? new Array<string | undefined>(n) : null,
    i32: kind === K_INT || kind === K_TS ? new Int32Array(n * 2) : null,
    f64: kind === K_FLOAT ? new Float64Array(n) : null,
    bits: kind === K_BOOL ? new Uint8Array(bytes) : null,
  };
}

/** Writes a safe integer as a little-endian int64 into two int32 slots (no BigInt per value). */
function putInt64(i32: Int32Array, row: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  i32[row * 2] = (v - hi * TWO32) | 0;
  i32[row * 2 + 1] = hi | 0;
}

/** The decoder's mutable state for one batch. */
interface DecodeState {
  builders: Builder[];
  errors: Array<string | undefined>;
  drift: Set<string> | null;
  ts: TimestampParts;
}

function setError(st: DecodeState, row: number, message: string): void {
  if (st.errors[row] === undefined) st.errors[row] = message;
}

function decodeObject(st: DecodeState, level: Map<string, Node>, obj: Record<string, unknown>, row: number, prefix: string, loose: boolean): void {
  for (const key in obj) {
    const node = level.get(key);
    if (node === undefined) {
      if (st.drift !== null && !loose) st.drift.add(prefix + key);
      continue;
    }
    const v = obj[key];
    if (v === null || v === undefined) continue;
    if (node.kind === K_OBJECT) {
      if (typeof v === "object" && !Array.isArray(v)) decodeObject(st, node.children!, v as Record<string, unknown>, row, `${node.field}.`, node.loose);
      else setError(st, row, `${node.field}: expected object, got ${describe(v)}`);
      continue;
    }
    const b = st.builders[node.col]!;
    switch (node.kind) {
      case K_UTF8:
        if (typeof v === "string") {
          b.strings![row] = v;
        } else {
          setError(st, row, `${node.field}: expected string, got ${describe(v)}`);
          continue;
        }
        break;
      case K_INT:
        if (typeof v === "number" && Number.isSafeInteger(v)) {
          putInt64(b.i32!, row, v);
        } else {
          setError(st, row, typeof v === "number" ? `${node.field}: expected integer, got ${String(v)}` : `${node.field}: expected integer, got ${describe(v)}`);
          continue;
        }
        break;
      case K_FLOAT:
        if (typeof v === "number") {
          b.f64![row] = v;
        } else {
          setError(st, row, `${node.field}: expected number, got ${describe(v)}`);
          continue;
        }
        break;
      case K_BOOL:
        if (typeof v === "boolean") {
          if (v) b.bits![row >> 3]! |= 1 << (row & 7);
        } else {
          setError(st, row, `${node.field}: expected boolean, got ${describe(v)}`);
          continue;
        }
        break;
      case K_TS:
        if (typeof v !== "string") {
          setError(st, row, `${node.field}: expected timestamp string, got ${describe(v)}`);
          continue;
        }
        if (!parseRfc3339(v, st.ts)) {
          setError(st, row, `${node.field}: unparseable timestamp ${quote(v)}`);
          continue;
        }
        if (st.ts.seconds > -MAX_SAFE_MICROS_SECONDS && st.ts.seconds < MAX_SAFE_MICROS_SECONDS) {
          putInt64(b.i32!, row, st.ts.seconds * 1_000_000 + st.ts.micros);
        } else {
          // far past/future (beyond year ~2255): exact via BigInt, rare
          new BigInt64Array(b.i32!.buffer, b.i32!.byteOffset, b.i32!.length / 2)[row] = BigInt(st.ts.seconds) * 1_000_000n + BigInt(st.ts.micros);
        }
        break;
      case K_JSON: {
        const shape = node.json;
        const isArray = Array.isArray(v);
        if (shape === "array" && !isArray) {
          setError(st, row, `${node.field}: expected array, got ${describe(v)}`);
          continue;
        }
        if (shape === "object" && (typeof v !== "object" || isArray)) {
          setError(st, row, `${node.field}: expected object, got ${describe(v)}`);
          continue;
        }
        b.strings![row] = JSON.stringify(v);
        break;
      }
    }
    b.validity[row >> 3]! |= 1 << (row & 7);
    b.valid++;
  }
}

/** Builds an Arrow Utf8 Data from strings (undefined = null) in one UTF-8 encode of the whole column. */
function utf8Data(strings: ReadonlyArray<string | undefined>, n: number, validity: Uint8Array | null, valid: number): Data<Utf8> {
  const offsets = new Int32Array(n + 1);
  const parts: string[] = [];
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const s = strings[i];
    if (s !== undefined) {
      parts.push(s);
      chars += s.length;
    }
    offsets[i + 1] = chars;
  }
  const joined = parts.join("");
  const bytes = Buffer.from(joined, "utf8");
  if (bytes.length !== chars) {
    // non-ASCII somewhere: byte offsets differ from char offsets
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const s = strings[i];
      if (s !== undefined) pos += Buffer.byteLength(s, "utf8");
      offsets[i + 1] = pos;
    }
  }
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  return makeData({ type: new Utf8(), length: n, nullCount: n - valid, ...(validity && valid < n ? { nullBitmap: validity } : {}), valueOffsets: offsets, data });
}

function finish(b: Builder, n: number, type: DataType): Data {
  const nullCount = n - b.valid;
  const nullBitmap = nullCount > 0 ? { nullBitmap: b.validity } : {};
  switch (b.kind) {
    case K_UTF8:
    case K_JSON:
      return utf8Data(b.strings!, n, b.validity, b.valid);
    case K_INT:
      return makeData({ type: type as Int64, length: n, nullCount, ...nullBitmap, data: new BigInt64Array(b.i32!.buffer, 0, n) });
    case K_TS:
      return makeData({ type: type as TimestampMicrosecond, length: n, nullCount, ...nullBitmap, data: new BigInt64Array(b.i32!.buffer, 0, n) });
    case K_FLOAT:
      return makeData({ type: type as Float64, length: n, nullCount, ...nullBitmap, data: b.f64! });
    default:
      return makeData({ type: type as Bool, length: n, nullCount, ...nullBitmap, data: b.bits! });
  }
}

/** Options of decodeRecords. */
export interface DecodeOptions {
  /** Collects dotted paths of keys not in the schema (drift); omit to skip drift detection. */
  drift?: Set<string>;
}

/**
 * Decodes parsed JSON records into an Arrow RecordBatch by type only: right type in, null/absent
 * null, wrong type null plus the row's first problem in `_error`. `_page` is `pageNo` (1-based),
 * `_row` the index in `records`.
 */
export function decodeRecords(records: readonly unknown[], columns: readonly ColumnSpec[], pageNo: number, options: DecodeOptions = {}): RecordBatch {
  const plan = planFor(columns);
  const n = records.length;
  const st: DecodeState = {
    builders: columns.map((c) => newBuilder(KIND_CODE[c.kind], n)),
    errors: new Array<string | undefined>(n),
    drift: options.drift ?? null,
    ts: { seconds: 0, micros: 0 },
  };
  let errorCount = 0;
  for (let row = 0; row < n; row++) {
    const rec = records[row];
    if (rec !== null && typeof rec === "object" && !Array.isArray(rec)) {
      decodeObject(st, plan.root, rec as Record<string, unknown>, row, "", plan.rootLoose);
    } else {
      st.errors[row] = `record: expected object, got ${rec === null ? "null" : describe(rec)}`;
    }
    if (st.errors[row] !== undefined) errorCount++;
  }

  const fields = plan.schema.fields;
  const children: Data[] = st.builders.map((b, i) => finish(b, n, fields[i]!.type as DataType));
  children.push(
    makeData({ type: new Int32(), length: n, nullCount: 0, data: new Int32Array(n).fill(pageNo) }),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: rowNumbers(n) }),
    errorData(st.errors, n, errorCount),
  );
  const struct = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new RecordBatch(plan.schema, struct);
}

function errorData(errors: ReadonlyArray<string | undefined>, n: number, count: number): Data<Utf8> {
  const validity = new Uint8Array((n + 7) >> 3);
  if (count > 0) for (let i = 0; i < n; i++) if (errors[i] !== undefined) validity[i >> 3]! |= 1 << (i & 7);
  return utf8Data(errors, n, validity, count);
}

/** An empty batch with the right schema (a partition with no records still has typed columns). */
export function emptyBatch(columns: readonly ColumnSpec[]): RecordBatch {
  return decodeRecords([], columns, 0);
}

/** Batches (all with the schema of `columns`) into a Polars DataFrame through Arrow IPC (file format). */
export function batchesToFrame(batches: readonly RecordBatch[], columns: readonly ColumnSpec[]): pl.DataFrame {
  const table = new Table(batches.length > 0 ? batches : [emptyBatch(columns)]);
  const ipc = tableToIPC(table, "file");
  // readIPC wants the IPC *file* format (a stream fails with InvalidFooter)
  return pl.readIPC(Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength));
}

function rowNumbers(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

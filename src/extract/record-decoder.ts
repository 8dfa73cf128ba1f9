/**
 * A hand-built, type-only decoder (decode, not validate) from parsed JSON records to an Arrow
 * RecordBatch with the columns derived from the record schema: right type in, null or absent
 * null, wrong type null plus the record's first problem in `_error`.
 *
 * Why by hand: apache-arrow's vectorFromArray/tableFromArrays is ~3x slower and dictionary-encodes
 * strings (separately built batches then cannot be concatenated and Polars sees Categorical).
 */
import { Int32, RecordBatch, Schema, Struct, Table, makeData, tableToIPC, type Data, type DataType, type List } from "apache-arrow";
import pl from "nodejs-polars";
import {
  K_BOOL,
  K_FLOAT,
  K_INT,
  K_JSON,
  K_LIST,
  K_OBJECT,
  K_TS,
  K_UTF8,
  MAX_SAFE_MICROS_SECONDS,
  errorData,
  finish,
  newBuilder,
  putInt64,
  rowNumbers,
  type Builder,
} from "./arrow-builders.ts";
import { concatBatches, concatColumnAt, concatenable } from "./batch-concat.ts";
import { formatDecodeIssue, timestampIssue, typeIssue, type DecodeIssue } from "./decode-issue.ts";
import { EXTRA_COLUMN, arrowSchema, type ColumnKind, type ColumnSpec, type JsonShape } from "./record-columns.ts";
import { integerIssue, pageFindings, type PageFindings } from "./page-inspection.ts";
import { parseRfc3339, type TimestampParts } from "./timestamp.ts";

/** A node of the decode tree: a leaf column or a nested object with its own children. */
interface Node {
  kind: number;
  /** Column index for leaves. */
  col: number;
  /** Dotted path, used in issues and drift paths. */
  field: string;
  json: JsonShape;
  children: Map<string, Node> | null;
  loose: boolean;
}

interface Plan {
  root: Map<string, Node>;
  rootLoose: boolean;
  schema: Schema;
}

const KIND_CODE: Record<ColumnKind, number> = { utf8: K_UTF8, int64: K_INT, float64: K_FLOAT, bool: K_BOOL, timestamp: K_TS, json: K_JSON, list: K_LIST };

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
  const plan: Plan = { root, rootLoose: loose.has(""), schema: arrowSchema(columns) };
  plans.set(columns, plan);
  return plan;
}

const registered = new WeakMap<readonly ColumnSpec[], readonly string[]>();

/** Registers which nested objects are loose for a column list (drift is not reported under them). */
export function registerLooseObjects(columns: readonly ColumnSpec[], looseObjects: readonly string[]): void {
  if (registered.get(columns) === looseObjects && plans.has(columns)) return; // a child source's every listing
  registered.set(columns, looseObjects);
  plans.delete(columns);
  planFor(columns, looseObjects);
}

/** The decoder's mutable state for one batch. */
interface DecodeState {
  builders: Builder[];
  issues: Array<DecodeIssue | undefined>;
  drift: Set<string> | null;
  /** Per column: records whose object had the leaf's key (any value, null included); null: not counted. */
  present: Int32Array | null;
  ts: TimestampParts;
  /** Unknown fields kept per record (when the columns end with `_extra`), else null. */
  extras: Array<Record<string, unknown> | undefined> | null;
  /** List columns by index: their element fields as decode nodes. */
  elementNodes: Map<number, Array<{ node: Node; name: string }>>;
  /** What inspecting the page found (invalid UTF-8, duplicate keys, integers beyond ±2^53). */
  page: PageFindings | undefined;
}

function setIssue(st: DecodeState, row: number, issue: DecodeIssue): void {
  if (st.issues[row] === undefined) st.issues[row] = issue;
}

function decodeObject(st: DecodeState, level: Map<string, Node>, obj: Record<string, unknown>, row: number, prefix: string, loose: boolean): void {
  for (const key in obj) {
    const node = level.get(key);
    if (node === undefined) {
      if (st.drift !== null && !loose) st.drift.add(prefix + key);
      if (st.extras !== null) keepExtra(st.extras, row, prefix, key, obj[key]);
      continue;
    }
    // Present (even as null) is counted apart from null: a field the source stops sending is absent.
    if (st.present !== null && node.kind !== K_OBJECT) st.present[node.col]!++;
    const v = obj[key];
    if (v === null || v === undefined) continue;
    if (node.kind === K_OBJECT) {
      if (typeof v === "object" && !Array.isArray(v)) decodeObject(st, node.children!, v as Record<string, unknown>, row, `${node.field}.`, node.loose);
      else setIssue(st, row, typeIssue(node.field, "object", v));
      continue;
    }
    const b = st.builders[node.col]!;
    const issue = putValue(st, b, node, v, row);
    if (issue) {
      setIssue(st, row, issue);
      continue;
    }
    b.validity[row >> 3]! |= 1 << (row & 7);
    b.valid++;
  }
}

/** Keeps a field the schema does not declare in the record's `_extra` object, at its nesting. */
function keepExtra(extras: Array<Record<string, unknown> | undefined>, row: number, prefix: string, key: string, value: unknown): void {
  let obj = (extras[row] ??= {});
  if (prefix !== "") {
    for (const part of prefix.slice(0, -1).split(".")) {
      const next = obj[part];
      obj = (next !== null && typeof next === "object" ? next : (obj[part] = {})) as Record<string, unknown>;
    }
  }
  obj[key] = value;
}

/** Writes each record's kept unknown fields as JSON text into the `_extra` column. */
function finishExtras(st: DecodeState, n: number): void {
  if (st.extras === null) return;
  const b = st.builders[st.builders.length - 1]!;
  for (let row = 0; row < n; row++) {
    const extra = st.extras[row];
    if (extra === undefined) continue;
    b.strings![row] = JSON.stringify(extra);
    b.validity[row >> 3]! |= 1 << (row & 7);
    b.valid++;
  }
}

/** Writes one non-null value into its column; returns the issue when its type is wrong. */
function putValue(st: DecodeState, b: Builder, node: Node, v: unknown, row: number): DecodeIssue | undefined {
  switch (node.kind) {
    case K_UTF8:
      if (typeof v !== "string") return typeIssue(node.field, "string", v);
      b.strings![row] = v;
      return undefined;
    case K_INT:
      if (typeof v !== "number" || !Number.isSafeInteger(v)) return typeof v === "number" ? integerIssue(node.field, v, st.page) : typeIssue(node.field, "integer", v);
      putInt64(b.i32!, row, v);
      return undefined;
    case K_FLOAT:
      if (typeof v !== "number") return typeIssue(node.field, "number", v);
      b.f64![row] = v;
      return undefined;
    case K_BOOL:
      if (typeof v !== "boolean") return typeIssue(node.field, "boolean", v);
      if (v) b.bits![row >> 3]! |= 1 << (row & 7);
      return undefined;
    case K_TS:
      return putTimestamp(st, b, node, v, row);
    case K_LIST:
      return putList(st, b, node, v, row);
    default:
      return putJson(b, node, v, row);
  }
}

/** The element fields of a list column, as decode-tree nodes (an element is decoded like a record). */
function elementNodes(column: ColumnSpec): Array<{ node: Node; name: string }> {
  return (column.fields ?? []).map((f, col) => ({ name: f.name, node: { kind: KIND_CODE[f.kind], col, field: `${column.path.join(".")}[].${f.name}`, json: f.json ?? "any", children: null, loose: true } }));
}

/**
 * An array of objects: every element's fields must have their declared types (checked by writing
 * each into a one-row scratch column); kept as is and built into List(Struct) when the batch ends.
 */
function putList(st: DecodeState, b: Builder, node: Node, v: unknown, row: number): DecodeIssue | undefined {
  if (!Array.isArray(v)) return typeIssue(node.field, "array", v);
  const fields = st.elementNodes.get(node.col) ?? [];
  for (let i = 0; i < v.length; i++) {
    const element: unknown = v[i];
    if (element === null || typeof element !== "object" || Array.isArray(element)) return typeIssue(`${node.field}[${i}]`, "object", element);
    for (const { node: field, name } of fields) {
      const value = (element as Record<string, unknown>)[name];
      if (value === null || value === undefined) continue;
      const issue = putValue(st, newBuilder(field.kind, 1), { ...field, field: `${node.field}[${i}].${name}` }, value, 0);
      if (issue) return issue;
    }
  }
  b.lists![row] = v as Record<string, unknown>[];
  return undefined;
}

/** List(Struct) data of a list column: the elements of every row, decoded field by field. */
function listData(st: DecodeState, b: Builder, column: ColumnSpec, n: number, type: DataType): Data {
  const nodes = elementNodes(column);
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let row = 0; row < n; row++) {
    total += b.lists![row]?.length ?? 0;
    offsets[row + 1] = total;
  }
  const builders = nodes.map(({ node }) => newBuilder(node.kind, total));
  let at = 0;
  for (let row = 0; row < n; row++) {
    for (const element of b.lists![row] ?? []) {
      nodes.forEach(({ node, name }, i) => {
        const value = element[name];
        if (value === null || value === undefined) return;
        const builder = builders[i]!;
        putValue(st, builder, node, value, at);
        builder.validity[at >> 3]! |= 1 << (at & 7);
        builder.valid++;
      });
      at++;
    }
  }
  const item = (type as List<Struct>).children[0]!;
  const structType = item.type as Struct;
  const children = builders.map((bb, i) => finish(bb, total, structType.children[i]!.type as DataType));
  const struct = makeData({ type: structType, length: total, nullCount: 0, children });
  const nullCount = n - b.valid;
  return makeData({ type: type as List<Struct>, length: n, nullCount, ...(nullCount > 0 ? { nullBitmap: b.validity } : {}), valueOffsets: offsets, child: struct });
}

function putTimestamp(st: DecodeState, b: Builder, node: Node, v: unknown, row: number): DecodeIssue | undefined {
  if (typeof v !== "string") return typeIssue(node.field, "timestamp string", v);
  if (!parseRfc3339(v, st.ts)) return timestampIssue(node.field, v);
  if (st.ts.seconds > -MAX_SAFE_MICROS_SECONDS && st.ts.seconds < MAX_SAFE_MICROS_SECONDS) {
    putInt64(b.i32!, row, st.ts.seconds * 1_000_000 + st.ts.micros);
  } else {
    // far past/future (beyond year ~2255): exact via BigInt, rare
    new BigInt64Array(b.i32!.buffer, b.i32!.byteOffset, b.i32!.length / 2)[row] = BigInt(st.ts.seconds) * 1_000_000n + BigInt(st.ts.micros);
  }
  return undefined;
}

function putJson(b: Builder, node: Node, v: unknown, row: number): DecodeIssue | undefined {
  const isArray = Array.isArray(v);
  if (node.json === "array" && !isArray) return typeIssue(node.field, "array", v);
  if (node.json === "object" && (typeof v !== "object" || isArray)) return typeIssue(node.field, "object", v);
  b.strings![row] = JSON.stringify(v);
  return undefined;
}

/** Options of decodeRecords. */
export interface DecodeOptions {
  /** Collects dotted paths of keys not in the schema (drift); omit to skip drift detection. */
  drift?: Set<string>;
  /** Adds, per column index, the records whose object had the leaf's key (even with null); omit to skip. */
  present?: Int32Array;
}

/**
 * Decodes parsed JSON records into an Arrow RecordBatch by type only. `_page` is `pageNo`
 * (1-based), `_row` the index in `records`, `_error` the record's first decode issue, formatted.
 */
export function decodeRecords(records: readonly unknown[], columns: readonly ColumnSpec[], pageNo: number, options: DecodeOptions = {}): RecordBatch {
  const plan = planFor(columns);
  const n = records.length;
  const page = pageFindings(records);
  const st: DecodeState = {
    builders: columns.map((c) => newBuilder(KIND_CODE[c.kind], n)),
    issues: new Array<DecodeIssue | undefined>(n),
    drift: options.drift ?? null,
    present: options.present ?? null,
    ts: { seconds: 0, micros: 0 },
    elementNodes: new Map(columns.flatMap((c, i) => (c.kind === "list" ? [[i, elementNodes(c)] as const] : []))),
    extras: columns.at(-1)?.name === EXTRA_COLUMN ? new Array<Record<string, unknown> | undefined>(n) : null,
    page,
  };
  // Page-level findings come first: they explain the record better than a type issue they cause.
  if (page) for (const [row, issue] of page.issues) if (row < n) st.issues[row] = issue;
  for (let row = 0; row < n; row++) {
    const rec = records[row];
    if (rec !== null && typeof rec === "object" && !Array.isArray(rec)) decodeObject(st, plan.root, rec as Record<string, unknown>, row, "", plan.rootLoose);
    else st.issues[row] = typeIssue("record", "object", rec);
  }
  finishExtras(st, n);
  const errors = st.issues.map((issue) => (issue === undefined ? undefined : formatDecodeIssue(issue)));
  const errorCount = errors.reduce((c, e) => (e === undefined ? c : c + 1), 0);
  const fields = plan.schema.fields;
  const children: Data[] = st.builders.map((b, i) => (b.kind === K_LIST ? listData(st, b, columns[i]!, n, fields[i]!.type as DataType) : finish(b, n, fields[i]!.type as DataType)));
  children.push(
    makeData({ type: new Int32(), length: n, nullCount: 0, data: new Int32Array(n).fill(pageNo) }),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: rowNumbers(n) }),
    errorData(errors, n, errorCount),
  );
  const struct = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new RecordBatch(plan.schema, struct);
}

/** An empty batch with the right schema (a partition with no records still has typed columns). */
export function emptyBatch(columns: readonly ColumnSpec[]): RecordBatch {
  return decodeRecords([], columns, 0);
}

/** Batches (all with the schema of `columns`) into a Polars DataFrame through Arrow IPC (file format). */
export function batchesToFrame(batches: readonly RecordBatch[], columns: readonly ColumnSpec[]): pl.DataFrame {
  // one contiguous batch when the columns allow it: IPC and Polars' read then cost about a copy
  const one = batches.length > 1 ? concatBatches(batches, batches[0]!.schema) : null;
  return tableToFrame(new Table(one ? [one] : batches.length > 0 ? batches : [emptyBatch(columns)]));
}

/**
 * batchesToFrame a column at a time, awaiting `pause` after each: the same frame, but the event
 * loop is never held for the whole conversion (a 130K-row chunk held it ~65 ms, and a response
 * that arrived meanwhile waited, so the next page's request went out that much later).
 */
export async function batchesToFrameInSlices(batches: readonly RecordBatch[], columns: readonly ColumnSpec[], pause: () => Promise<void>): Promise<pl.DataFrame> {
  const schema = batches[0]?.schema;
  if (batches.length < 2 || !schema || !concatenable(schema)) return batchesToFrame(batches, columns);
  const length = batches.reduce((n, b) => n + b.numRows, 0);
  const parts: pl.Series[] = [];
  for (const [i, field] of schema.fields.entries()) {
    const data = concatColumnAt(batches, i, length);
    const one = new Schema([field], schema.metadata);
    parts.push(tableToFrame(new Table([new RecordBatch(one, makeData({ type: new Struct(one.fields), length, nullCount: 0, children: [data] }))])).getColumn(field.name));
    await pause();
  }
  return pl.DataFrame(parts);
}

/** A table through Arrow IPC into Polars. */
function tableToFrame(table: Table): pl.DataFrame {
  const ipc = tableToIPC(table, "file");
  // readIPC wants the IPC *file* format (a stream fails with InvalidFooter)
  return pl.readIPC(Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength));
}

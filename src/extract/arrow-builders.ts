/** Column buffers of a batch being decoded, and their conversion into Arrow data. */
import { Bool, Float64, Int64, TimestampMicrosecond, Utf8, makeData, type Data, type DataType } from "apache-arrow";

/** Kind codes of decode-tree nodes (numbers: the decoder switches on them per value). */
export const K_UTF8 = 0;
export const K_INT = 1;
export const K_FLOAT = 2;
export const K_BOOL = 3;
export const K_TS = 4;
export const K_JSON = 5;
export const K_OBJECT = 6;
export const K_LIST = 7;

/** Per-column output buffers of one batch. */
export interface Builder {
  kind: number;
  validity: Uint8Array;
  valid: number;
  /** utf8/json: the strings, undefined for null. */
  strings: Array<string | undefined> | null;
  /** list: each row's element objects (already checked), undefined for null. */
  lists: Array<readonly Record<string, unknown>[] | undefined> | null;
  /** int64/timestamp: two 32-bit halves per value (little endian), written without BigInt. */
  i32: Int32Array | null;
  f64: Float64Array | null;
  bits: Uint8Array | null;
}

export const TWO32 = 4294967296;
export const MAX_SAFE_MICROS_SECONDS = 9_000_000_000; // |seconds| * 1e6 + 999999 stays below 2^53

export function newBuilder(kind: number, n: number): Builder {
  const bytes = (n + 7) >> 3;
  return {
    kind,
    validity: new Uint8Array(bytes),
    valid: 0,
    strings: kind === K_UTF8 || kind === K_JSON ? new Array<string | undefined>(n) : null,
    lists: kind === K_LIST ? new Array<readonly Record<string, unknown>[] | undefined>(n) : null,
    i32: kind === K_INT || kind === K_TS ? new Int32Array(n * 2) : null,
    f64: kind === K_FLOAT ? new Float64Array(n) : null,
    bits: kind === K_BOOL ? new Uint8Array(bytes) : null,
  };
}

/** Writes a safe integer as a little-endian int64 into two int32 slots (no BigInt per value). */
export function putInt64(i32: Int32Array, row: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  i32[row * 2] = (v - hi * TWO32) | 0;
  i32[row * 2 + 1] = hi | 0;
}

/** Builds an Arrow Utf8 Data from strings (undefined = null) in one UTF-8 encode of the whole column. */
export function utf8Data(strings: ReadonlyArray<string | undefined>, n: number, validity: Uint8Array | null, valid: number): Data<Utf8> {
  const offsets = new Int32Array(n + 1);
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const s = strings[i];
    if (s !== undefined) chars += s.length;
    offsets[i + 1] = chars;
  }
  // join reads a hole or undefined as "": the nulls take no bytes
  const joined = strings.length === n ? strings.join("") : strings.slice(0, n).join("");
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

export function finish(b: Builder, n: number, type: DataType): Data {
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

export function errorData(errors: ReadonlyArray<string | undefined>, n: number, count: number): Data<Utf8> {
  const validity = new Uint8Array((n + 7) >> 3);
  if (count > 0) for (let i = 0; i < n; i++) if (errors[i] !== undefined) validity[i >> 3]! |= 1 << (i & 7);
  return utf8Data(errors, n, validity, count);
}

export function rowNumbers(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

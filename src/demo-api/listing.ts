/**
 * A served listing: records as JSON in listing order in one byte buffer plus their offsets, so a
 * page of a whole day is a zero-copy slice.
 */
import { Buffer } from "node:buffer";

/** A served listing: `count` records, record k is buf[offsets[k], offsets[k+1] - 1) (a comma follows each). */
export interface Listing {
  count: number;
  /** Records as JSON in listing order, each followed by a comma, so a run of records is one slice. ASCII. */
  buf: Buffer;
  offsets: Uint32Array;
  /** Per record, the instant (epoch µs) that places it in a time window: an event's ts, a user's updated_at. */
  keys: Float64Array | null;
  /** Approximate bytes held (buffer + arrays). */
  bytes: number;
}

/** Records at listing positions [from, to) joined by commas (no brackets): a zero-copy slice. */
export function recordsJoined(l: Listing, from: number, to: number): Buffer {
  if (to <= from) return Buffer.alloc(0);
  return l.buf.subarray(l.offsets[from]!, l.offsets[to]! - 1);
}

/** Records at the given listing positions joined by commas (no brackets). */
export function recordsAt(l: Listing, positions: readonly number[]): Buffer {
  const { buf, offsets } = l;
  let size = 0;
  for (const k of positions) size += offsets[k + 1]! - offsets[k]!;
  if (size === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const k of positions) pos += buf.copy(out, pos, offsets[k]!, offsets[k + 1]!);
  return out.subarray(0, size - 1); // drop the last comma
}

/**
 * Writes records (each + ",") into one buffer, tracking offsets; chunked to keep calls few.
 * Offsets come from string lengths, right because every generated record is ASCII.
 */
export function buildListing(count: number, record: (k: number) => string, estimate: number): Listing {
  let buf = Buffer.allocUnsafe(Math.max(1024, estimate));
  let len = 0;
  const offsets = new Uint32Array(count + 1);
  const chunk: string[] = [];
  function flush(): void {
    if (chunk.length === 0) return;
    const s = chunk.join("");
    chunk.length = 0;
    if (len + s.length > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, len + s.length));
      buf.copy(bigger, 0, 0, len);
      buf = bigger;
    }
    len += buf.write(s, len, "latin1");
  }
  let pos = 0;
  for (let k = 0; k < count; k++) {
    const r = `${record(k)},`;
    offsets[k] = pos;
    pos += r.length;
    chunk.push(r);
    if (chunk.length === 512) flush();
  }
  flush();
  offsets[count] = pos;
  if (pos !== len) throw new Error("demo-api: listing offsets out of step");
  // Drop the slack of the estimate when it is large.
  if (buf.length > len * 1.1 + 4096) {
    const exact = Buffer.allocUnsafeSlow(len);
    buf.copy(exact, 0, 0, len);
    buf = exact;
  }
  return { count, buf, offsets, keys: null, bytes: buf.length + offsets.byteLength };
}

/** Every record of a listing, parsed. */
export function parseListing(l: Listing): unknown[] {
  if (l.count === 0) return [];
  return JSON.parse(`[${recordsJoined(l, 0, l.count).toString("latin1")}]`) as unknown[];
}

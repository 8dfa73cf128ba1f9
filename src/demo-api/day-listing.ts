/** A day's listing: events of the day, dirtied, shuffled, with duplicates on later pages. */
import { Buffer } from "node:buffer";
import { formatDay, parseDay } from "../core/dates.ts";
import { rngFrom, type Rng } from "./prng.ts";
import { anomalousEvents, anomalousListing } from "./anomalies.ts";
import { DAY_MS, DAY_US, DIRTY_SHARE, DUPLICATE_MIN_DISTANCE, DUPLICATE_SHARE, resolveDataset, S_LISTING, type Dataset, type DatasetOptions } from "./dataset.ts";
import { ByteOut } from "./byte-out.ts";
import type { Cols } from "./event-columns.ts";
import { ascii, writeCleanEvent } from "./event-bytes.ts";
import { generateEvents } from "./event-generation.ts";
import { eventJson } from "./event-text.ts";
import type { Listing } from "./listing.ts";
import { DIRTY_EVENT_KINDS } from "./vocabulary.ts";

/** Which events are dirty: 0 clean, else 1 + index in DIRTY_EVENT_KINDS; `aux` seeds each one's dirt. */
interface Dirt {
  dirty: Uint8Array;
  aux: Map<number, number>;
}

/** Generates a day's listing: events of the day, dirtied, shuffled, with duplicates on later pages. */
export function generateDay(ds: Dataset, dt: string): Listing {
  const dayNum = Math.round(Date.parse(`${dt}T00:00:00Z`) / DAY_MS);
  const anomaly = ds.anomalies.get(dt);
  const cols = generateEvents(ds, dayNum);
  anomalousEvents(cols, anomaly);
  // One stream, read in this order: dirt, shuffle, duplicates.
  const rng = rngFrom(ds.seed, dayNum, S_LISTING);
  const dirt = dealDirt(rng, cols.n);
  const perm = shuffled(rng, cols.n);
  const order = withDuplicates(rng, perm);
  const { buf, starts } = serializeDay(cols, dirt, dayNum, dt);
  return anomalousListing(gather(cols, buf, starts, order), anomaly);
}

/** Dirty records: a fixed share, kinds dealt round-robin so every kind shows up. */
function dealDirt(rng: Rng, n: number): Dirt {
  const kinds = DIRTY_EVENT_KINDS.length;
  const dirtyCount = n === 0 ? 0 : Math.min(n, Math.max(kinds, Math.round(n * DIRTY_SHARE)));
  const dirty = new Uint8Array(n);
  const aux = new Map<number, number>();
  for (let j = 0; j < dirtyCount; ) {
    const i = Math.floor(rng() * n);
    if (dirty[i] !== 0) continue;
    dirty[i] = 1 + (j % kinds);
    aux.set(i, Math.floor(rng() * 2 ** 31));
    j++;
  }
  return { dirty, aux };
}

/** Unordered pages: a full shuffle of the day. */
function shuffled(rng: Rng, n: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

/** At-least-once delivery: copies inserted at least DUPLICATE_MIN_DISTANCE records later. */
function withDuplicates(rng: Rng, perm: Int32Array): Int32Array {
  const n = perm.length;
  const minGap = Math.min(DUPLICATE_MIN_DISTANCE, Math.floor(n / 4));
  const dupCount = n >= 8 ? Math.round(n * DUPLICATE_SHARE) : 0;
  const dups: Array<{ before: number; event: number }> = [];
  for (let j = 0; j < dupCount; j++) {
    const p = Math.floor(rng() * (n - minGap));
    const before = p + minGap + 1 + Math.floor(rng() * (n - p - minGap)); // in (p + minGap, n]
    dups.push({ before, event: perm[p]! });
  }
  dups.sort((a, b) => a.before - b.before);
  const order = new Int32Array(n + dups.length);
  let k = 0;
  let d = 0;
  for (let p = 0; p <= n; p++) {
    while (d < dups.length && dups[d]!.before === p) order[k++] = dups[d++]!.event;
    if (p < n) order[k++] = perm[p]!;
  }
  return order;
}

/** The two days an event id can name: the day before (midnight-crossing sessions) and the day, as YYYYMMDD. */
function idDays(dayNum: number, dt: string): readonly [string, string] {
  return [formatDay(new Date((dayNum - 1) * DAY_MS)).replaceAll("-", ""), dt.replaceAll("-", "")] as const;
}

/**
 * Each event is serialized once, in generation order (sequential reads of the columns are twice
 * as fast as gathering them in listing order); `starts[i]` is where event i begins (a comma follows each).
 */
function serializeDay(cols: Cols, dirt: Dirt, dayNum: number, dt: string): { buf: Buffer; starts: Uint32Array } {
  const n = cols.n;
  const ymd = idDays(dayNum, dt);
  const ymdBytes = [ascii(ymd[0]), ascii(ymd[1])] as const;
  const out = new ByteOut(n * 145);
  const starts = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    starts[i] = out.pos;
    const dk = dirt.dirty[i]!;
    if (dk === 0) writeCleanEvent(out, cols, i, ymdBytes);
    else out.str(eventJson(cols, i, ymd, dayNum * DAY_US, dk, dirt.aux.get(i)!));
    out.byte(44); // ","
  }
  starts[n] = out.pos;
  return { buf: out.buf, starts };
}

/** The bytes gathered into listing order: one copy per record now instead of one per record on every page served. */
function gather(cols: Cols, src: Buffer, starts: Uint32Array, order: Int32Array): Listing {
  const total = order.length;
  let size = 0;
  for (let q = 0; q < total; q++) size += starts[order[q]! + 1]! - starts[order[q]!]!;
  const buf = Buffer.allocUnsafeSlow(size);
  const offsets = new Uint32Array(total + 1);
  const keys = new Float64Array(total);
  let pos = 0;
  for (let q = 0; q < total; q++) {
    const i = order[q]!;
    offsets[q] = pos;
    pos += src.copy(buf, pos, starts[i]!, starts[i + 1]!);
    keys[q] = cols.ts[i]!;
  }
  offsets[total] = pos;
  return { count: total, buf, offsets, keys, bytes: buf.length + offsets.byteLength + keys.byteLength };
}

/**
 * Every event generated for a day, serialized clean (no dirt, in generation order) through the
 * byte writer or the string path: for a test that the two agree.
 */
export function cleanEventTexts(options: DatasetOptions, dt: string, via: "bytes" | "strings"): string[] {
  const ds = resolveDataset(options);
  const dayNum = Math.round(Date.parse(`${parseDay(dt)}T00:00:00Z`) / DAY_MS);
  const cols = generateEvents(ds, dayNum);
  const ymd = idDays(dayNum, dt);
  const texts: string[] = [];
  const out = new ByteOut(1024);
  for (let i = 0; i < cols.n; i++) {
    if (via === "strings") texts.push(eventJson(cols, i, ymd, dayNum * DAY_US, 0, 0));
    else {
      out.pos = 0;
      writeCleanEvent(out, cols, i, [ascii(ymd[0]), ascii(ymd[1])]);
      texts.push(out.buf.toString("latin1", 0, out.pos));
    }
  }
  return texts;
}

/** Event records as JSON text (the string path: dirty records, and the reference for the byte writer). */
import { formatDay } from "../core/dates.ts";
import { DAY_MS, DAY_US, MIN_US, SEC_US } from "./dataset.ts";
import type { Cols } from "./event-columns.ts";
import { ADD, DIRTY_EVENT_KINDS, EVENT_TYPES, LOGIN, OFF_Z, OFFSETS, OFFSET_MINUTES, PAGES, PURCHASE, VIEW } from "./vocabulary.ts";

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const dateCache = new Map<number, string>();

/** "YYYY-MM-DDT" of a day number (memoized: a listing touches only a few days). */
export function datePrefix(dayNum: number): string {
  let s = dateCache.get(dayNum);
  if (s === undefined) {
    s = `${formatDay(new Date(dayNum * DAY_MS))}T`;
    if (dateCache.size > 1000) dateCache.clear();
    dateCache.set(dayNum, s);
  }
  return s;
}

/** Effective precision: never coarser than what the instant needs to be exact. */
export function precisionOf(t: number, prec: number): number {
  const need = t % SEC_US === 0 ? 0 : t % 1000 === 0 ? 1 : 2;
  return need > prec ? need : prec;
}

/** RFC 3339 text of instant `t` (epoch µs) at a precision, in UTC (Z) or a numeric offset. */
function formatTs(t: number, prec: number, off: number): string {
  const p = precisionOf(t, prec);
  // Hand-rolled (no Date per call): this runs a million times for a large day.
  const local = off === OFF_Z ? t : t + OFFSET_MINUTES[off]! * MIN_US;
  const dayNum = Math.floor(local / DAY_US);
  const inDay = local - dayNum * DAY_US;
  const secs = Math.floor(inDay / SEC_US);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs - h * 3600) / 60);
  let s = `${datePrefix(dayNum)}${PAD2[h]}:${PAD2[m]}:${PAD2[secs - h * 3600 - m * 60]}`;
  if (p >= 1) {
    const us = inDay - secs * SEC_US;
    const ms = Math.floor(us / 1000);
    s += p === 1 ? `.${PAD3[ms]}` : `.${PAD3[ms]}${PAD3[us - ms * 1000]}`;
  }
  return s + (off === OFF_Z ? "Z" : OFFSETS[off]!);
}

const UNPARSEABLE_TS = ["T25:61:00Z", "not-a-timestamp", "", "20/11/2026 10:00:00", "1763632800", "2026-11-31T10:00:00+0200"];
const UNKNOWN_TYPES = ["click", "VIEW_PAGE", "signup", "page_view"];
export const DRIFT_VIEW = [`,"referrer":"https://www.google.com/"`, `,"utm":{"source":"newsletter","campaign":"black-friday"}`];

function propertiesJson(c: Cols, i: number): string {
  const v = c.props[i]!;
  if (v === 2) return "";
  if (v === 3) return `,"properties":null`;
  const type = c.type[i]!;
  const page = c.page[i]!;
  switch (type) {
    case LOGIN:
      return v === 4 ? `,"properties":{"method":"sso"}` : `,"properties":{}`;
    case VIEW:
    case ADD: {
      const p = `"page":"${PAGES[page]}"`;
      if (v === 1) return `,"properties":{${p},"amount":null}`;
      if (v === 4) return `,"properties":{${p}${type === ADD ? `,"quantity":2` : DRIFT_VIEW[0]}}`;
      if (v === 5) return `,"properties":{${p}${type === ADD ? `,"sku":"SKU-${page}"` : DRIFT_VIEW[1]}}`;
      return `,"properties":{${p}}`;
    }
    case PURCHASE: {
      const amount = c.cents[i]! / 100;
      if (v === 1) return `,"properties":{"amount":${amount}}`;
      if (v === 4) return `,"properties":{"page":"/checkout","amount":${amount},"currency":"EUR","coupon":"WELCOME10"}`;
      return `,"properties":{"page":"/checkout","amount":${amount}}`;
    }
    default:
      return `,"properties":{}`;
  }
}

/** One event record as JSON, corrupted as `dirty` says (0: clean; else 1 + index in DIRTY_EVENT_KINDS). */
export function eventJson(c: Cols, i: number, ymd: readonly [string, string], dayStart: number, dirty: number, aux: number): string {
  const u = c.user[i]!;
  const seq = c.seq[i]!;
  if (dirty === 0) {
    // The hot path: one template, no intermediate arrays.
    return `{"event_id":"e-${ymd[c.idDay[i]!]}-${u}-${seq >= 0 ? seq : `n${-seq - 1}`}","user_id":${u},"ts":"${formatTs(c.ts[i]!, c.prec[i]!, c.off[i]!)}","event_type":"${EVENT_TYPES[c.type[i]!]}"${propertiesJson(c, i)}}`;
  }
  const kind = DIRTY_EVENT_KINDS[dirty - 1]!;
  const parts: string[] = [];
  if (kind === "numeric_event_id") parts.push(`"event_id":${aux % 10_000_000}`);
  else if (kind !== "missing_event_id") parts.push(`"event_id":"e-${ymd[c.idDay[i]!]}-${u}-${seq >= 0 ? seq : `n${-seq - 1}`}"`);
  switch (kind) {
    case "missing_user_id": break;
    case "null_user_id": parts.push(`"user_id":null`); break;
    case "string_user_id": parts.push(`"user_id":"${u}"`); break;
    case "fractional_user_id": parts.push(`"user_id":${u}.5`); break;
    case "zero_user_id": parts.push(`"user_id":0`); break;
    case "negative_user_id": parts.push(`"user_id":-${u}`); break;
    default: parts.push(`"user_id":${u}`);
  }
  switch (kind) {
    case "missing_ts": if (aux % 2 === 1) parts.push(`"ts":null`); break;
    case "unparseable_ts": {
      const bad = UNPARSEABLE_TS[aux % UNPARSEABLE_TS.length]!;
      parts.push(`"ts":"${bad.startsWith("T") ? formatDay(new Date(dayStart / 1000)) + bad : bad}"`);
      break;
    }
    case "ts_outside_day": {
      // Late or early arrivals: up to 36 h before the day or after it, served in this day anyway.
      const shift = 1000 + (aux % (36 * 3600)) * SEC_US;
      const t = aux % 2 === 0 ? dayStart - shift : dayStart + DAY_US + shift - 1000;
      parts.push(`"ts":"${formatTs(t, c.prec[i]!, c.off[i]!)}"`);
      break;
    }
    default: parts.push(`"ts":"${formatTs(c.ts[i]!, c.prec[i]!, c.off[i]!)}"`);
  }
  if (kind === "unknown_event_type") parts.push(`"event_type":"${UNKNOWN_TYPES[aux % UNKNOWN_TYPES.length]}"`);
  else if (kind !== "missing_event_type") parts.push(`"event_type":"${EVENT_TYPES[c.type[i]!]}"`);
  let json = `{${parts.join(",")}`;
  if (kind === "properties_not_object") {
    const page = c.page[i]!;
    json += `,"properties":"${page >= 0 ? `page=${PAGES[page]}` : "n/a"}"`;
  } else json += propertiesJson(c, i);
  return `${json}}`;
}

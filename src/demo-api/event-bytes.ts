/**
 * Hot path: clean events are written byte by byte into the listing buffer (no intermediate
 * strings: this is 3-4x faster than template strings for a million records). Dirty records,
 * 0.1%, go through eventJson. A test checks both paths agree.
 */
import { DAY_US, MIN_US, SEC_US } from "./dataset.ts";
import { ByteOut } from "./byte-out.ts";
import type { Cols } from "./event-columns.ts";
import { DRIFT_VIEW, datePrefix, precisionOf } from "./event-text.ts";
import { ADD, EVENT_TYPES, LOGIN, OFF_Z, OFFSETS, OFFSET_MINUTES, PAGES, PURCHASE, VIEW } from "./vocabulary.ts";

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const B_ID_OPEN = ascii(`{"event_id":"e-`);
const B_USER = ascii(`","user_id":`);
const B_TS = ascii(`,"ts":"`);
const B_TYPE = ascii(`","event_type":"`);
const B_TYPES = EVENT_TYPES.map((t) => ascii(`${t}"`));
const B_PAGES = PAGES.map((p) => ascii(`"page":"${p}"`));
const B_PROPS_OPEN = ascii(`,"properties":{`);
const B_PROPS_NULL = ascii(`,"properties":null`);
const B_PROPS_EMPTY = ascii(`,"properties":{}`);
const B_LOGIN_DRIFT = ascii(`,"properties":{"method":"sso"}`);
const B_AMOUNT_NULL = ascii(`,"amount":null}`);
const B_VIEW_DRIFT = DRIFT_VIEW.map((d) => ascii(`${d}}`));
const B_QUANTITY = ascii(`,"quantity":2}`);
const B_SKU = ascii(`,"sku":"SKU-`);
const B_AMOUNT = ascii(`"amount":`);
const B_CHECKOUT_AMOUNT = ascii(`"page":"/checkout","amount":`);
const B_CURRENCY = ascii(`,"currency":"EUR","coupon":"WELCOME10"}`);
const B_OFFSETS = OFFSETS.map((o) => ascii(o));
const datePrefixBytes = new Map<number, Uint8Array>();

/** Same text as formatTs, written as bytes. */
function writeTs(out: ByteOut, t: number, prec: number, off: number): void {
  const p = precisionOf(t, prec);
  const local = off === OFF_Z ? t : t + OFFSET_MINUTES[off]! * MIN_US;
  const dayNum = Math.floor(local / DAY_US);
  let prefix = datePrefixBytes.get(dayNum);
  if (prefix === undefined) {
    prefix = ascii(datePrefix(dayNum));
    if (datePrefixBytes.size > 1000) datePrefixBytes.clear();
    datePrefixBytes.set(dayNum, prefix);
  }
  out.bytes(prefix);
  const inDay = local - dayNum * DAY_US;
  const secs = Math.floor(inDay / SEC_US);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs - h * 3600) / 60);
  out.padded(h, 2);
  out.byte(58);
  out.padded(m, 2);
  out.byte(58);
  out.padded(secs - h * 3600 - m * 60, 2);
  if (p >= 1) {
    out.byte(46);
    const us = inDay - secs * SEC_US;
    if (p === 1) out.padded(Math.floor(us / 1000), 3);
    else out.padded(us, 6);
  }
  if (off === OFF_Z) out.byte(90);
  else out.bytes(B_OFFSETS[off]!);
}

/** Same text as `${cents / 100}` for a whole number of cents. */
function writeAmount(out: ByteOut, cents: number): void {
  const whole = Math.floor(cents / 100);
  const rest = cents - whole * 100;
  out.int(whole);
  if (rest === 0) return;
  out.byte(46);
  if (rest % 10 === 0) out.byte(48 + rest / 10);
  else out.padded(rest, 2);
}

/** Same text as eventJson(c, i, ymd, _, 0, 0), written as bytes. */
export function writeCleanEvent(out: ByteOut, c: Cols, i: number, ymd: readonly [Uint8Array, Uint8Array]): void {
  out.ensure(512);
  const u = c.user[i]!;
  const seq = c.seq[i]!;
  out.bytes(B_ID_OPEN);
  out.bytes(ymd[c.idDay[i]!]!);
  out.byte(45);
  out.int(u);
  out.byte(45);
  if (seq >= 0) out.int(seq);
  else {
    out.byte(110);
    out.int(-seq - 1);
  }
  out.bytes(B_USER);
  out.int(u);
  out.bytes(B_TS);
  writeTs(out, c.ts[i]!, c.prec[i]!, c.off[i]!);
  out.bytes(B_TYPE);
  const type = c.type[i]!;
  out.bytes(B_TYPES[type]!);
  const v = c.props[i]!;
  if (v === 3) out.bytes(B_PROPS_NULL);
  else if (v !== 2) {
    const page = c.page[i]!;
    switch (type) {
      case LOGIN:
        out.bytes(v === 4 ? B_LOGIN_DRIFT : B_PROPS_EMPTY);
        break;
      case VIEW:
      case ADD:
        out.bytes(B_PROPS_OPEN);
        out.bytes(B_PAGES[page]!);
        if (v === 1) out.bytes(B_AMOUNT_NULL);
        else if (v === 4) out.bytes(type === ADD ? B_QUANTITY : B_VIEW_DRIFT[0]!);
        else if (v === 5) {
          if (type === ADD) {
            out.bytes(B_SKU);
            out.int(page);
            out.byte(34);
            out.byte(125);
          } else out.bytes(B_VIEW_DRIFT[1]!);
        } else out.byte(125);
        break;
      case PURCHASE:
        out.bytes(B_PROPS_OPEN);
        out.bytes(v === 1 ? B_AMOUNT : B_CHECKOUT_AMOUNT);
        writeAmount(out, c.cents[i]!);
        if (v === 4) out.bytes(B_CURRENCY);
        else out.byte(125);
        break;
      default:
        out.bytes(B_PROPS_EMPTY);
    }
  }
  out.byte(125);
}

/**
 * Deterministic clickstream and user snapshot served by the demo API. A day's listing is a pure
 * function of (seed, eventsPerDay, users, day); it is generated once, kept as one byte buffer of
 * the records' JSON in listing order plus their offsets, and cached in a small LRU. A page of
 * a whole day is then a zero-copy slice of that buffer.
 */
import { Buffer } from "node:buffer";
import { UsageError } from "../core/errors.ts";
import { formatDay, parseDay } from "../core/dates.ts";
import { gauss, rngFrom, type Rng } from "./prng.ts";

/** What determines the data: the same three values always give the same records. */
export interface DatasetOptions {
  seed?: number;
  /** Approximate number of events per day (exact count is deterministic). */
  eventsPerDay?: number;
  /** Number of users; default max(50, eventsPerDay / 40). */
  users?: number;
}

/** DatasetOptions with defaults applied. */
export interface Dataset {
  seed: number;
  eventsPerDay: number;
  users: number;
}

/** A served listing: `count` records, record k is buf[offsets[k], offsets[k+1] - 1) (a comma follows each). */
export interface Listing {
  count: number;
  /** Records as JSON in listing order, each followed by a comma, so a run of records is one slice. ASCII. */
  buf: Buffer;
  offsets: Uint32Array;
  /** Per record, the instant (epoch µs) that places it in a time window; null for users. */
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

/** Every kind of dirty event record the contract warns about; each appears in a day of ~20,000 events. */
export const DIRTY_EVENT_KINDS = [
  "missing_event_id",
  "numeric_event_id",
  "missing_user_id",
  "null_user_id",
  "string_user_id",
  "fractional_user_id",
  "zero_user_id",
  "negative_user_id",
  "missing_ts",
  "unparseable_ts",
  "ts_outside_day",
  "unknown_event_type",
  "missing_event_type",
  "properties_not_object",
] as const;
export type DirtyEventKind = (typeof DIRTY_EVENT_KINDS)[number];

/** Dirty user records of the users snapshot. */
export const DIRTY_USER_KINDS = ["bad_country", "bad_plan", "null_user_id"] as const;

export const EVENT_TYPES = ["login", "view_page", "add_to_cart", "purchase", "logout"] as const;

/** Share of dirty records and of at-least-once duplicates. */
const DIRTY_SHARE = 0.001;
const DUPLICATE_SHARE = 0.005;
/** A duplicate lands at least this many records after its original: a later page for limits <= 1000. */
const DUPLICATE_MIN_DISTANCE = 1000;

const SEC_US = 1_000_000;
const MIN_US = 60 * SEC_US;
const DAY_US = 86_400 * SEC_US;
const DAY_MS = 86_400_000;
const TIMEOUT_US = 30 * MIN_US;

// PRNG stream ids: every random decision reads from a stream named by what it decides.
const S_PROFILE = 1;
const S_DAY = 2;
const S_CROSS = 3;
const S_LISTING = 4;
const S_USER_DIRT = 5;
const S_MIDNIGHT = 8;
/** Stream ids used by the server. */
export const S_FAULTS = 6;
export const S_CURSOR = 7;

const LOGIN = 0;
const VIEW = 1;
const ADD = 2;
const PURCHASE = 3;
const LOGOUT = 4;

const STATIC_PAGES = [
  "/", "/pricing", "/features", "/docs", "/docs/getting-started", "/docs/api", "/blog",
  "/blog/launch-week", "/blog/how-we-scale", "/about", "/careers", "/contact", "/search",
  "/account", "/account/settings", "/cart", "/checkout", "/help", "/integrations", "/changelog",
];
const PRODUCTS = 400;
const PAGES = [...STATIC_PAGES, ...Array.from({ length: PRODUCTS }, (_, i) => `/product/${i + 1}`)];
const PRODUCT_BASE = STATIC_PAGES.length;

const OFFSETS = [
  "+00:00", "+01:00", "+02:00", "+03:00", "+05:30", "+07:00", "+09:00", "+10:00",
  "-03:00", "-05:00", "-06:00", "-08:00", "-05:30", "+05:45", "-09:30",
] as const;
const OFFSET_MINUTES = OFFSETS.map((s) => (s[0] === "-" ? -1 : 1) * (Number(s.slice(1, 3)) * 60 + Number(s.slice(4, 6))));
/** Offset index meaning "print as Z". */
const OFF_Z = 255;
/** Odd device clocks (offsets no country of ours uses). */
const ODD_OFFSETS = [12, 13, 14];

/** Countries with a market weight and the offsets their clocks report (indexes into OFFSETS). */
const COUNTRIES: Array<[code: string, weight: number, offsets: number[]]> = [
  ["US", 22, [9, 11, 10]], ["DE", 9, [1, 2]], ["GB", 7, [0, 1]], ["FR", 6, [1, 2]], ["IN", 7, [4]],
  ["BR", 5, [8]], ["JP", 4, [6]], ["CA", 4, [9, 11]], ["ES", 3, [1, 2]], ["IT", 3, [1, 2]],
  ["NL", 3, [1, 2]], ["PL", 2, [1, 2]], ["SE", 2, [1, 2]], ["MX", 3, [10]], ["AU", 3, [7]],
  ["KR", 2, [6]], ["CH", 1, [1, 2]], ["AT", 1, [1, 2]], ["BE", 1, [1, 2]], ["NG", 2, [1]],
  ["ZA", 1, [2]], ["AR", 1, [8]], ["ID", 2, [5]], ["TR", 1, [3]],
];
const COUNTRY_WEIGHT_TOTAL = COUNTRIES.reduce((s, c) => s + c[1], 0);

const SIGNUP_FROM_S = Date.UTC(2024, 0, 1) / 1000;
const SIGNUP_TO_S = Date.UTC(2026, 8, 30) / 1000;
/** The users snapshot is "as of" this instant (fixed, so the data does not depend on the clock). */
const SNAPSHOT_S = Date.UTC(2026, 10, 30) / 1000;

/** Applies defaults and checks ranges; UsageError names the bad option. */
export function resolveDataset(options: DatasetOptions = {}): Dataset {
  const seed = options.seed ?? 42;
  const eventsPerDay = options.eventsPerDay ?? 20_000;
  if (!Number.isSafeInteger(seed)) throw new UsageError(`seed ${seed} is not an integer`);
  if (!Number.isSafeInteger(eventsPerDay) || eventsPerDay < 0 || eventsPerDay > 20_000_000) {
    throw new UsageError(`events per day ${eventsPerDay} is not an integer in 0..20000000`);
  }
  const users = options.users ?? Math.max(50, Math.round(eventsPerDay / 40));
  if (!Number.isSafeInteger(users) || users < 1 || users > 10_000_000) {
    throw new UsageError(`users ${users} is not an integer in 1..10000000`);
  }
  return { seed, eventsPerDay, users };
}

function datasetKey(ds: Dataset): string {
  return `${ds.seed}|${ds.eventsPerDay}|${ds.users}`;
}

// ---------------------------------------------------------------------------------------------
// User profiles (stable per user, shared by the users snapshot and the event generator)

interface Profiles {
  country: Uint8Array;
  plan: Uint8Array;
  signupS: Float64Array;
  updatedS: Float64Array;
  /** Relative activity (log-normal): a few power users, many light ones. */
  weight: Float64Array;
  offset: Uint8Array;
}

const PLANS = ["free", "pro", "enterprise"] as const;
const LOGNORMAL_MEAN = Math.exp(0.8 * 0.8 / 2);

const profileCache = new Map<string, Profiles>();

function profiles(ds: Dataset): Profiles {
  const key = datasetKey(ds);
  const hit = profileCache.get(key);
  if (hit) return hit;
  const n = ds.users + 1;
  const p: Profiles = {
    country: new Uint8Array(n), plan: new Uint8Array(n), signupS: new Float64Array(n),
    updatedS: new Float64Array(n), weight: new Float64Array(n), offset: new Uint8Array(n),
  };
  for (let u = 1; u <= ds.users; u++) {
    const rng = rngFrom(ds.seed, u, S_PROFILE);
    let pick = rng() * COUNTRY_WEIGHT_TOTAL;
    let c = 0;
    while (c < COUNTRIES.length - 1 && pick >= COUNTRIES[c]![1]) pick -= COUNTRIES[c++]![1];
    p.country[u] = c;
    const r = rng();
    p.plan[u] = r < 0.72 ? 0 : r < 0.95 ? 1 : 2;
    const signup = Math.floor(SIGNUP_FROM_S + rng() * (SIGNUP_TO_S - SIGNUP_FROM_S));
    p.signupS[u] = signup;
    p.updatedS[u] = Math.floor(signup + rng() * (SNAPSHOT_S - signup));
    p.weight[u] = Math.exp(0.8 * gauss(rng)) / LOGNORMAL_MEAN;
    const offs = COUNTRIES[c]![2];
    p.offset[u] = rng() < 0.02 ? ODD_OFFSETS[Math.floor(rng() * ODD_OFFSETS.length)]! : offs[Math.floor(rng() * offs.length)]!;
  }
  if (profileCache.size >= 4) profileCache.delete(profileCache.keys().next().value!);
  profileCache.set(key, p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Event generation

/** Growable columns of generated events (typed arrays: ~27 bytes an event while generating). */
class Cols {
  n = 0;
  user: Int32Array;
  ts: Float64Array;
  type: Uint8Array;
  page: Int16Array;
  cents: Int32Array;
  prec: Uint8Array;
  off: Uint8Array;
  /** 0: id of the previous day's session, 1: of this day's. */
  idDay: Uint8Array;
  /** >= 0: sequence number in the user's day; < 0: -(k+1) for event k of a midnight-crossing session. */
  seq: Int32Array;
  props: Uint8Array;

  constructor(capacity: number) {
    const c = Math.max(16, capacity);
    this.user = new Int32Array(c);
    this.ts = new Float64Array(c);
    this.type = new Uint8Array(c);
    this.page = new Int16Array(c);
    this.cents = new Int32Array(c);
    this.prec = new Uint8Array(c);
    this.off = new Uint8Array(c);
    this.idDay = new Uint8Array(c);
    this.seq = new Int32Array(c);
    this.props = new Uint8Array(c);
  }

  private grow(): void {
    const c = this.user.length * 2;
    const g = <T extends Int32Array | Float64Array | Uint8Array | Int16Array>(a: T, make: (n: number) => T): T => {
      const b = make(c);
      b.set(a as never);
      return b;
    };
    this.user = g(this.user, (n) => new Int32Array(n));
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.type = g(this.type, (n) => new Uint8Array(n));
    this.page = g(this.page, (n) => new Int16Array(n));
    this.cents = g(this.cents, (n) => new Int32Array(n));
    this.prec = g(this.prec, (n) => new Uint8Array(n));
    this.off = g(this.off, (n) => new Uint8Array(n));
    this.idDay = g(this.idDay, (n) => new Uint8Array(n));
    this.seq = g(this.seq, (n) => new Int32Array(n));
    this.props = g(this.props, (n) => new Uint8Array(n));
  }

  push(user: number, ts: number, type: number, page: number, cents: number, prec: number, off: number, idDay: number, seq: number, props: number): void {
    if (this.n === this.user.length) this.grow();
    const i = this.n++;
    this.user[i] = user;
    this.ts[i] = ts;
    this.type[i] = type;
    this.page[i] = page;
    this.cents[i] = cents;
    this.prec[i] = prec;
    this.off[i] = off;
    this.idDay[i] = idDay;
    this.seq[i] = seq;
    this.props[i] = props;
  }

  copyFrom(src: Cols, i: number, idDay: number): void {
    this.push(src.user[i]!, src.ts[i]!, src.type[i]!, src.page[i]!, src.cents[i]!, src.prec[i]!, src.off[i]!, idDay, src.seq[i]!, src.props[i]!);
  }
}

const PREC_UNIT = [SEC_US, 1000, 1];

/** Timestamp precision a producer reports: 0 seconds, 1 milliseconds, 2 microseconds. */
function pickPrecision(rng: Rng): number {
  const r = rng();
  return r < 0.15 ? 0 : r < 0.75 ? 1 : 2;
}

/** Rounds up to the precision, so a later event never prints earlier than the one before. */
function ceilTo(t: number, prec: number): number {
  const unit = PREC_UNIT[prec]!;
  return Math.ceil(t / unit) * unit;
}

/** Gap between two events of a session (µs): bursts, reading time, a few long pauses, ties. */
function intraGap(rng: Rng): number {
  const r = rng();
  if (r < 0.02) return 0; // same instant, same user
  if (r < 0.3) return Math.floor(100_000 + rng() * 3_900_000); // burst: within seconds
  if (r < 0.93) return Math.floor(Math.exp(Math.log(4 * SEC_US) + rng() * Math.log(45))); // 4 s .. 3 min
  return Math.floor(3 * MIN_US + rng() * 22 * MIN_US); // long read, still below the timeout
}

/** Gap between sessions of a user, including exact hits on the 30-minute timeout. */
function interGap(rng: Rng, meanUs: number): { gap: number; exact: boolean } {
  const r = rng();
  if (r < 0.04) return { gap: TIMEOUT_US, exact: true }; // exactly 30:00.000
  if (r < 0.08) return { gap: TIMEOUT_US + 1000, exact: true }; // 30:00.001
  if (r < 0.1) return { gap: TIMEOUT_US - 1000, exact: true }; // 29:59.999
  if (r < 0.12) return { gap: Math.floor(5 * MIN_US + rng() * 20 * MIN_US), exact: false }; // quick re-login
  return { gap: TIMEOUT_US + 1000 + Math.floor(-Math.log(1 - rng()) * meanUs), exact: false };
}

/** Number of events in a session: at least 2, mean about 8, a long tail. */
function sessionLength(rng: Rng): number {
  return Math.min(80, 2 + Math.floor(-Math.log(1 - rng()) * 6));
}

/**
 * Appends one session's events to `out`, starting at `start` (exact: that very instant; else
 * rounded up to the first event's precision). Returns the ts of the last event.
 */
function genSession(rng: Rng, out: Cols, user: number, offPref: number, idDay: number, seq0: number, crossing: boolean, start: number, exact: boolean, len: number): number {
  let t = start;
  let prevType = -1;
  let prevPage = -1;
  for (let k = 0; k < len; k++) {
    const prec = pickPrecision(rng);
    if (k === 0) t = exact ? start : ceilTo(start, prec);
    else {
      const g = intraGap(rng);
      if (g > 0) t = ceilTo(t + g, prec);
    }
    let type: number;
    let page = -1;
    let cents = 0;
    if (k === 0) type = LOGIN;
    else if (k === len - 1 && len >= 3 && rng() < 0.6) type = LOGOUT;
    else if (prevType === ADD && rng() < 0.4) {
      type = PURCHASE;
      page = 16; // /checkout
      cents = Math.round(Math.exp(Math.log(500) + rng() * Math.log(100)));
    } else if (prevType === VIEW && prevPage >= PRODUCT_BASE && rng() < 0.3) {
      type = ADD;
      page = prevPage;
    } else {
      type = VIEW;
      page = rng() < 0.35 ? PRODUCT_BASE + Math.floor(rng() * PRODUCTS) : Math.floor(rng() * PRODUCT_BASE);
    }
    const off = rng() < 0.6 ? OFF_Z : offPref;
    const props = propsVariant(rng, type);
    out.push(user, t, type, page, cents, prec, off, idDay, crossing ? -(k + 1) : seq0 + k, props);
    prevType = type;
    prevPage = page;
  }
  return t;
}

// Properties variants: 0 the usual shape, 1 with "amount": null or without page, 2 absent,
// 3 null, 4/5 schema drift (extra keys).
function propsVariant(rng: Rng, type: number): number {
  const r = rng();
  switch (type) {
    case LOGIN:
      return r < 0.5 ? 2 : r < 0.8 ? 3 : r < 0.995 ? 0 : 4;
    case VIEW:
    case ADD:
      return r < 0.0025 ? 4 : r < 0.005 ? 5 : r < 0.15 ? 1 : 0;
    case PURCHASE:
      return r < 0.01 ? 4 : r < 0.3 ? 1 : 0;
    default:
      return r < 0.7 ? 2 : 3;
  }
}

interface Crossing {
  start: number;
  end: number;
  cols: Cols;
}

/**
 * The session of `user` that starts shortly before the midnight ending day `dayNum` and continues
 * after it, or null. A pure function of (seed, user, day), so day D and day D+1 agree on it.
 */
function crossingSession(ds: Dataset, prof: Profiles, user: number, dayNum: number): Crossing | null {
  const rng = rngFrom(ds.seed, dayNum, user, S_CROSS);
  if (rng() >= 0.03) return null;
  const len = 3 + Math.floor(rng() * 10);
  const cols = new Cols(len);
  // Built relative to 0 (a whole second), then shifted by whole seconds: precisions stay exact.
  genSession(rng, cols, user, prof.offset[user]!, 0, 0, true, 0, true, len);
  let span = cols.ts[len - 1]!;
  if (span < 30 * SEC_US) {
    cols.ts[len - 1] = span + MIN_US;
    span += MIN_US;
  }
  const back = Math.ceil((span * (0.2 + 0.6 * rng())) / SEC_US) * SEC_US;
  const start = (dayNum + 1) * DAY_US - back;
  for (let k = 0; k < len; k++) cols.ts[k] = cols.ts[k]! + start;
  return { start, end: start + span, cols };
}

/** Where, within the first 30 minutes of day `dayNum`, a user's regular sessions may begin. */
function midnightShift(ds: Dataset, user: number, dayNum: number): number {
  return Math.floor(rngFrom(ds.seed, dayNum, user, S_MIDNIGHT)() * TIMEOUT_US);
}

/** All events whose ts falls in day `dayNum`, grouped by user, in time order per user. */
function generateEvents(ds: Dataset, dayNum: number): Cols {
  const prof = profiles(ds);
  const out = new Cols(Math.ceil(ds.eventsPerDay * 1.2) + 64);
  const dayStart = dayNum * DAY_US;
  const dayEnd = dayStart + DAY_US;
  const perUser = ds.eventsPerDay / ds.users;
  if (ds.eventsPerDay === 0) return out; // not even midnight-crossing sessions
  for (let u = 1; u <= ds.users; u++) {
    const offPref = prof.offset[u]!;
    const rng = rngFrom(ds.seed, dayNum, u, S_DAY);
    // The tail of yesterday's midnight-crossing session, if any.
    const prev = crossingSession(ds, prof, u, dayNum - 1);
    // Without a crossing session, a user's quiet spell around midnight lasts at least the timeout
    // (placed per user, so traffic stays smooth): sessions of two days never run into each other.
    let from = dayStart + midnightShift(ds, u, dayNum);
    let exactFrom = false;
    if (prev) {
      for (let k = 0; k < prev.cols.n; k++) if (prev.cols.ts[k]! >= dayStart) out.copyFrom(prev.cols, k, 0);
      const g = interGap(rng, 2 * 3600 * SEC_US);
      from = prev.end + g.gap;
      exactFrom = g.exact;
    }
    const next = crossingSession(ds, prof, u, dayNum);
    // Regular sessions must end before today's crossing session (with a timeout's gap) or midnight.
    const until = next ? next.start - TIMEOUT_US - 1000 : dayEnd - TIMEOUT_US - 1000 + midnightShift(ds, u, dayNum + 1);
    const active = rng() < 0.85;
    // 1.09 makes up for the sessions of busy users that no longer fit before midnight.
    const budget = active ? Math.round((perUser * 1.09 / 0.85) * prof.weight[u]! * (0.6 + 0.8 * rng())) : 0;
    if (budget > 0 && until - from > 10 * MIN_US) {
      const sessions = Math.max(1, Math.round(budget / 8));
      // A session takes ~10 min plus a gap of at least the timeout: spread the rest evenly.
      const meanGap = Math.max(2 * MIN_US, (until - from - sessions * 42 * MIN_US) / (sessions + 0.5));
      // After yesterday's tail an exact gap (30:00.000 and neighbours) is kept as is.
      let t = exactFrom ? from : from + Math.floor(rng() * Math.min(meanGap, until - from - 10 * MIN_US));
      let exact = exactFrom;
      let left = budget;
      let seq = 0;
      while (left > 0) {
        const len = Math.min(left, sessionLength(rng));
        const mark = out.n;
        const end = genSession(rng, out, u, offPref, 1, seq, false, t, exact, len);
        if (end > until) {
          out.n = mark; // does not fit before midnight: the day is over for this user
          break;
        }
        left -= len;
        seq += len;
        const g = interGap(rng, meanGap);
        t = end + g.gap;
        exact = g.exact;
        if (t >= until) break;
      }
    }
    if (next) {
      for (let k = 0; k < next.cols.n; k++) if (next.cols.ts[k]! < dayEnd) out.copyFrom(next.cols, k, 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serialization

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const dateCache = new Map<number, string>();

/** "YYYY-MM-DDT" of a day number (memoized: a listing touches only a few days). */
function datePrefix(dayNum: number): string {
  let s = dateCache.get(dayNum);
  if (s === undefined) {
    s = `${formatDay(new Date(dayNum * DAY_MS))}T`;
    if (dateCache.size > 1000) dateCache.clear();
    dateCache.set(dayNum, s);
  }
  return s;
}

/** Effective precision: never coarser than what the instant needs to be exact. */
function precisionOf(t: number, prec: number): number {
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
const DRIFT_VIEW = [`,"referrer":"https://www.google.com/"`, `,"utm":{"source":"newsletter","campaign":"black-friday"}`];

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
function eventJson(c: Cols, i: number, ymd: readonly [string, string], dayStart: number, dirty: number, aux: number): string {
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

// Hot path: clean events are written byte by byte into the listing buffer (no intermediate
// strings: this is 3-4x faster than template strings for a million records). Dirty records,
// 0.1%, go through eventJson. A test checks both paths agree.

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
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

/** A growable byte buffer written at `pos`. */
class ByteOut {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, capacity));
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  bytes(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
    this.pos = p;
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  int(n: number): void {
    if (n < 10) {
      this.buf[this.pos++] = 48 + n;
      return;
    }
    let digits = 2;
    for (let x = 100; x <= n; x *= 10) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (n > 0) {
      const q = Math.floor(n / 10);
      this.buf[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  /** `n` zero-padded to `width` digits. */
  padded(n: number, width: number): void {
    let p = this.pos + width;
    this.pos = p;
    for (let i = 0; i < width; i++) {
      const q = Math.floor(n / 10);
      this.buf[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  /** An ASCII string (the rare path). */
  str(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, "latin1");
  }
}

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
function writeCleanEvent(out: ByteOut, c: Cols, i: number, ymd: readonly [Uint8Array, Uint8Array]): void {
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

/**
 * Writes records (each + ",") into one buffer, tracking offsets; chunked to keep calls few.
 * Offsets come from string lengths, right because every generated record is ASCII.
 */
function buildListing(count: number, record: (k: number) => string, estimate: number): Listing {
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

/** Generates a day's listing: events of the day, dirtied, shuffled, with duplicates on later pages. */
function generateDay(ds: Dataset, dt: string): Listing {
  const dayNum = Math.round(Date.parse(`${dt}T00:00:00Z`) / DAY_MS);
  const dayStart = dayNum * DAY_US;
  const cols = generateEvents(ds, dayNum);
  const n = cols.n;
  const rng = rngFrom(ds.seed, dayNum, S_LISTING);

  // Dirty records: a fixed share, kinds dealt round-robin so every kind shows up.
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

  // Unordered pages: a full shuffle of the day.
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }

  // At-least-once delivery: copies inserted at least DUPLICATE_MIN_DISTANCE records later.
  const minGap = Math.min(DUPLICATE_MIN_DISTANCE, Math.floor(n / 4));
  const dupCount = n >= 8 ? Math.round(n * DUPLICATE_SHARE) : 0;
  const dups: Array<{ before: number; event: number }> = [];
  for (let j = 0; j < dupCount; j++) {
    const p = Math.floor(rng() * (n - minGap));
    const before = p + minGap + 1 + Math.floor(rng() * (n - p - minGap)); // in (p + minGap, n]
    dups.push({ before, event: perm[p]! });
  }
  dups.sort((a, b) => a.before - b.before);
  const total = n + dups.length;
  const order = new Int32Array(total);
  let k = 0;
  let d = 0;
  for (let p = 0; p <= n; p++) {
    while (d < dups.length && dups[d]!.before === p) order[k++] = dups[d++]!.event;
    if (p < n) order[k++] = perm[p]!;
  }

  // Each event is serialized once, in generation order (sequential reads of the columns are twice
  // as fast as gathering them in listing order), then the bytes are gathered into listing order:
  // one copy per record now instead of one per record on every page served.
  const ymd = [formatDay(new Date((dayNum - 1) * DAY_MS)).replaceAll("-", ""), dt.replaceAll("-", "")] as const;
  const ymdBytes = [ascii(ymd[0]), ascii(ymd[1])] as const;
  const out = new ByteOut(n * 145);
  const starts = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    starts[i] = out.pos;
    const dk = dirty[i]!;
    if (dk === 0) writeCleanEvent(out, cols, i, ymdBytes);
    else out.str(eventJson(cols, i, ymd, dayStart, dk, aux.get(i)!));
    out.byte(44); // ","
  }
  starts[n] = out.pos;
  let size = out.pos;
  for (const dup of dups) size += starts[dup.event + 1]! - starts[dup.event]!;
  const buf = Buffer.allocUnsafeSlow(size);
  const offsets = new Uint32Array(total + 1);
  const keys = new Float64Array(total);
  let pos = 0;
  for (let q = 0; q < total; q++) {
    const i = order[q]!;
    offsets[q] = pos;
    pos += out.buf.copy(buf, pos, starts[i]!, starts[i + 1]!);
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
  const ymd = [formatDay(new Date((dayNum - 1) * DAY_MS)).replaceAll("-", ""), dt.replaceAll("-", "")] as const;
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

// ---------------------------------------------------------------------------------------------
// Users snapshot

const BAD_COUNTRIES = ["Germany", "United States", "de", "GBR"];
const BAD_PLANS = ["gold", "Pro", "premium"];

function isoSeconds(s: number): string {
  return `${new Date(s * 1000).toISOString().slice(0, 19)}Z`;
}

function generateUsers(ds: Dataset): Listing {
  const prof = profiles(ds);
  const rng = rngFrom(ds.seed, ds.users, S_USER_DIRT);
  const dirtyCount = Math.min(ds.users, Math.max(DIRTY_USER_KINDS.length, Math.round(ds.users * DIRTY_SHARE)));
  const dirty = new Map<number, number>();
  for (let j = 0; j < dirtyCount; ) {
    const u = 1 + Math.floor(rng() * ds.users);
    if (dirty.has(u)) continue;
    dirty.set(u, j % DIRTY_USER_KINDS.length);
    j++;
  }
  const records: string[] = [];
  const user = (u: number, id: string, country: string, plan: string): string =>
    `{"user_id":${id},"country":"${country}","plan":"${plan}","signup_ts":"${isoSeconds(prof.signupS[u]!)}","updated_at":"${isoSeconds(prof.updatedS[u]!)}"}`;
  for (let u = 1; u <= ds.users; u++) {
    const country = COUNTRIES[prof.country[u]!]![0];
    const plan = PLANS[prof.plan[u]!]!;
    const kind = dirty.get(u);
    if (kind === 0) records.push(user(u, String(u), BAD_COUNTRIES[u % BAD_COUNTRIES.length]!, plan));
    else if (kind === 1) records.push(user(u, String(u), country, BAD_PLANS[u % BAD_PLANS.length]!));
    else records.push(user(u, String(u), country, plan));
    // A ghost record next to a real one: the real user stays in the snapshot.
    if (kind === 2) records.push(user(u, "null", country, plan));
  }
  return buildListing(records.length, (k) => records[k]!, records.length * 140);
}

// ---------------------------------------------------------------------------------------------
// Cache

/** Bytes of generated listings kept in memory across all servers of the process. */
const CACHE_MAX_BYTES = 640 * 1024 * 1024;
const CACHE_MAX_ENTRIES = 6;
const cache = new Map<string, Listing>();

function cached(key: string, make: () => Listing): Listing {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // re-insert: Map order is the LRU order
    cache.set(key, hit);
    return hit;
  }
  const listing = make();
  cache.set(key, listing);
  let bytes = 0;
  for (const l of cache.values()) bytes += l.bytes;
  for (const [k, l] of cache) {
    if (cache.size <= 1 || (bytes <= CACHE_MAX_BYTES && cache.size <= CACHE_MAX_ENTRIES)) break;
    if (k === key) continue;
    cache.delete(k);
    bytes -= l.bytes;
  }
  return listing;
}

/** The listing served for a UTC day (generated on first use, then cached). */
export function dayListing(ds: Dataset, dt: string): Listing {
  return cached(`events|${datasetKey(ds)}|${dt}`, () => generateDay(ds, dt));
}

/** The users snapshot listing (generated on first use, then cached). */
export function usersListing(ds: Dataset): Listing {
  return cached(`users|${datasetKey(ds)}`, () => generateUsers(ds));
}

/** Forgets every cached listing (frees memory; the next request regenerates). */
export function clearDemoApiCache(): void {
  cache.clear();
  profileCache.clear();
}

/** Bytes currently held by the listing cache. */
export function demoApiCacheBytes(): number {
  let bytes = 0;
  for (const l of cache.values()) bytes += l.bytes;
  return bytes;
}

function parseListing(l: Listing): unknown[] {
  if (l.count === 0) return [];
  return JSON.parse(`[${recordsJoined(l, 0, l.count).toString("latin1")}]`) as unknown[];
}

/**
 * Exactly the sequence of event records the server serves for the day across all pages in order
 * (duplicates included, dirty ones included), independent of page size.
 */
export function dayEvents(options: Pick<DatasetOptions, "seed" | "eventsPerDay" | "users">, dt: string): unknown[] {
  return parseListing(dayListing(resolveDataset(options), parseDay(dt)));
}

/** Every record of the users snapshot, in the order the users endpoint serves them. */
export function allUsers(options: Pick<DatasetOptions, "seed" | "eventsPerDay" | "users">): unknown[] {
  return parseListing(usersListing(resolveDataset(options)));
}

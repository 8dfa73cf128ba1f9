/**
 * Event generation: a user's sessions of a day (bursts, ties, exact 30-minute gaps, sessions
 * across midnight), as columns. A pure function of (seed, eventsPerDay, users, day).
 */
import { rngFrom, type Rng } from "./prng.ts";
import { DAY_US, MIN_US, S_CROSS, S_DAY, S_MIDNIGHT, SEC_US, TIMEOUT_US, type Dataset } from "./dataset.ts";
import { Cols } from "./event-columns.ts";
import { profiles, type Profiles } from "./profiles.ts";
import { ADD, LOGIN, LOGOUT, OFF_Z, PRODUCT_BASE, PRODUCTS, PURCHASE, VIEW } from "./vocabulary.ts";

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
export function generateEvents(ds: Dataset, dayNum: number): Cols {
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

/**
 * RFC 3339 timestamps to UTC microseconds, parsed on char codes: this runs once per record
 * (a million times per day of events), so no regexes, no Date.parse, no allocations.
 */

/** Result slots of the last successful parse (avoids allocating a result object per call). */
export interface TimestampParts {
  /** Whole seconds since the Unix epoch, UTC. */
  seconds: number;
  /** Microseconds within the second, 0..999999 (fractions beyond microseconds are truncated). */
  micros: number;
}

const C0 = 48; // '0'

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - C0;
  return c >= 0 && c <= 9 ? c : -1;
}

function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into `out`; returns false when the text is not
 * such a timestamp (wrong shape, month 13, Feb 30, hour 24, missing offset, ...). `T`/`t`/space
 * separate date and time, `Z`/`z` mean UTC, 1-9 fraction digits are accepted (truncated to µs);
 * a leap second `:60` (minute 59 only) is read as :59.999999.
 */
export function parseRfc3339(s: string, out: TimestampParts): boolean {
  const n = s.length;
  if (n < 20) return false;
  // The fixed positions are read inline (a call per digit cost a third of the time): `c - 48`
  // as an unsigned number is a digit exactly when it is at most 9.
  const y0 = s.charCodeAt(0) - C0;
  const y1 = s.charCodeAt(1) - C0;
  const y2 = s.charCodeAt(2) - C0;
  const y3 = s.charCodeAt(3) - C0;
  const mo0 = s.charCodeAt(5) - C0;
  const mo1 = s.charCodeAt(6) - C0;
  const d0 = s.charCodeAt(8) - C0;
  const d1 = s.charCodeAt(9) - C0;
  const h0 = s.charCodeAt(11) - C0;
  const h1 = s.charCodeAt(12) - C0;
  const mi0 = s.charCodeAt(14) - C0;
  const mi1 = s.charCodeAt(15) - C0;
  const s0 = s.charCodeAt(17) - C0;
  const s1 = s.charCodeAt(18) - C0;
  if ((y0 >>> 0) > 9 || (y1 >>> 0) > 9 || (y2 >>> 0) > 9 || (y3 >>> 0) > 9 || (mo0 >>> 0) > 9 || (mo1 >>> 0) > 9 || (d0 >>> 0) > 9 || (d1 >>> 0) > 9) return false;
  if ((h0 >>> 0) > 9 || (h1 >>> 0) > 9 || (mi0 >>> 0) > 9 || (mi1 >>> 0) > 9 || (s0 >>> 0) > 9 || (s1 >>> 0) > 9) return false;
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false; // '-'
  const month = mo0 * 10 + mo1;
  const day = d0 * 10 + d1;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 116 && sep !== 32) return false; // 'T' 't' ' '
  const hour = h0 * 10 + h1;
  const minute = mi0 * 10 + mi1;
  const second = s0 * 10 + s1;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false; // ':'
  if (hour > 23 || minute > 59 || second > 60) return false;
  // A leap second (RFC 3339 allows :60, in the last minute of a UTC day, local offset applied) has
  // no POSIX time of its own: it is read as the last microsecond of the minute, xx:59.999999, so it
  // stays in its day and in order, before the next minute's first event.
  const leap = second === 60;
  if (leap && minute !== 59) return false;
  let i = 19;
  let micros = 0;
  if (s.charCodeAt(i) === 46) {
    // '.': 1..9 digits; keep the first six as microseconds
    i++;
    let digits = 0;
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - C0;
      if ((d >>> 0) > 9) break;
      if (digits < 6) micros = micros * 10 + d;
      digits++;
    }
    if (digits === 0 || digits > 9) return false;
    for (let k = digits; k < 6; k++) micros *= 10;
  }
  if (i >= n) return false; // no offset
  const offsetSeconds = zoneOffset(s, i, n);
  if (offsetSeconds === null) return false;
  out.seconds = dayNumber(year, month, day) * 86400 + hour * 3600 + minute * 60 + (leap ? 59 : second) - offsetSeconds;
  out.micros = leap ? 999_999 : micros;
  return true;
}

let lastDate = -1;
let lastDays = 0;

/** daysFromCivil, remembering the last date: a day's timestamps mostly share it. */
function dayNumber(year: number, month: number, day: number): number {
  const date = year * 10000 + month * 100 + day;
  if (date !== lastDate) {
    lastDays = daysFromCivil(year, month, day);
    lastDate = date;
  }
  return lastDays;
}

/** Seconds east of UTC of the zone at `i` (`Z`/`z` or `±HH:MM`, ending the text), or null. */
function zoneOffset(s: string, i: number, n: number): number | null {
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) return i + 1 === n ? 0 : null; // 'Z' 'z'
  if (z !== 43 && z !== 45) return null; // '+' '-' HH:MM
  if (i + 6 !== n || s.charCodeAt(i + 3) !== 58) return null;
  const oh = two(s, i + 1);
  const om = two(s, i + 4);
  if (oh < 0 || oh > 23 || om < 0 || om > 59) return null;
  return (oh * 3600 + om * 60) * (z === 45 ? -1 : 1);
}

/** UTC microseconds since the epoch of an RFC 3339 timestamp as a bigint, or null when unparseable. */
export function rfc3339ToMicros(s: string): bigint | null {
  const parts: TimestampParts = { seconds: 0, micros: 0 };
  if (!parseRfc3339(s, parts)) return null;
  return BigInt(parts.seconds) * 1_000_000n + BigInt(parts.micros);
}

/** Small scanners over JSON text and bytes shared by the page inspection, the piece cutter and the raw-record slicer. */

/** What one pass over a page's JSON finds for the inspection (page-inspection.ts). */
export interface TextScan {
  /** Some object may give a key twice (hashes of raw keys matched: a collision only costs the exact pass). */
  duplicate: boolean;
  /** Every integer literal of 16 or more digits, as written. */
  longIntegers: string[];
}

/** The keys of the objects open at each depth of a scan, by a 32-bit FNV-1a hash of their raw text. */
export class KeyHashes {
  duplicate = false;
  private readonly hashes: number[][] = [];
  private readonly counts: number[] = [];

  /** An object opens at `depth`: it has no keys yet. */
  open(depth: number): void {
    this.hashes[depth] ??= [];
    this.counts[depth] = 0;
  }

  /** A key of the object at `depth`, by its hash (fnv1a). */
  add(depth: number, h: number): void {
    const seen = this.hashes[depth];
    if (!seen) return;
    const count = this.counts[depth] ?? 0;
    for (let q = 0; q < count; q++) if (seen[q] === h) this.duplicate = true;
    seen[count] = h;
    this.counts[depth] = count + 1;
  }
}

/** FNV-1a's offset basis and prime (32-bit), for KeyHashes. */
export const FNV_BASIS = 0x811c9dc5 | 0;
export const FNV_PRIME = 16777619;

/** Whether `c` is an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A character of a JSON number: digits, sign, fraction point, exponent. */
export function isNumberChar(c: number): boolean {
  return isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** Integer literals this long or longer may be beyond ±2^53, where JSON.parse rounds them. */
export const LONG_INTEGER_DIGITS = 16;

/**
 * The index of the quote closing the string whose opening quote is at `i`, or -1 when the text ends
 * first. indexOf runs natively (much faster than a loop over char codes for typical short strings);
 * a quote preceded by an odd number of backslashes is escaped and skipped.
 */
export function closingQuote(s: string, i: number): number {
  let j = s.indexOf('"', i + 1);
  while (j > 0 && s.charCodeAt(j - 1) === 0x5c) {
    let k = j - 1;
    while (s.charCodeAt(k) === 0x5c) k--;
    if ((j - 1 - k) % 2 === 0) break;
    j = s.indexOf('"', j + 1);
  }
  return j;
}

/** closingQuote over bytes: the index of the quote closing the string opened at `i`, or -1. */
export function closingQuoteByte(b: Uint8Array, i: number): number {
  let j = b.indexOf(0x22, i + 1);
  while (j > 0 && b[j - 1] === 0x5c) {
    let k = j - 1;
    while (b[k] === 0x5c) k--;
    if ((j - 1 - k) % 2 === 0) break;
    j = b.indexOf(0x22, j + 1);
  }
  return j;
}

/** The index of the first byte at or after `i` that is not JSON whitespace (or the length). */
export function skipSpaceByte(b: Uint8Array, i: number): number {
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i;
}

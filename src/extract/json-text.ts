/** Small scanners over JSON text and bytes shared by the page inspection, the piece cutter and the raw-record slicer. */

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

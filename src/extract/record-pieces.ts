/**
 * Parsing a large page in pieces. V8 keeps a string of more than 128 KiB outside its young
 * generation, in memory mapped for that one string, faulted in page by page and unmapped after the
 * next collection: turning a 140 KB page into one string took 0.6 ms here, more than JSON.parse of
 * it (0.45 ms), where pieces of 48 KiB take 0.02 ms. So a body whose records are an array (the body
 * itself, or the value of one top-level key) is cut between array elements, found by one scan of
 * the bytes, and each piece is decoded and parsed alone; the rest of the body is parsed with an
 * empty array in the records' place. The same scan does the page inspection's pass (keys an object
 * may repeat, integers too long to be exact), so the text is walked once, not twice.
 *
 * The result is exactly JSON.parse of the whole body, or null when that cannot be promised cheaply
 * (a byte order mark, a top-level key with escapes or given twice, no array there, anything that is
 * not valid JSON): the caller then parses the whole body as before.
 */
import { Buffer } from "node:buffer";
import { FNV_BASIS, FNV_PRIME, KeyHashes, LONG_INTEGER_DIGITS, closingQuoteByte, isDigit, isNumberChar, skipSpaceByte, type TextScan } from "./json-text.ts";

/** Bytes per piece: well under V8's 128 KiB limit even when every character takes two bytes. */
const PIECE_BYTES = 48 * 1024;

/** A body parsed in pieces: the parsed body, its records array, and the texts that were parsed. */
export interface PiecewiseParse {
  json: unknown;
  records: unknown[];
  /** The texts parsed (the body around the records, then each piece). */
  texts: string[];
  /** The page inspection's pass over the whole body (see scanText). */
  scan: TextScan;
}

/** Where a body's records array lies, and the commas it is cut at. */
interface ArraySpan {
  open: number;
  close: number;
  cuts: number[];
  scan: TextScan;
}

/**
 * Parses `body` in pieces when its records are an array at `keys` (none: the body; one: a
 * top-level key) and it is larger than a piece; null when it is not worth it or not certain.
 */
export function parseInPieces(body: Buffer, keys: readonly string[]): PiecewiseParse | null {
  if (body.length <= PIECE_BYTES || keys.length > 1) return null;
  const span = arraySpan(body, keys.length === 0 ? undefined : Buffer.from(keys[0] as string, "utf8"));
  if (!span) return null;
  try {
    return parseSpan(body, span, keys[0]);
  } catch {
    return null;
  }
}

/** Parses the body around the array and each piece of it. */
function parseSpan(body: Buffer, span: ArraySpan, key: string | undefined): PiecewiseParse | null {
  const texts: string[] = [];
  let json: unknown;
  if (key !== undefined) {
    const around = body.toString("utf8", 0, span.open) + "[]" + body.toString("utf8", span.close + 1);
    texts.push(around);
    json = JSON.parse(around);
    // the empty array must sit at the key, as the scan found it
    const placed = json !== null && typeof json === "object" ? (json as Record<string, unknown>)[key] : undefined;
    if (!Array.isArray(placed) || placed.length !== 0) return null;
  }
  const records: unknown[] = [];
  let from = span.open + 1;
  const ends = [...span.cuts, span.close];
  for (const end of ends) {
    const text = `[${body.toString("utf8", from, end)}]`;
    texts.push(text);
    const part = JSON.parse(text) as unknown[];
    // an empty piece beside another is an empty element ("[a,]"): invalid JSON, which whole parsing reports
    if (part.length === 0 && ends.length > 1) return null;
    for (const record of part) records.push(record);
    from = end + 1;
  }
  if (key === undefined) return { json: records, records, texts, scan: span.scan };
  (json as Record<string, unknown>)[key] = records;
  return { json, records, texts, scan: span.scan };
}

/**
 * The records array of a body that is that array (no `key`) or an object whose `key` (given once,
 * unescaped) holds it; whitespace only before and after the body's value.
 */
function arraySpan(body: Buffer, key: Buffer | undefined): ArraySpan | null {
  const start = skipSpaceByte(body, 0);
  if (body[start] !== (key ? 0x7b : 0x5b)) return null;
  const scan = new StructureScan(body, start, key ? 2 : 1, key);
  const span = scan.run();
  return span && skipSpaceByte(body, scan.end) === body.length ? span : null;
}

/**
 * One pass over the bytes of a JSON value starting at `start`: brackets matched by kind, strings
 * skipped (UTF-8 continuation bytes never equal an ASCII delimiter), the array at `arrayDepth` (the
 * root, or the value of `key` in the root object) located, and cut at element commas every
 * PIECE_BYTES or so; every object's keys hashed and long integer literals kept (TextScan).
 */
class StructureScan {
  /** Index just past the value once run() succeeded. */
  end = 0;
  private readonly isObject: boolean[] = [];
  private open = -1;
  private close = -1;
  private matches = 0;
  /** True right after `key` was read as a key of the root object, until its value starts. */
  private keyRead = false;
  private expectKey = false;
  private readonly cuts: number[] = [];
  private readonly keys = new KeyHashes();
  private readonly longIntegers: string[] = [];

  constructor(
    private readonly b: Buffer,
    private readonly start: number,
    private readonly arrayDepth: 1 | 2,
    private readonly key?: Buffer,
  ) {}

  run(): ArraySpan | null {
    const b = this.b;
    let depth = 0;
    let last = 0;
    for (let i = this.start; i < b.length; i++) {
      const c = b[i] as number;
      if (c === 0x22) {
        const end = closingQuoteByte(b, i);
        if (end < 0 || !this.onString(depth, i, end)) return null;
        i = end;
      } else if (c === 0x7b || c === 0x5b) {
        if (depth === 1 && this.keyRead) {
          if (c !== 0x5b) return null;
          this.keyRead = false;
        }
        this.isObject[++depth] = c === 0x7b;
        this.expectKey = c === 0x7b;
        if (this.expectKey) this.keys.open(depth);
        if (depth === this.arrayDepth && this.open < 0 && (this.arrayDepth === 1 || this.matches === 1)) {
          this.open = i;
          last = i;
        }
      } else if (c === 0x7d || c === 0x5d) {
        if (this.isObject[depth] !== (c === 0x7d)) return null;
        if (depth === this.arrayDepth && this.open >= 0 && this.close < 0) this.close = i;
        if (--depth === 0) {
          this.end = i + 1;
          return this.span();
        }
      } else if (c === 0x2c) {
        this.expectKey = this.isObject[depth] === true;
        if (depth === this.arrayDepth && this.open >= 0 && this.close < 0 && i - last > PIECE_BYTES) {
          this.cuts.push(i);
          last = i;
        }
      } else if (depth === 1 && this.keyRead && c !== 0x3a && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        return null; // the key holds a number, literal or garbage: not an array
      } else if (c === 0x2d || isDigit(c)) {
        i = this.onNumber(i) - 1;
      }
    }
    return null;
  }

  /** Notes a string; false when the body is not one this scan can promise (escaped or repeated top-level key). */
  private onString(depth: number, i: number, end: number): boolean {
    if (depth === 1 && this.keyRead) return false; // the key holds a string
    if (!this.expectKey) return true;
    this.expectKey = false;
    const b = this.b;
    let h = FNV_BASIS;
    for (let q = i + 1; q < end; q++) h = Math.imul(h ^ (b[q] as number), FNV_PRIME);
    this.keys.add(depth, h);
    if (!(depth === 1 && this.key)) return true;
    if (b.subarray(i + 1, end).includes(0x5c)) return false;
    const key = this.key;
    if (end - i - 1 === key.length && this.b.compare(key, 0, key.length, i + 1, end) === 0) {
      if (++this.matches > 1) return false;
      this.keyRead = true;
    }
    return true;
  }

  /** Skips the number starting at `i`, keeping it when it is a long integer literal; returns the index past it. */
  private onNumber(i: number): number {
    const b = this.b;
    let end = i + 1;
    // an optional minus (at i), then digits only
    let integer = true;
    while (end < b.length && isNumberChar(b[end] as number)) {
      if (!isDigit(b[end] as number)) integer = false;
      end++;
    }
    if (integer && end - i >= LONG_INTEGER_DIGITS) this.longIntegers.push(b.toString("latin1", i, end));
    return end;
  }

  private span(): ArraySpan | null {
    if (!(this.open >= 0 && this.close > this.open && !this.keyRead)) return null;
    return { open: this.open, close: this.close, cuts: this.cuts, scan: { duplicate: this.keys.duplicate, longIntegers: this.longIntegers } };
  }
}

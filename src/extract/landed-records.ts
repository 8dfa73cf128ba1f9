/**
 * Raw records back out of landed pages, for quarantine: the exact text the source sent, sliced out
 * by a scanner (strings and nesting aware) instead of a full parse of every page.
 */
import { Buffer } from "node:buffer";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { SluiceError } from "../core/errors.ts";
import { pathKeys, type JsonPath } from "./json-path.ts";
import { closingQuoteByte, skipSpaceByte } from "./json-text.ts";
import { pageFileName, recordsOf, type RecordsLocation } from "./landing.ts";

/**
 * Raw JSON text of landed records by (page, row) as found in an extracted frame's _page/_row,
 * in the order of `refs`. Each page file is parsed once.
 */
export async function readLandedRecords(landingDir: string, at: RecordsLocation | JsonPath, refs: ReadonlyArray<{ page: number; row: number }>): Promise<string[]> {
  const where: RecordsLocation = typeof at === "object" && !Array.isArray(at) ? (at as RecordsLocation) : { path: at as JsonPath, single: false };
  const byPage = new Map<number, number[]>();
  refs.forEach((r, i) => {
    const list = byPage.get(r.page);
    if (list) list.push(i);
    else byPage.set(r.page, [i]);
  });
  const out = new Array<string>(refs.length);
  const pages = [...byPage];
  // the next file is read while this one is scanned
  let reading = pages.length > 0 ? readLandedPage(landingDir, pages[0]![0]) : undefined;
  for (let p = 0; p < pages.length; p++) {
    const [page, indexes] = pages[p]!;
    const file = path.join(landingDir, pageFileName(page));
    const body = await reading!;
    reading = p + 1 < pages.length ? readLandedPage(landingDir, pages[p + 1]![0]) : undefined;
    // A few records of a page are wanted: slice their exact bytes out with a scanner (no objects
    // built, no string of the whole page, and no further than the last row wanted), and fall back
    // to a full parse only when the scanner cannot follow the body.
    const bytes = hasBom(body) ? body.subarray(3) : body;
    const lastRow = indexes.reduce((max, i) => Math.max(max, refs[i]!.row), -1);
    const spans = where.single ? null : recordSpans(bytes, pathKeys(where.path), lastRow);
    const parsed = spans ? null : recordsOf(bytes.toString("utf8"), where);
    if (!spans && !parsed) throw new SluiceError(`landed page ${file} holds no records at ${JSON.stringify(where.path)}`);
    const count = spans ? spans.length : (parsed?.records.length ?? 0);
    for (const i of indexes) {
      const row = refs[i]!.row;
      if (row < 0 || row >= count) throw new SluiceError(`landed page ${page} has no row ${row} (it has ${count})`);
      const span = spans?.[row];
      out[i] = span ? bytes.toString("utf8", span[0], span[1]) : JSON.stringify(parsed?.records[row]);
    }
  }
  return out;
}

/** True when the body starts with a UTF-8 byte order mark. */
function hasBom(b: Buffer): boolean {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}

/** A landed page's bytes; a SluiceError naming the file when it is missing (never an unhandled rejection). */
function readLandedPage(landingDir: string, page: number): Promise<Buffer> {
  const file = path.join(landingDir, pageFileName(page));
  const read = readFile(file).catch((cause: unknown) => {
    throw new SluiceError(`landed page ${page} is missing (${file})`, { cause, hint: "re-extract the partition (--refetch)" });
  });
  read.catch(() => undefined);
  return read;
}

/**
 * Start and end byte offsets of each element of the array at `path` in a JSON body, found by scanning
 * (strings and nesting aware) instead of parsing; null when the text is not shaped as expected.
 * With `throughRow`, the scan stops once that element (0-based) is found: the spans then end there
 * and the rest of the text is not looked at.
 */
export function recordSpans(text: Uint8Array, path: readonly string[], throughRow = Infinity): Array<[number, number]> | null {
  try {
    let i = skipSpaceByte(text, 0);
    for (const key of path) {
      i = valueOfKey(text, i, key);
      if (i < 0) return null;
    }
    if (text[i] !== 0x5b /* [ */) return null;
    const spans: Array<[number, number]> = [];
    i = skipSpaceByte(text, i + 1);
    if (text[i] === 0x5d /* ] */) return spans;
    for (;;) {
      const start = i;
      i = skipValue(text, i);
      if (i < 0) return null;
      spans.push([start, i]);
      if (spans.length > throughRow) return spans;
      i = skipSpaceByte(text, i);
      const c = text[i];
      if (c === 0x5d) return spans;
      if (c !== 0x2c /* , */) return null;
      i = skipSpaceByte(text, i + 1);
    }
  } catch {
    return null;
  }
}

/** Index just past the string starting at i (a quote), or -1. */
function skipString(text: Uint8Array, i: number): number {
  const end = closingQuoteByte(text, i);
  return end < 0 ? -1 : end + 1;
}

/** Index just past the JSON value starting at i, or -1. */
function skipValue(text: Uint8Array, i: number): number {
  const first = text[i];
  if (first === 0x22) return skipString(text, i);
  if (first !== 0x7b && first !== 0x5b) {
    // number, true, false, null: up to the next delimiter
    while (i < text.length) {
      const c = text[i];
      if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === 0x22) {
      i = skipString(text, i);
      if (i < 0) return -1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/** In the object starting at i, the index of the value of `key`, or -1. */
function valueOfKey(text: Uint8Array, i: number, key: string): number {
  if (text[i] !== 0x7b /* { */) return -1;
  i = skipSpaceByte(text, i + 1);
  while (text[i] === 0x22) {
    const end = skipString(text, i);
    if (end < 0) return -1;
    const name = JSON.parse(Buffer.from(text.buffer, text.byteOffset + i, end - i).toString("utf8")) as string;
    i = skipSpaceByte(text, end);
    if (text[i] !== 0x3a /* : */) return -1;
    i = skipSpaceByte(text, i + 1);
    if (name === key) return i;
    i = skipValue(text, i);
    if (i < 0) return -1;
    i = skipSpaceByte(text, i);
    if (text[i] !== 0x2c) return -1;
    i = skipSpaceByte(text, i + 1);
  }
  return -1;
}


/**
 * What JSON.parse hides about a page, found once per page and kept beside its records array (never
 * inside a record) for the decoder: bytes that are not UTF-8 (decoded as U+FFFD), keys that appear
 * twice in one object (JSON.parse keeps the last), and integers beyond ±2^53 (parsed rounded).
 *
 * Cost: a page that is valid UTF-8 costs one native check (Buffer isUtf8). Duplicate keys and long
 * integers need one pass over the text (about half of JSON.parse's time), which a page parsed in
 * pieces gets from the pass that cuts it (record-pieces.ts); only a page where that pass finds
 * something is walked again, exactly, to name the records and fields.
 */
import { isUtf8 } from "node:buffer";
import { typeIssue, type DecodeIssue } from "./decode-issue.ts";
import { pathKeys, type JsonPath } from "./json-path.ts";
import { FNV_BASIS, FNV_PRIME, KeyHashes, LONG_INTEGER_DIGITS, closingQuote, isDigit, isNumberChar, type TextScan } from "./json-text.ts";

/** Findings of one page, by record row. */
export interface PageFindings {
  /** Row -> the record's problem (invalid UTF-8, duplicate key); wins over type issues. */
  issues: Map<number, DecodeIssue>;
  /** A parsed (rounded) integer -> the digits the page had for it, for integers beyond ±2^53. */
  bigIntegers: Map<number, string>;
}

const findings = new WeakMap<readonly unknown[], PageFindings>();

/** The findings of the page whose records array this is (undefined: nothing to report). */
export function pageFindings(records: readonly unknown[]): PageFindings | undefined {
  return findings.get(records);
}

/** Where a page's records sit, as recordsOf knows it. */
export interface RecordsAt {
  path: JsonPath;
  single: boolean;
}

/**
 * Inspects a parsed page: `body` as received, `scan` the pass over its text (scanText, or the
 * piece cutter's), `whole` the body's text for the rare exact pass, `records` as found at `at`.
 */
export function inspectPage(body: Buffer, scan: TextScan, whole: () => string, records: readonly unknown[], at: RecordsAt): void {
  const found: PageFindings = { issues: new Map(), bigIntegers: new Map() };
  if (!isUtf8(body)) markInvalidUtf8(records, found);
  if (scan.duplicate) markDuplicateKeys(whole(), pathKeys(at.path), at.single, found);
  for (const digits of scan.longIntegers) {
    const rounded = Number(digits);
    if (Number.isSafeInteger(rounded)) continue;
    const known = found.bigIntegers.get(rounded);
    // Two different integers can round to one double: name both rather than guess.
    found.bigIntegers.set(rounded, known === undefined || known.split(" or ").includes(digits) ? (known ?? digits) : `${known} or ${digits}`);
  }
  if (found.issues.size > 0 || found.bigIntegers.size > 0) findings.set(records, found);
}

/** The issue of an integer field whose value is beyond ±2^53, quoting the digits the source sent. */
export function integerIssue(field: string, v: number, found: PageFindings | undefined): DecodeIssue {
  const digits = Number.isInteger(v) ? found?.bigIntegers.get(v) : undefined;
  if (digits === undefined) return typeIssue(field, "integer", v);
  return { field, code: "invalid_type", expected: "integer within ±2^53", got: `${digits} (a JSON number that large is not exact)` };
}

/**
 * U+FFFD in a record of a page that is not valid UTF-8 marks the bytes the decoder replaced. (A
 * record that also holds a real U+FFFD on such a page is quarantined with it: rare, and safe.)
 */
function markInvalidUtf8(records: readonly unknown[], found: PageFindings): void {
  records.forEach((record, row) => {
    const where = fieldWith(record, "");
    if (where === undefined) return;
    found.issues.set(row, { field: where.field || "record", code: "invalid_utf8", expected: "UTF-8 text", got: quote(where.text) });
  });
}

/** The first string (key or value) holding U+FFFD, with its dotted path. */
function fieldWith(v: unknown, path: string): { field: string; text: string } | undefined {
  if (typeof v === "string") return v.includes("\uFFFD") ? { field: path, text: v } : undefined;
  if (v === null || typeof v !== "object") return undefined;
  if (Array.isArray(v)) {
    for (const item of v) {
      const hit = fieldWith(item, path);
      if (hit) return hit;
    }
    return undefined;
  }
  for (const [key, value] of Object.entries(v)) {
    const field = path ? `${path}.${key}` : key;
    if (key.includes("\uFFFD")) return { field: path || "record", text: key };
    const hit = fieldWith(value, field);
    if (hit) return hit;
  }
  return undefined;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/**
 * One pass over the text: whether some object may repeat a key (compared by a 32-bit hash of the
 * raw key, so a collision only costs the exact pass) and every integer literal of 16+ digits.
 */
export function scanText(s: string): TextScan {
  const n = s.length;
  const longIntegers: string[] = [];
  const keys = new KeyHashes();
  const inObject: boolean[] = [];
  let depth = -1;
  let expectKey = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(s, i);
      if (expectKey) {
        let h = FNV_BASIS;
        for (let q = i + 1; q < end; q++) h = Math.imul(h ^ s.charCodeAt(q), FNV_PRIME);
        keys.add(depth, h);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      inObject[depth] = c === 0x7b;
      expectKey = c === 0x7b;
      if (expectKey) keys.open(depth);
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c /* , */) {
      expectKey = inObject[depth] === true;
    } else if (c === 0x2d /* - */ || isDigit(c)) {
      let end = i + 1;
      while (end < n && isNumberChar(s.charCodeAt(end))) end++;
      if (end - i >= LONG_INTEGER_DIGITS && isIntegerLiteral(s, i, end)) longIntegers.push(s.slice(i, end));
      i = end - 1;
    }
  }
  return { duplicate: keys.duplicate, longIntegers };
}

/** The index of the quote closing the string opened at `i` (or the text's length). */
function stringEnd(s: string, i: number): number {
  const j = closingQuote(s, i);
  return j < 0 ? s.length : j;
}

/** `s[start, end)` is an integer literal: an optional minus, then digits only. */
function isIntegerLiteral(s: string, start: number, end: number): boolean {
  for (let q = s.charCodeAt(start) === 0x2d ? start + 1 : start; q < end; q++) if (!isDigit(s.charCodeAt(q))) return false;
  return true;
}

/** One level of the exact walk: an object's keys so far, or an array's element index. */
interface Level {
  keys: Set<string> | null;
  key: string | number;
  expectKey: boolean;
}

/** The exact pass: every repeated key, by its path of keys and array indexes, marked on its record. */
function markDuplicateKeys(s: string, recordsPath: readonly string[], single: boolean, found: PageFindings): void {
  const stack: Level[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22) {
      const end = stringEnd(s, i);
      if (top?.keys && top.expectKey) {
        const raw = s.slice(i + 1, end);
        const key = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) markDuplicate([...stack.slice(0, -1).map((l) => l.key), key], recordsPath, single, found);
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({ keys: c === 0x7b ? new Set() : null, key: c === 0x7b ? "" : 0, expectKey: c === 0x7b });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c && top) {
      if (top.keys) top.expectKey = true;
      else top.key = (top.key as number) + 1;
    }
  }
}

/** Marks the record a duplicate's path leads into (outside the records: nothing to quarantine). */
function markDuplicate(path: ReadonlyArray<string | number>, recordsPath: readonly string[], single: boolean, found: PageFindings): void {
  for (let k = 0; k < recordsPath.length; k++) if (path[k] !== recordsPath[k]) return;
  const rest = path.slice(recordsPath.length);
  const row = single ? 0 : rest.shift();
  if (typeof row !== "number" || found.issues.has(row)) return;
  const field = rest.filter((p): p is string => typeof p === "string").join(".");
  found.issues.set(row, { field: field || "record", code: "duplicate_key", expected: "each key once per object", got: quote(String(path.at(-1))) });
}

/**
 * Durable landing of raw pages: each body is written exactly as received (tmp + rename, so a page
 * file is either whole or absent) before it is decoded, with a state file recording where the
 * listing stands so a rerun resumes instead of refetching.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { SluiceError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import { getPath, type ParallelPlan, type Position } from "./paginate.ts";

/** Name of the state file inside a landing directory. */
export const STATE_FILE = "_state.json";

/** `<dataDir>/raw/<job>/dt=<dt>`: where a partition's raw pages land. */
export function landingDirFor(dataDir: string, job: string, dt: string): string {
  return path.join(dataDir, "raw", job, `dt=${dt}`);
}

/** Deletes a partition's landed pages and state (no error when there are none). */
export async function removeLanding(dataDir: string, job: string, dt: string): Promise<void> {
  await rm(landingDirFor(dataDir, job, dt), { recursive: true, force: true });
}

/** File name of landed page `pageNo` (1-based): page-000001.json. */
export function pageFileName(pageNo: number): string {
  return `page-${String(pageNo).padStart(6, "0")}.json`;
}

/**
 * Writes a landing file (a page body or the state file) atomically but without fsync: landing is
 * on the hot path (see Lander in extract.ts) and only has to survive a killed process; after a
 * power loss, `--refetch` lands the partition again.
 */
export function writeLandingFile(file: string, data: string | Uint8Array): Promise<void> {
  return writeFileAtomic(file, data, { durable: false });
}

/** The request a landing belongs to (secrets redacted) and a fingerprint of it. */
export interface RequestIdentity {
  baseUrl: string;
  path: string;
  params: Record<string, string>;
  paginator: unknown;
  recordsPath: string;
}

/** sha256 of a request's identity: a landing for another request is never reused. */
export function requestFingerprint(identity: RequestIdentity): string {
  const sorted = Object.fromEntries(Object.entries(identity.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash("sha256")
    .update(JSON.stringify({ ...identity, baseUrl: identity.baseUrl.replace(/\/+$/, ""), params: sorted }))
    .digest("hex");
}

/** The landing state file: where the listing stands after the last landed page. */
export interface LandingState {
  version: 1;
  fingerprint: string;
  request: RequestIdentity;
  /** Page numbers landed, ascending. */
  landed: number[];
  /** Sequential listings: position of the next page to fetch; null when the listing has ended. */
  next: Position | null;
  /** Parallel listings: the plan learned from the first page. */
  plan: ParallelPlan | null;
  /** Every page of the listing is landed. */
  complete: boolean;
  updatedAt: string;
}

/** Reads the state of a landing directory; null when absent or unreadable (then nothing is reused). */
export async function readState(dir: string): Promise<LandingState | null> {
  let text: string;
  try {
    text = await readFile(path.join(dir, STATE_FILE), "utf8");
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as LandingState;
    if (s.version !== 1 || typeof s.fingerprint !== "string" || !Array.isArray(s.landed)) return null;
    return s;
  } catch {
    return null;
  }
}

/** Writes the state file atomically. */
export async function writeState(dir: string, state: LandingState): Promise<void> {
  await writeLandingFile(path.join(dir, STATE_FILE), stateText(state));
}

function stateText(state: LandingState): string {
  return `${JSON.stringify({ ...state, updatedAt: new Date().toISOString() })}\n`;
}

/** Parses a landed (or received) body and returns its records array; null when it is not one. */
export function recordsOf(body: Buffer | string, recordsPath: string): { json: unknown; records: unknown[] } | null {
  let text = typeof body === "string" ? body : body.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const records = getPath(json, recordsPath);
  return Array.isArray(records) ? { json, records } : null;
}

/**
 * Raw JSON text of landed records by (page, row) as found in an extracted frame's _page/_row,
 * in the order of `refs`. Each page file is parsed once.
 */
export async function readLandedRecords(landingDir: string, recordsPath: string, refs: ReadonlyArray<{ page: number; row: number }>): Promise<string[]> {
  const byPage = new Map<number, number[]>();
  refs.forEach((r, i) => {
    const list = byPage.get(r.page);
    if (list) list.push(i);
    else byPage.set(r.page, [i]);
  });
  const out = new Array<string>(refs.length);
  for (const [page, indexes] of byPage) {
    const file = path.join(landingDir, pageFileName(page));
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (cause) {
      throw new SluiceError(`landed page ${page} is missing (${file})`, { cause, hint: "re-extract the partition (--refetch)" });
    }
    // A few records of a page are wanted: slice their exact text out with a scanner (no objects
    // built), and fall back to a full parse only when the scanner cannot follow the body.
    const text = body.toString("utf8").replace(/^\uFEFF/, "");
    const spans = recordSpans(text, recordsPath.split("."));
    const parsed = spans ? null : recordsOf(text, recordsPath);
    if (!spans && !parsed) throw new SluiceError(`landed page ${file} holds no records array at "${recordsPath}"`);
    const count = spans ? spans.length : (parsed?.records.length ?? 0);
    for (const i of indexes) {
      const row = refs[i]!.row;
      if (row < 0 || row >= count) throw new SluiceError(`landed page ${page} has no row ${row} (it has ${count})`);
      const span = spans?.[row];
      out[i] = span ? text.slice(span[0], span[1]) : JSON.stringify(parsed?.records[row]);
    }
  }
  return out;
}

/**
 * Start and end offsets of each element of the array at `path` in a JSON text, found by scanning
 * (strings and nesting aware) instead of parsing; null when the text is not shaped as expected.
 */
export function recordSpans(text: string, path: readonly string[]): Array<[number, number]> | null {
  try {
    let i = skipWs(text, 0);
    for (const key of path) {
      i = valueOfKey(text, i, key);
      if (i < 0) return null;
    }
    if (text.charCodeAt(i) !== 0x5b /* [ */) return null;
    const spans: Array<[number, number]> = [];
    i = skipWs(text, i + 1);
    if (text.charCodeAt(i) === 0x5d /* ] */) return spans;
    for (;;) {
      const start = i;
      i = skipValue(text, i);
      if (i < 0) return null;
      spans.push([start, i]);
      i = skipWs(text, i);
      const c = text.charCodeAt(i);
      if (c === 0x5d) return spans;
      if (c !== 0x2c /* , */) return null;
      i = skipWs(text, i + 1);
    }
  } catch {
    return null;
  }
}

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index just past the string starting at i (a quote), or -1. */
function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22 /* " */) return i + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at i, or -1. */
function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 0x22) return skipString(text, i);
  if (first !== 0x7b && first !== 0x5b) {
    // number, true, false, null: up to the next delimiter
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
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
function valueOfKey(text: string, i: number, key: string): number {
  if (text.charCodeAt(i) !== 0x7b /* { */) return -1;
  i = skipWs(text, i + 1);
  while (text.charCodeAt(i) === 0x22) {
    const end = skipString(text, i);
    if (end < 0) return -1;
    const raw = text.slice(i + 1, end - 1);
    const name = raw.includes("\\") ? (JSON.parse(text.slice(i, end)) as string) : raw;
    i = skipWs(text, end);
    if (text.charCodeAt(i) !== 0x3a /* : */) return -1;
    i = skipWs(text, i + 1);
    if (name === key) return i;
    i = skipValue(text, i);
    if (i < 0) return -1;
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== 0x2c) return -1;
    i = skipWs(text, i + 1);
  }
  return -1;
}

/** Makes sure the landing directory exists. */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

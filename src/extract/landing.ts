/**
 * Durable landing of raw pages: each body is written exactly as received (tmp + rename, so a page
 * file is either whole or absent) before it is decoded, with a state file recording where the
 * listing stands so a rerun resumes instead of refetching.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import { getPath, pathKeys, type JsonPath } from "./json-path.ts";
import { inspectPage, scanText } from "./page-inspection.ts";
import { parseInPieces } from "./record-pieces.ts";
import type { ParallelPlan, Position } from "./paginators/index.ts";

/** Name of the state file inside a landing directory. */
export const STATE_FILE = "_state.json";

/**
 * `<dataDir>/raw/<job>/dt=<dt>/<source>`: where a source's raw pages land for a partition. Each
 * source of a partition lands (and resumes) on its own.
 */
export function landingDirFor(dataDir: string, job: string, dt: string, source: string, listing?: string): string {
  const dir = path.join(dataDir, "raw", job, `dt=${dt}`, source);
  return listing === undefined ? dir : path.join(dir, "listings", listingDirName(listing));
}

/** A child listing's directory name: readable where it can be, unique by a hash of its key. */
function listingDirName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return `${readable}-${createHash("sha256").update(key).digest("hex").slice(0, 10)}`;
}

/** Deletes a partition's landed pages and state, of every source (no error when there are none). */
export async function removeLanding(dataDir: string, job: string, dt: string): Promise<void> {
  await rm(path.join(dataDir, "raw", job, `dt=${dt}`), { recursive: true, force: true });
}

/** File name of landed page `pageNo` (1-based): page-000001.json. */
export function pageFileName(pageNo: number): string {
  return `page-${String(pageNo).padStart(6, "0")}.json`;
}

/**
 * Writes a landing file (the state file) atomically but without fsync: landing is
 * on the hot path (see lander.ts) and only has to survive a killed process; after a
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
  recordsPath: JsonPath;
  method?: string;
  body?: unknown;
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
  /** 2: `landed` is kept on disk as runs of pages (1: as every page number; still read). */
  version: 2;
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
    const s = JSON.parse(text) as Omit<LandingState, "version" | "landed"> & { version: unknown; landed: unknown };
    if (typeof s.fingerprint !== "string" || !Array.isArray(s.landed)) return null;
    const landed = s.version === 2 ? pagesOf(s.landed) : s.version === 1 && s.landed.every(Number.isInteger) ? (s.landed as number[]) : null;
    return landed ? { ...s, version: 2, landed } : null;
  } catch {
    return null;
  }
}

/** Writes the state file atomically. */
export async function writeState(dir: string, state: LandingState): Promise<void> {
  await writeLandingFile(path.join(dir, STATE_FILE), stateText(state));
}

/**
 * The state as written: landed pages as runs [first, last], so that the file stays small however
 * many pages land (it is rewritten as pages land: as every page number, a 10,000-page day wrote
 * ~300 MB of state in all).
 */
function stateText(state: LandingState): string {
  return `${JSON.stringify({ ...state, landed: runsOf(state.landed), updatedAt: new Date().toISOString() })}\n`;
}

/** Ascending page numbers as runs of consecutive pages: [1, 2, 3, 7] -> [[1, 3], [7, 7]]. */
export function runsOf(pages: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const page of pages) {
    const last = runs.at(-1);
    if (last && page === last[1] + 1) last[1] = page;
    else runs.push([page, page]);
  }
  return runs;
}

/** The page numbers of runs written by runsOf; null when they are not runs of ascending pages. */
function pagesOf(runs: unknown[]): number[] | null {
  const pages: number[] = [];
  for (const run of runs) {
    if (!Array.isArray(run) || run.length !== 2 || !Number.isInteger(run[0]) || !Number.isInteger(run[1])) return null;
    const [first, last] = run as [number, number];
    if (first > last || first <= (pages.at(-1) ?? 0)) return null;
    for (let page = first; page <= last; page++) pages.push(page);
  }
  return pages;
}

/** Where the records are in a body: the path, and whether the value there is one record object. */
export interface RecordsLocation {
  path: JsonPath;
  single: boolean;
}

/** Parses a landed (or received) body and returns its records; null when they are not where declared. */
export function recordsOf(body: Buffer | string, at: RecordsLocation | JsonPath): { json: unknown; records: unknown[] } | null {
  const where = typeof at === "object" && !Array.isArray(at) ? (at as RecordsLocation) : { path: at as JsonPath, single: false };
  if (typeof body !== "string" && !where.single) {
    const pieces = parseInPieces(body, pathKeys(where.path));
    if (pieces) {
      inspectPage(body, pieces.scan, () => body.toString("utf8"), pieces.records, where);
      return { json: pieces.json, records: pieces.records };
    }
  }
  let text = typeof body === "string" ? body : body.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const value = getPath(json, where.path);
  let records: unknown[] | null = null;
  if (where.single) records = value !== null && typeof value === "object" && !Array.isArray(value) ? [value] : null;
  else records = Array.isArray(value) ? value : null;
  // What JSON.parse hides (bytes that are not UTF-8, repeated keys, huge integers), for the decoder.
  if (records && typeof body !== "string") inspectPage(body, scanText(text), () => text, records, where);
  return records ? { json, records } : null;
}

/** Makes sure the landing directory exists. */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

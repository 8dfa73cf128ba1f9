/**
 * One ctx.extract: a source's listing (or, for a child source, one listing per parent record),
 * started from the source's stored marks, with the marks it reached. The job context records the
 * step; this decides what to fetch and from where.
 */
import type pl from "nodejs-polars";
import { Agent } from "undici";
import type { PartitionWindow } from "../core/dates.ts";
import { failpoint } from "../core/failpoints.ts";
import type { Logger } from "../core/log.ts";
import { continueFrom, emptyFrameOf, extractPartition, laterMark, type ChunkSink, type ExtractOptions, type ExtractResult } from "../extract/index.ts";
import type { SourceSpec } from "../extract/types.ts";
import type { SourceMark } from "../load/source-state.ts";
import { inPool } from "../core/in-pool.ts";
import { combineListings, listingsOf, sumResults, type LandedListing, type ListingPlan } from "./child-listings.ts";
import type { RunSettings } from "./run-partition.ts";

/** What an extraction gives the job context to record. */
export interface SourceExtract {
  frame: pl.DataFrame;
  /** Per column: records whose object had the field's key, summed over listings. */
  presence: Record<string, number>;
  facts: ReturnType<typeof sumResults>;
  landed: LandedListing[];
  /** Marks to advance with the load (only those that moved). */
  marks: SourceMark[];
  /** For the step record: where it started and the marks it reached. */
  incremental: Record<string, unknown> | undefined;
}

/** What an extraction needs from the run. */
export interface ExtractionScope {
  job: string;
  window: PartitionWindow;
  settings: RunSettings;
  log: Logger;
  baseUrl: string;
  /** The stored marks of the job's sources. */
  stored: () => Promise<SourceMark[]>;
}

/** Extracts a top-level source, or a child source over its parents' records; `chunks` streams a top-level source's rows there. */
export async function extractSource(source: SourceSpec, scope: ExtractionScope, parents: pl.DataFrame | undefined, chunks?: ChunkSink): Promise<SourceExtract> {
  const marks = source.incremental && !scope.settings.fullRefresh ? (await scope.stored()).filter((m) => m.source === source.name) : [];
  if (!source.parent) return extractTopLevel(source, scope, marks.find((m) => m.key === "")?.value, chunks);
  return extractChildren(source, scope, parents, marks);
}

async function extractTopLevel(source: SourceSpec, scope: ExtractionScope, stored: string | undefined, chunks: ChunkSink | undefined): Promise<SourceExtract> {
  const from = continueFrom(source, stored);
  const result = await extractPartition(source, { ...extractOptions(scope), from, ...(chunks ? { chunks } : {}) });
  const mark = laterMark(source, stored, result.mark);
  return {
    frame: result.frame,
    presence: result.presence,
    facts: sumResults([result]),
    landed: [{ landingDir: result.landingDir, recordsAt: result.recordsAt, pageOffset: 0, pages: result.pages }],
    marks: mark !== undefined && mark !== stored ? [{ source: source.name, key: "", value: mark }] : [],
    incremental: source.incremental ? { from, mark: mark ?? null } : undefined,
  };
}

async function extractChildren(source: SourceSpec, scope: ExtractionScope, parents: pl.DataFrame | undefined, stored: SourceMark[]): Promise<SourceExtract> {
  const plans = parents ? listingsOf(source, usableParents(parents)) : [];
  const perParent = source.parent?.marks === "parent";
  const storedOf = (plan: ListingPlan) => stored.find((m) => m.key === (perParent ? plan.key : ""))?.value;
  const concurrency = source.parent?.concurrency ?? source.policy?.concurrency ?? 4;
  let done = 0;
  // One connection pool for every listing of the source (a keep-alive pool per listing costs a handshake each).
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: concurrency + 1 });
  const results = await inPool(plans, concurrency, scope.settings.signal, async (plan) => {
    const options = { ...extractOptions(scope), dispatcher, from: continueFrom(source, storedOf(plan)), listing: { key: plan.key, parent: plan.parent } };
    const result = await extractPartition(source, options);
    failpoint(`extract.listing-${++done}`);
    return result;
  }).finally(() => dispatcher.close().catch(() => undefined));
  if (scope.settings.signal.aborted) throw scope.settings.signal.reason;
  const marks = childMarks(source, plans, results, stored, perParent);
  const combined = combineListings(source, plans, results, parents?.schema ?? {});
  return {
    presence: sumPresence(results),
    frame: plans.length === 0 ? emptyFrameOf(source.schema, Object.keys(source.parent?.copy ?? {}), (source.unknownFields ?? "keep") === "keep") : combined.frame,
    facts: sumResults(results),
    landed: combined.landed,
    marks,
    incremental: source.incremental ? { listings: plans.length, marks: marks.length } : undefined,
  };
}

/** The marks a child source's listings reached: one per parent, or the highest for the source. */
function childMarks(source: SourceSpec, plans: readonly ListingPlan[], results: readonly ExtractResult[], stored: SourceMark[], perParent: boolean): SourceMark[] {
  if (!source.incremental) return [];
  if (perParent) {
    return plans.flatMap((plan, i) => {
      const before = stored.find((m) => m.key === plan.key)?.value;
      const mark = laterMark(source, before, results[i]?.mark);
      return mark !== undefined && mark !== before ? [{ source: source.name, key: plan.key, value: mark }] : [];
    });
  }
  const before = stored.find((m) => m.key === "")?.value;
  const mark = results.reduce<string | undefined>((m, r) => laterMark(source, m, r.mark), before);
  return mark !== undefined && mark !== before ? [{ source: source.name, key: "", value: mark }] : [];
}

/** Parent rows that decoded (a record with a decode error cannot name a child listing). */
function usableParents(parents: pl.DataFrame): pl.DataFrame {
  return parents.columns.includes("_error") ? parents.filter(parents.getColumn("_error").isNull()) : parents;
}

function extractOptions(scope: ExtractionScope): ExtractOptions {
  const { settings } = scope;
  return {
    baseUrl: scope.baseUrl,
    window: scope.window,
    dataDir: settings.dataDir,
    job: scope.job,
    signal: settings.signal,
    log: scope.log.child({ stage: "extract" }),
    env: settings.env,
    refetch: settings.refetch,
    ...(settings.redactor ? { redactor: settings.redactor } : {}),
    ...(settings.limiterFor ? { limiterFor: settings.limiterFor } : {}),
    onPage: (info) => failpoint(`extract.page-${info.page}`),
  };
}

/** Presence counts of several listings, summed per column. */
function sumPresence(results: readonly ExtractResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.presence)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Child sources: one listing per distinct parent record (`/repos/{full_name}/issues` for every
 * repo), fetched with bounded concurrency, each landing and resuming on its own; their frames
 * combined into one, with the chosen parent columns copied in and page numbers made unique across
 * listings so quarantine still finds every raw record.
 */
import pl from "nodejs-polars";
import { ConfigError } from "../core/errors.ts";
import { pathPlaceholders, type ExtractResult, type RecordsLocation } from "../extract/index.ts";
import type { ParentRecord, SourceSpec } from "../extract/types.ts";

/** One child listing: its key (placeholder values) and the parent fields it needs. */
export interface ListingPlan {
  key: string;
  parent: ParentRecord;
}

/** Where a listing's raw pages are, and which of the combined frame's page numbers are its own. */
export interface LandedListing {
  landingDir: string;
  recordsAt: RecordsLocation;
  /** The combined frame's _page is this plus the listing's own page number. */
  pageOffset: number;
  pages: number;
}

/** The listings a child source makes for these parent rows, one per distinct combination of placeholder values, sorted by key. */
export function listingsOf(child: SourceSpec, parents: pl.DataFrame): ListingPlan[] {
  const placeholders = pathPlaceholders(child.path);
  const copied = Object.values(child.parent?.copy ?? {});
  const needed = [...new Set([...placeholders, ...copied])];
  const missing = needed.filter((c) => !parents.columns.includes(c));
  if (missing.length > 0) {
    throw new ConfigError(`source "${child.name}": its parent records have no column ${missing.map((m) => JSON.stringify(m)).join(", ")}`, {
      hint: `placeholders in its path (${child.path}) and parent.copy name columns of the parent's records (${parents.columns.filter((c) => !c.startsWith("_")).join(", ")})`,
    });
  }
  const usable = parents.filter(placeholders.map((p) => pl.col(p).isNotNull()).reduce((a, b) => a.and(b), pl.lit(true)));
  const plans = new Map<string, ListingPlan>();
  for (const row of usable.select(...needed).unique({ maintainOrder: true }).toRecords()) {
    const key = JSON.stringify(placeholders.map((p) => plain(row[p])));
    if (!plans.has(key)) plans.set(key, { key, parent: Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])) });
  }
  return [...plans.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The listings' frames as one: parent columns copied in (typed as in the parent), _page offset per
 * listing; and where each listing landed. Built with one Series per column, not an expression per
 * listing (a Polars expression costs about a millisecond of JS to build).
 */
export function combineListings(child: SourceSpec, plans: readonly ListingPlan[], results: readonly ExtractResult[], parentSchema: Record<string, pl.DataType>): { frame: pl.DataFrame; landed: LandedListing[] } {
  const landed: LandedListing[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const result of results) {
    landed.push({ landingDir: result.landingDir, recordsAt: result.recordsAt, pageOffset: offset, pages: result.pages });
    offsets.push(offset);
    offset += result.pages;
  }
  if (results.length === 0) return { frame: pl.DataFrame(), landed };
  const frame = pl.concat(results.map((r) => r.frame), { how: "diagonalRelaxed" });
  const heights = results.map((r) => r.frame.height);
  const perRow = <T>(values: readonly T[]): T[] => heights.flatMap((h, i) => Array<T>(h).fill(values[i] as T));
  const pageShift = pl.Series("__shift", perRow(offsets), pl.Int32);
  const copied = Object.entries(child.parent?.copy ?? {}).map(([to, from]) => {
    const values = perRow(plans.map((p) => p.parent[from] ?? null));
    const dtype = parentSchema[from];
    return dtype ? pl.Series(to, values).cast(dtype) : pl.Series(to, values);
  });
  return { frame: frame.withColumns(frame.getColumn("_page").add(pageShift).cast(pl.Int32).alias("_page"), ...copied), landed };
}

/** The extraction facts of several listings, summed as one extract step shows them. */
export function sumResults(results: readonly ExtractResult[]): Pick<ExtractResult, "pages" | "records" | "requests" | "retries" | "resumed" | "drift" | "statusCounts"> {
  const statusCounts: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statusCounts)) statusCounts[k] = (statusCounts[k] ?? 0) + v;
  return {
    pages: results.reduce((n, r) => n + r.pages, 0),
    records: results.reduce((n, r) => n + r.records, 0),
    requests: results.reduce((n, r) => n + r.requests, 0),
    retries: results.reduce((n, r) => n + r.retries, 0),
    resumed: results.some((r) => r.resumed),
    drift: [...new Set(results.flatMap((r) => r.drift))].sort(),
    statusCounts,
  };
}

function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}

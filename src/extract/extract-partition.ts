/**
 * extractPartition: every record of a source's partition exactly once, as a Polars DataFrame.
 *
 * A producer (ListingFetcher) fetches pages, sequentially or with bounded concurrency when the
 * listing's size is known, lands each raw body before anything else happens to it, and pushes it
 * into a bounded queue; a consumer (PageDecoder) decodes queued pages into Arrow batches while the
 * next request is on the wire. The queue bound is the backpressure that keeps memory bounded.
 */
import { setMaxListeners } from "node:events";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type pl from "nodejs-polars";
import type { Dispatcher } from "undici";
import type { PartitionWindow } from "../core/dates.ts";
import { CancelledError, DeadlineExceededError, SchemaError, SluiceError, type ErrorContext } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { deriveColumns, withExtraColumn } from "./record-columns.ts";
import { batchesToFrame, registerLooseObjects } from "./record-decoder.ts";
import { ChunkDecoder, type ChunkSink } from "./chunk-decoder.ts";
import { readLandedRecords } from "./landed-records.ts";
import { createAuth } from "./auth/index.ts";
import { systemClock, type Clock } from "./clock.ts";
import { HttpClient } from "./http-client.ts";
import { Lander } from "./lander.ts";
import { ensureDir, landingDirFor, readState, type LandingState, type RecordsLocation } from "./landing.ts";
import { CorruptLandingError, ListingFetcher, ListingTooLongError, type QueuedPage } from "./listing-fetcher.ts";
import { PageDecoder } from "./page-decoder.ts";
import { BoundedQueue } from "./page-queue.ts";
import { paginatorFor } from "./paginators/index.ts";
import { resolvePolicy } from "./policy.ts";
import { RateGovernor } from "./rate-governor.ts";
import { TokenBucket, type RequestLimiter } from "./ratelimit.ts";
import { Redactor } from "./redact.ts";
import { resolveResponseRules } from "./response-rules.ts";
import { sourceRequest, type SourceRequest } from "./source-request.ts";
import { laterMark, markOf } from "./source-mark.ts";
import type { IncrementalFrom, ParentRecord, RequestPolicy, SourceSpec } from "./types.ts";

/** Options of one partition's extraction. */
export interface ExtractOptions {
  /** The source's resolved base URL (see resolveEndpoint). */
  baseUrl: string;
  window: PartitionWindow;
  dataDir: string;
  job: string;
  signal: AbortSignal;
  log: Logger;
  /** Where auth secrets are read (the CLI passes the validated environment); default: none. */
  env?: Record<string, string | undefined>;
  /** Ignore landed pages, fetch fresh. */
  refetch?: boolean;
  /** Injectable sleep/now (tests use a fake clock so retries do not really sleep). */
  clock?: Clock;
  /** Jitter source, injectable for tests. */
  random?: () => number;
  /** Collects the secrets this extraction uses (for the process logger's scrubber); default: its own. */
  redactor?: Redactor;
  /** Where an incremental source continues (see continueFrom); default: from the start. */
  from?: IncrementalFrom;
  /** Connections to share with other listings of the same source (child listings); default: the extraction's own. */
  dispatcher?: Dispatcher;
  /** A child source's listing: its parent record (fills the path) and the key its landing is kept under. */
  listing?: { key: string; parent: ParentRecord };
  /** A limiter shared beyond this process (Redis); default: one token bucket per source in the process. */
  limiterFor?: (key: string, limit: { rps: number; burst: number }) => RequestLimiter;
  onPage?: (info: { page: number; records: number; bytes: number }) => void;
  /** Streams the decoded rows to this sink in chunks instead of returning them (`frame` is then empty). */
  chunks?: ChunkSink;
}

/** What an extraction produced. */
export interface ExtractResult {
  /** Declared columns, then _page (Int32, 1-based landed page), _row (Int32), _error (Utf8). */
  frame: pl.DataFrame;
  pages: number;
  records: number;
  requests: number;
  retries: number;
  /** True if landed pages were reused. */
  resumed: boolean;
  /** Unknown field paths seen (e.g. "properties.referrer"), deduplicated, sorted. */
  drift: string[];
  /** Column name -> records in which the field's key was present (even with a null value); absent = records - present. */
  presence: Record<string, number>;
  /** HTTP status (or "network"/"timeout"/"bad_body") -> count. */
  statusCounts: Record<string, number>;
  /** Where the pages landed, and where the records are in them (quarantine reads raw records back). */
  landingDir: string;
  recordsAt: RecordsLocation;
  /** Incremental sources: the mark this extraction reached (undefined: nothing to advance it). */
  mark: string | undefined;
}

/** Undecoded pages held at most (besides the `concurrency` in flight): the memory bound. */
export function queueCapacity(policy: RequestPolicy): number {
  return Math.max(2, policy.concurrency);
}

/** Extracts one partition of a source: every record exactly once, landed raw, decoded into a DataFrame. */
export async function extractPartition(spec: SourceSpec, options: ExtractOptions): Promise<ExtractResult> {
  try {
    return await extractOnce(spec, options);
  } catch (err) {
    if (err instanceof CorruptLandingError && !options.refetch) {
      options.log.warn({ source: spec.name, dt: options.window.dt, reason: err.message }, "landed pages unreadable; discarding the landing and refetching");
      return extractOnce(spec, { ...options, refetch: true });
    }
    throw err;
  }
}

/** Everything one attempt at a partition's extraction shares. */
interface Extraction {
  spec: SourceSpec;
  options: ExtractOptions;
  policy: RequestPolicy;
  request: SourceRequest;
  landingDir: string;
  client: HttpClient;
  run: AbortController;
  context: ErrorContext;
}

async function extractOnce(spec: SourceSpec, options: ExtractOptions): Promise<ExtractResult> {
  const policy = resolvePolicy(spec.policy);
  const clock = options.clock ?? systemClock;
  const context: ErrorContext = { job: options.job, partition: options.window.dt, stage: "extract", source: spec.name };
  const redactor = options.redactor ?? new Redactor();
  // Secrets are read and checked before anything else: a missing one fails before the first request.
  const auth = createAuth(spec.auth, { source: spec.name, env: options.env ?? {}, redactor, clock });
  const request = sourceRequest(spec, options.baseUrl, options.window, redactor, auth.secretParams, options.from, options.listing?.parent);
  if (options.signal.aborted) throw new CancelledError(`extraction of ${spec.name} for ${options.window.dt} was cancelled before it started`, { context, cause: options.signal.reason });
  const { run, dispose } = runController(spec, options, policy, context);
  const origin = new URL(request.template.base).origin;
  const rules = resolveResponseRules(spec.responses);
  const client = new HttpClient({
    policy, signal: run.signal, log: options.log, clock, redactor, auth, authOrigin: origin, rules, context,
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(policy.rateLimit ? { limiter: limiterOf(`${origin}|${spec.name}`, policy.rateLimit, clock, options) } : {}),
    governor: governorOf(`${origin}|${spec.name}`, rules, clock, options.clock === undefined),
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  });
  const landingDir = landingDirFor(options.dataDir, options.job, options.window.dt, spec.name, options.listing?.key);
  const x: Extraction = { spec, options, policy, request, landingDir, client, run, context };
  try {
    return await runPipeline(x);
  } catch (err) {
    throw await failure(x, err);
  } finally {
    dispose();
    await client.close(run.signal.aborted);
  }
}

/** The run's own signal: aborted by the caller's signal, by the partition deadline, or by a failure. */
function runController(spec: SourceSpec, options: ExtractOptions, policy: RequestPolicy, context: ErrorContext): { run: AbortController; dispose: () => void } {
  const run = new AbortController();
  // every in-flight request, queue wait and backoff sleep listens to it
  setMaxListeners(Math.max(50, policy.concurrency * 4 + 20), run.signal);
  const dt = options.window.dt;
  const onCallerAbort = () => run.abort(new CancelledError(`extraction of ${spec.name} for ${dt} was cancelled`, { context, cause: options.signal.reason }));
  options.signal.addEventListener("abort", onCallerAbort, { once: true });
  const deadline = setTimeout(() => {
    run.abort(
      new DeadlineExceededError(`extraction of ${spec.name} for ${dt} exceeded its partition deadline of ${policy.partitionDeadlineMs} ms`, {
        context,
        hint: "rerun to resume from the landed pages, or raise policy.partitionDeadlineMs",
      }),
    );
  }, policy.partitionDeadlineMs);
  return {
    run,
    dispose: () => {
      clearTimeout(deadline);
      options.signal.removeEventListener("abort", onCallerAbort);
    },
  };
}

/** The error to throw: the abort reason when the run was aborted, with context and secrets redacted. */
async function failure(x: Extraction, err: unknown): Promise<unknown> {
  const error = x.run.signal.aborted && !(err instanceof CorruptLandingError) ? (x.run.signal.reason ?? err) : err;
  // A listing over its caps is not resumable: what it landed is removed.
  if (error instanceof ListingTooLongError) await rm(x.landingDir, { recursive: true, force: true });
  if (error instanceof SluiceError) {
    error.withContext(x.context);
    error.message = x.client.redactor.text(error.message);
  }
  return error;
}

async function runPipeline(x: Extraction): Promise<ExtractResult> {
  const { spec, options, policy, client } = x;
  const prior = await prepareLanding(x);
  const derived = deriveColumns(spec.schema);
  // Unknown fields are kept in _extra unless the source says otherwise: nothing of a record is lost.
  const columns = (spec.unknownFields ?? "keep") === "keep" ? withExtraColumn(derived.columns) : derived.columns;
  registerLooseObjects(columns, derived.looseObjects);
  const recordsAt: RecordsLocation = { path: spec.records, single: spec.single === true };
  const lander = new Lander(x.landingDir, prior ?? { version: 2, fingerprint: x.request.fingerprint, request: x.request.identity, landed: [], next: null, plan: null, complete: false, updatedAt: "" });
  const queue = new BoundedQueue<QueuedPage>(queueCapacity(policy), x.run.signal);
  const paginator = paginatorFor(spec.paginator, x.request.template);
  const fetcher = new ListingFetcher({ source: spec.name, paginator, client, lander, queue, prior, landingDir: x.landingDir, records: recordsAt, policy, signal: x.run.signal, log: options.log, context: x.context });
  const decoder = options.chunks ? new ChunkDecoder(columns, options.chunks, options.onPage, spec, (refs) => readLandedRecords(x.landingDir, recordsAt, refs)) : new PageDecoder(columns, options.onPage);
  const fail = (err: unknown) => {
    if (!x.run.signal.aborted) x.run.abort(err);
  };
  options.log.info({ source: spec.name, dt: options.window.dt, url: client.redact(paginator.urlFor(paginator.start())), reuse: prior?.landed.length ?? 0 }, "extracting");
  await Promise.all([fetcher.run().catch(fail), decoder.drain(queue).catch(fail)]);
  // pages already being written finish before we return, even when the run failed
  await lander.idle();
  if (x.run.signal.aborted) throw x.run.signal.reason;
  const streamed = decoder instanceof ChunkDecoder ? decoder : null;
  const batches = streamed ? [] : (decoder as PageDecoder).batches();
  const frame = batchesToFrame(batches, columns);
  if (spec.unknownFields === "block" && decoder.drift.size > 0) {
    const fields = [...decoder.drift].sort();
    throw new SchemaError(`source ${spec.name} sent fields its schema does not declare: ${fields.join(", ")} (it declares unknownFields: "block")`, {
      context: x.context,
      hint: `declare them in the source's record schema, or set unknownFields to "keep" (stored as JSON in _extra) or "warn" (dropped and reported)`,
    });
  }
  const result: ExtractResult = {
    frame,
    pages: streamed ? streamed.pages : batches.length,
    records: decoder.records,
    requests: client.stats.requests,
    retries: client.stats.retries,
    resumed: fetcher.resumed,
    drift: [...decoder.drift].sort(),
    presence: decoder.presence(),
    statusCounts: { ...client.stats.statusCounts },
    landingDir: x.landingDir,
    recordsAt,
    mark: streamed ? laterMark(spec, streamed.mark, markOf(spec, frame, fetcher.lastJson)) : markOf(spec, frame, fetcher.lastJson),
  };
  options.log.info({ source: spec.name, dt: options.window.dt, pages: result.pages, records: result.records, requests: result.requests, retries: result.retries, resumed: result.resumed, drift: result.drift }, "extracted");
  return result;
}

/** The landing state to resume from (null: start over); discards a landing of another request. */
async function prepareLanding(x: Extraction): Promise<LandingState | null> {
  const { landingDir, options } = x;
  if (options.refetch) await rm(landingDir, { recursive: true, force: true });
  let state = await readState(landingDir);
  if (state && state.fingerprint !== x.request.fingerprint) {
    options.log.warn({ source: x.spec.name, dt: options.window.dt, landingDir }, "landed pages belong to a different request; discarding them");
    await rm(landingDir, { recursive: true, force: true });
    state = null;
  }
  await ensureDir(landingDir);
  // temp files of writes interrupted by a crash are never part of a landing
  for (const f of await readdir(landingDir)) if (f.endsWith(".tmp")) await rm(path.join(landingDir, f), { force: true });
  return state;
}

/** One token bucket per source and origin for the whole process, so parallel partitions share the limit. */
const limiters = new Map<string, RequestLimiter>();
function limiterOf(key: string, limit: { rps: number; burst: number }, clock: Clock, options: ExtractOptions): RequestLimiter {
  if (options.limiterFor) return options.limiterFor(key, limit);
  if (options.clock !== undefined) return new TokenBucket(limit.rps, limit.burst, clock);
  const fullKey = `${key}|${limit.rps}|${limit.burst}`;
  let bucket = limiters.get(fullKey);
  if (!bucket) limiters.set(fullKey, (bucket = new TokenBucket(limit.rps, limit.burst, clock)));
  return bucket;
}

/** One governor per source and origin for the process (a fresh one under a test clock). */
const governors = new Map<string, RateGovernor>();
function governorOf(key: string, rules: ReturnType<typeof resolveResponseRules>, clock: Clock, share: boolean): RateGovernor {
  if (!share) return new RateGovernor(rules, clock);
  let governor = governors.get(key);
  if (!governor) governors.set(key, (governor = new RateGovernor(rules, clock)));
  return governor;
}

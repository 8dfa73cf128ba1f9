/**
 * extractPartition: every record of a source's partition exactly once, as a Polars DataFrame.
 *
 * Pipeline: a producer fetches pages (sequentially, or with bounded concurrency when the listing's
 * size is known), lands each raw body before anything else happens to it, and pushes it into a
 * bounded queue; a consumer decodes queued pages into Arrow batches while the next request is on
 * the wire. The queue bound is the backpressure: when decoding is slower than the API, fetching
 * waits, so memory stays bounded.
 */
import { setMaxListeners } from "node:events";
import { readFile, readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { RecordBatch } from "apache-arrow";
import type pl from "nodejs-polars";
import type { PartitionWindow } from "../core/dates.ts";
import { CancelledError, ConfigError, SluiceError, SourceFormatError, type ErrorContext } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { batchesToFrame, decodeRecords, deriveColumns, registerLooseObjects } from "./arrow.ts";
import { abortReason, systemClock, type Clock } from "./clock.ts";
import { HttpClient, redactText, redactUrl, type FetchPageOptions } from "./http.ts";
import {
  ensureDir,
  landingDirFor,
  pageFileName,
  readState,
  recordsOf,
  requestFingerprint,
  writeLandingFile,
  writeState,
  type LandingState,
  type RequestIdentity,
} from "./landing.ts";
import { createPaginator, joinUrl, samePosition, type PageView, type ParallelPlan, type Position } from "./paginate.ts";
import { resolvePolicy } from "./policy.ts";
import { TokenBucket } from "./ratelimit.ts";
import type { RequestPolicy, SourceSpec } from "./types.ts";

/** Options of one partition's extraction. */
export interface ExtractOptions {
  baseUrl: string;
  window: PartitionWindow;
  dataDir: string;
  job: string;
  signal: AbortSignal;
  log: Logger;
  /** Where auth secrets are read; default process.env. */
  env?: Record<string, string | undefined>;
  /** Ignore landed pages, fetch fresh. */
  refetch?: boolean;
  /** Injectable sleep/now (tests use a fake clock so retries do not really sleep). */
  clock?: Clock;
  /** Jitter source, injectable for tests. */
  random?: () => number;
  onPage?: (info: { page: number; records: number; bytes: number }) => void;
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
  /** HTTP status (or "network"/"timeout"/"bad_body") -> count. */
  statusCounts: Record<string, number>;
  landingDir: string;
}

/** A fetched or reused page waiting to be decoded. */
interface QueuedPage {
  pageNo: number;
  records: readonly unknown[];
  bytes: number;
  /** Resolves once the raw body is landed (file and state); decoding waits for it. */
  landed: Promise<void>;
}

/** A landed page that cannot be read back: the landing is discarded and the partition refetched. */
class CorruptLandingError extends Error {}

/** A FIFO with a capacity: push waits while full, shift waits while empty; both abort with the run. */
class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private readonly putters: Array<() => void> = [];
  private readonly takers: Array<() => void> = [];

  constructor(
    private readonly capacity: number,
    private readonly signal: AbortSignal,
  ) {}

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity) await this.wait(this.putters);
    this.items.push(item);
    this.takers.shift()?.();
  }

  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await this.wait(this.takers);
    }
    const item = this.items.shift();
    this.putters.shift()?.();
    return item;
  }

  close(): void {
    this.closed = true;
    for (const wake of this.takers.splice(0)) wake();
  }

  private wait(list: Array<() => void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(abortReason(this.signal));
      const onAbort = () => reject(abortReason(this.signal));
      this.signal.addEventListener("abort", onAbort, { once: true });
      list.push(() => {
        this.signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}

/**
 * Lands page bodies (each tmp + rename) and keeps the state file in step with them.
 *
 * Page writes run concurrently in the thread pool; their state updates are applied in the order
 * `land` was called (a sequential listing's `next` must never run ahead of a missing page), and
 * state writes are coalesced: at most one in progress and one pending, the pending one carrying
 * every update applied before it starts. A page counts as landed once its file is renamed into
 * place and a state write that lists it has completed. (A strictly serial write-then-state chain
 * per page costs ~8 thread-pool round trips per page, which queue behind JSON parsing on the
 * event loop and throttled the whole pipeline; synchronous writes block the loop for milliseconds
 * per page when the disk is busy.)
 */
class Lander {
  private applied: Promise<void> = Promise.resolve();
  private stateChain: Promise<void> = Promise.resolve();
  private pendingStateWrite: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly dir: string,
    readonly state: LandingState,
  ) {}

  /** Lands a page body, then applies `update` to the state; resolves once both are on disk. */
  land(pageNo: number, body: Buffer, update: (s: LandingState) => void): Promise<void> {
    const written = writeLandingFile(path.join(this.dir, pageFileName(pageNo)), body);
    const applied = Promise.all([written, this.applied]).then(() => {
      if (this.failure !== null) throw this.failure;
      const landed = this.state.landed;
      let i = landed.length;
      while (i > 0 && landed[i - 1]! > pageNo) i--;
      if (landed[i - 1] !== pageNo) landed.splice(i, 0, pageNo);
      update(this.state);
    });
    // a failed page poisons the updates after it: the state never skips over a hole
    this.applied = applied.catch((err: unknown) => {
      this.failure ??= err;
    });
    const landed = applied.then(() => this.persistState());
    // the caller may never await it (the run was aborted first): not an unhandled rejection
    const settled = landed.catch(() => undefined).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    return landed;
  }

  /** Resolves when no write is in progress (an aborted run must not leave writes behind it). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.stateChain;
  }

  /** A state write that starts after every update applied so far (joins one not yet started). */
  private persistState(): Promise<void> {
    if (this.pendingStateWrite) return this.pendingStateWrite;
    const write = this.stateChain.then(() => {
      this.pendingStateWrite = null;
      return writeState(this.dir, this.state);
    });
    this.pendingStateWrite = write;
    this.stateChain = write.catch(() => undefined);
    return write;
  }

  /** Marks the listing complete once every page handed to `land` is applied. */
  async complete(): Promise<void> {
    await this.applied;
    if (this.failure !== null) throw this.failure;
    this.state.complete = true;
    this.state.next = null;
    await this.persistState();
  }
}

/** Undecoded pages held at most (besides the `concurrency` in flight): the memory bound. */
export function queueCapacity(policy: RequestPolicy): number {
  return Math.max(4, 2 * policy.concurrency);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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

async function extractOnce(spec: SourceSpec, options: ExtractOptions): Promise<ExtractResult> {
  const { window, log } = options;
  const policy = resolvePolicy(spec.policy);
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const secret = spec.auth ? env[spec.auth.env] : undefined;
  const secrets = secret ? [secret] : [];
  const context: ErrorContext = { job: options.job, partition: window.dt, stage: "extract" };
  const landingDir = landingDirFor(options.dataDir, options.job, window.dt);
  const derived = deriveColumns(spec.schema);
  registerLooseObjects(derived.columns, derived.looseObjects);

  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.params(window))) params[k] = String(v);
  const base = joinUrl(options.baseUrl, spec.path);
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    throw new ConfigError(`invalid API base URL "${redactUrl(options.baseUrl, secrets)}" for source ${spec.name}`, { context, hint: "pass an http(s) URL, e.g. http://127.0.0.1:8787" });
  }
  const identity: RequestIdentity = {
    baseUrl: redactUrl(options.baseUrl, secrets),
    path: spec.path,
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, redactText(v, secrets)])),
    paginator: spec.paginator,
    recordsPath: spec.recordsPath,
  };
  const fingerprint = requestFingerprint(identity);

  if (options.signal.aborted) throw new CancelledError(`extraction of ${spec.name} for ${window.dt} was cancelled before it started`, { context, cause: options.signal.reason });
  const run = new AbortController();
  // every in-flight request, queue wait and backoff sleep listens to it
  setMaxListeners(Math.max(50, policy.concurrency * 4 + 20), run.signal);
  const onCallerAbort = () => run.abort(new CancelledError(`extraction of ${spec.name} for ${window.dt} was cancelled`, { context, cause: options.signal.reason }));
  options.signal.addEventListener("abort", onCallerAbort, { once: true });
  const deadline = setTimeout(
    () =>
      run.abort(
        new CancelledError(`extraction of ${spec.name} for ${window.dt} exceeded its partition deadline of ${policy.partitionDeadlineMs} ms`, {
          context,
          hint: "rerun to resume from the landed pages, or raise policy.partitionDeadlineMs",
        }),
      ),
    policy.partitionDeadlineMs,
  );

  let auth: { header: string; value: string; origin: string } | undefined;
  if (spec.auth && secret) {
    auth = { header: spec.auth.kind === "bearer" ? "authorization" : spec.auth.header.toLowerCase(), value: spec.auth.kind === "bearer" ? `Bearer ${secret}` : secret, origin: new URL(base).origin };
  } else if (spec.auth) {
    log.debug({ source: spec.name, env: spec.auth.env }, "auth secret not set; requests go without it");
  }
  const client = new HttpClient({
    policy,
    signal: run.signal,
    log,
    clock,
    ...(options.random ? { random: options.random } : {}),
    ...(auth ? { auth } : {}),
    secrets,
    ...(policy.rateLimit ? { limiter: sharedLimiter(`${new URL(base).origin}|${spec.name}`, policy.rateLimit, clock, options.clock === undefined) } : {}),
    context,
  });

  try {
    return await runPipeline({ spec, options, policy, columns: derived.columns, landingDir, base, params, identity, fingerprint, run, client, secrets, context });
  } catch (err) {
    const error = run.signal.aborted && !(err instanceof CorruptLandingError) ? (run.signal.reason ?? err) : err;
    if (error instanceof SluiceError) {
      error.withContext(context);
      error.message = redactText(error.message, secrets);
    }
    throw error;
  } finally {
    clearTimeout(deadline);
    options.signal.removeEventListener("abort", onCallerAbort);
    await client.close(run.signal.aborted);
  }
}

interface PipelineInput {
  spec: SourceSpec;
  options: ExtractOptions;
  policy: RequestPolicy;
  columns: ReturnType<typeof deriveColumns>["columns"];
  landingDir: string;
  base: string;
  params: Record<string, string>;
  identity: RequestIdentity;
  fingerprint: string;
  run: AbortController;
  client: HttpClient;
  secrets: string[];
  context: ErrorContext;
}

async function runPipeline(input: PipelineInput): Promise<ExtractResult> {
  const { spec, options, policy, columns, landingDir, run, client, context } = input;
  const { log } = options;
  const signal = run.signal;

  if (options.refetch) await rm(landingDir, { recursive: true, force: true });
  let state = await readState(landingDir);
  if (state && state.fingerprint !== input.fingerprint) {
    log.warn({ source: spec.name, dt: options.window.dt, landingDir }, "landed pages belong to a different request; discarding them");
    await rm(landingDir, { recursive: true, force: true });
    state = null;
  }
  await ensureDir(landingDir);
  // temp files of writes interrupted by a crash are never part of a landing
  for (const f of await readdir(landingDir)) if (f.endsWith(".tmp")) await rm(path.join(landingDir, f), { force: true });
  const lander = new Lander(
    landingDir,
    state ?? { version: 1, fingerprint: input.fingerprint, request: input.identity, landed: [], next: null, plan: null, complete: false, updatedAt: "" },
  );
  const paginator = createPaginator(spec.paginator, input.base, input.params);
  // room for a few pages beyond those in flight, so landing latency does not stall fetching
  const queue = new BoundedQueue<QueuedPage>(queueCapacity(policy), signal);
  const decoded: Array<{ pageNo: number; batch: RecordBatch }> = [];
  const drift = new Set<string>();
  let records = 0;
  let resumed = false;

  const parseBody = (url: string) => (body: Buffer) => {
    const parsed = recordsOf(body, spec.recordsPath);
    if (parsed) return parsed;
    const snippet = redactText(body.subarray(0, 120).toString("utf8").replace(/\s+/g, " ").trim(), input.secrets);
    throw new SourceFormatError(`GET ${client.redact(url)} answered 200 with a body that is not JSON with an array at "${spec.recordsPath}": ${snippet || "(empty body)"}`, {
      retryable: true,
      context,
    });
  };

  const fetchAt = async (pos: Position, pageNo: number, call: FetchPageOptions = {}): Promise<PageView> => {
    const url = paginator.urlFor(pos);
    const page = await client.fetchPage(url, parseBody(url), call);
    log.debug({ source: spec.name, page: pageNo, records: page.value.records.length, bytes: page.body.length, attempts: page.attempts }, "page fetched");
    return { pageNo, json: page.value.json, records: page.value.records, headers: page.headers, url: page.url, body: page.body };
  };

  const readLanded = async (pageNo: number): Promise<Buffer> => {
    try {
      return await readFile(path.join(landingDir, pageFileName(pageNo)));
    } catch {
      throw new CorruptLandingError(`page ${pageNo} is missing`);
    }
  };

  /** Queues the landed pages for decoding, reading a few files ahead. */
  const reuseLanded = async (pages: readonly number[]): Promise<void> => {
    const READ_AHEAD = 4;
    const reads: Array<Promise<Buffer> | undefined> = [];
    for (let i = 0; i < pages.length; i++) {
      while (reads.length < i + READ_AHEAD && reads.length < pages.length) {
        const read = readLanded(pages[reads.length]!);
        read.catch(() => undefined);
        reads.push(read);
      }
      const pageNo = pages[i]!;
      const body = await reads[i]!;
      reads[i] = undefined; // do not keep every body alive
      const parsed = recordsOf(body, spec.recordsPath);
      if (!parsed) throw new CorruptLandingError(`page ${pageNo} is not JSON with an array at "${spec.recordsPath}"`);
      resumed = true;
      await queue.push({ pageNo, records: parsed.records, bytes: body.length, landed: Promise.resolve() });
    }
  };

  const runParallel = async (plan: ParallelPlan, already: ReadonlySet<number>): Promise<void> => {
    const todo: number[] = [];
    for (let p = 1; p <= plan.pages; p++) if (!already.has(p)) todo.push(p);
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !signal.aborted) {
        const pageNo = todo[next++]!;
        const page = await fetchAt(paginator.positionOfPage(pageNo, plan), pageNo);
        paginator.guard(page);
        const landed = lander.land(pageNo, page.body, () => undefined);
        // waits while the queue is full: at most `concurrency` pages in flight plus the queue
        await queue.push({ pageNo, records: page.records, bytes: page.body.length, landed });
      }
    };
    await Promise.all(Array.from({ length: Math.min(policy.concurrency, todo.length) }, worker));
    await lander.complete();
  };

  const producer = async (): Promise<void> => {
    try {
      const landedSet = new Set(state?.landed ?? []);
      await reuseLanded(state?.landed ?? []);
      if (state?.complete) return;
      if (state?.plan) return await runParallel(state.plan, landedSet);

      let pos: Position | null = state && state.landed.length > 0 ? state.next : paginator.start();
      let pageNo = (state?.landed.length ? Math.max(...state.landed) : 0) + 1;
      if (pos) paginator.visited(pos);

      // Speculative next request: for cursor and link listings the next position can be read off
      // the raw response (a byte scan for the cursor key, or the Link header) before the body is
      // parsed, so page N+1 is on the wire while page N is parsed. Only the page the producer is
      // waiting for may speculate (one page ahead at most, so backpressure still holds), and
      // next() on the parsed page confirms the guess or the speculative request is cancelled.
      let awaiting = 0;
      let ahead: { pos: Position; pageNo: number; page: Promise<PageView>; cancel: AbortController } | null = null;
      const dropAhead = () => {
        ahead?.cancel.abort(new Error("speculative request not needed"));
        ahead = null;
      };
      /** The speculative request for page `no` at `at`, if that is what it guessed. */
      const adoptAhead = (no: number, at: Position): Promise<PageView> | null => {
        if (!ahead || ahead.pageNo !== no || !samePosition(ahead.pos, at)) return null;
        const page = ahead.page;
        ahead = null;
        return page;
      };
      const fetchSequential = (at: Position, no: number, cancel?: AbortSignal): Promise<PageView> => {
        const page = fetchSequentialUnguarded(at, no, cancel);
        // it is issued ahead of being awaited, and never awaited if the run fails first
        page.catch(() => undefined);
        return page;
      };
      const fetchSequentialUnguarded = (at: Position, no: number, cancel?: AbortSignal): Promise<PageView> =>
        fetchAt(at, no, {
          ...(cancel ? { signal: cancel } : {}),
          onBody: (body, res) => {
            if (awaiting !== no) return false;
            const guess = paginator.speculate({ body, headers: res.headers, url: res.url });
            if (!guess) return false;
            if (ahead && ahead.pageNo === no + 1 && samePosition(ahead.pos, guess)) return false;
            dropAhead();
            const controller = new AbortController();
            const page = fetchSequential(guess, no + 1, controller.signal);
            ahead = { pos: guess, pageNo: no + 1, page, cancel: controller };
            return true;
          },
        });

      try {
        let current: Promise<PageView> | null = pos ? fetchSequential(pos, pageNo) : null;
        while (pos && current) {
          awaiting = pageNo;
          const page = await current;
          awaiting = 0;
          paginator.guard(page);
          const nextPos = paginator.next(pos, page);
          const plan = pageNo === 1 && policy.concurrency > 1 && nextPos !== null ? paginator.planParallel(page) : null;
          let next = nextPos && !plan ? adoptAhead(pageNo + 1, nextPos) : null;
          if (!next) {
            dropAhead();
            if (nextPos && !plan) next = fetchSequential(nextPos, pageNo + 1);
          }
          const landed = lander.land(pageNo, page.body, (s) => {
            s.plan = plan;
            s.next = plan ? null : nextPos;
          });
          // waits while the queue is full (backpressure); at most the next page is in flight
          await queue.push({ pageNo, records: page.records, bytes: page.body.length, landed });
          if (plan) {
            await landed;
            return await runParallel(plan, new Set([1]));
          }
          pos = nextPos;
          pageNo++;
          current = next;
        }
      } finally {
        dropAhead();
      }
      await lander.complete();
    } finally {
      queue.close();
    }
  };

  const consumer = async (): Promise<void> => {
    for (;;) {
      const item = await queue.shift();
      if (!item) return;
      // a page is decoded only once its raw body is landed
      await item.landed;
      decoded.push({ pageNo: item.pageNo, batch: decodeRecords(item.records, columns, item.pageNo, { drift }) });
      records += item.records.length;
      options.onPage?.({ page: item.pageNo, records: item.records.length, bytes: item.bytes });
      // let socket reads and timers run between decodes
      await yieldToEventLoop();
    }
  };

  const fail = (err: unknown) => {
    if (!signal.aborted) run.abort(err);
  };
  log.info({ source: spec.name, dt: options.window.dt, url: client.redact(paginator.urlFor(paginator.start())), reuse: state?.landed.length ?? 0 }, "extracting");
  await Promise.all([producer().catch(fail), consumer().catch(fail)]);
  // pages already being written finish before we return, even when the run failed
  await lander.idle();
  if (signal.aborted) throw abortReason(signal);

  decoded.sort((a, b) => a.pageNo - b.pageNo);
  const frame = batchesToFrame(
    decoded.map((d) => d.batch),
    columns,
  );
  const result: ExtractResult = {
    frame,
    pages: decoded.length,
    records,
    requests: client.stats.requests,
    retries: client.stats.retries,
    resumed,
    drift: [...drift].sort(),
    statusCounts: { ...client.stats.statusCounts },
    landingDir,
  };
  log.info(
    { source: spec.name, dt: options.window.dt, pages: result.pages, records, requests: result.requests, retries: result.retries, resumed, drift: result.drift },
    "extracted",
  );
  return result;
}

/** One token bucket per source and origin for the whole process, so parallel partitions share the limit. */
const limiters = new Map<string, TokenBucket>();
function sharedLimiter(key: string, limit: { rps: number; burst: number }, clock: Clock, share: boolean): TokenBucket {
  if (!share) return new TokenBucket(limit.rps, limit.burst, clock);
  const fullKey = `${key}|${limit.rps}|${limit.burst}`;
  let bucket = limiters.get(fullKey);
  if (!bucket) limiters.set(fullKey, (bucket = new TokenBucket(limit.rps, limit.burst, clock)));
  return bucket;
}

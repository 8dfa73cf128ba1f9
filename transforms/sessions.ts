/**
 * Sessionization: assigns a session_id to every event and aggregates the sessions table.
 *
 * Pure and lazy: every function takes and returns a LazyFrame and does no I/O; the work happens
 * when the caller collects. Everything is vectorized Polars: no per-row JS.
 *
 * Input contract: valid events, already deduplicated by event_id (deduplication is not this
 * transform's job; duplicate rows would count twice). Rows may arrive in any order and span days.
 */
import pl from "nodejs-polars";
import type { Expr } from "nodejs-polars";
import { CancelledError, ConfigError, SchemaError } from "../src/core/errors.ts";
import type { ColumnSpec } from "../src/load/types.ts";

/** The product's definition of a session. */
export interface SessionRules {
  /** A gap strictly greater than this (in ms) between two events of a user starts a new session. */
  timeoutMs: number;
  /** A chain of activity longer than this (in ms) is cut every maxSessionMs from its first event. */
  maxSessionMs: number;
}

/** 30-minute inactivity timeout, 24-hour cap. */
export const DEFAULT_SESSION_RULES: SessionRules = Object.freeze({
  timeoutMs: 30 * 60 * 1000,
  maxSessionMs: 24 * 60 * 60 * 1000,
});

/**
 * The event columns sessionization reads (a lake partition carries more, which it recomputes). The
 * transform's own contract, so it runs on any frame that has them (tests, benchmarks); jobs/events.ts
 * checks at compile time that they are the columns of the events record.
 */
export const SESSION_INPUT_COLUMNS = ["event_id", "user_id", "ts", "event_type", "page", "amount"] as const;

/** Columns of assignSessions' output, in order. */
export const SESSION_EVENT_COLUMNS = [...SESSION_INPUT_COLUMNS, "session_id", "dt"] as const;

/** The sessions table this transform produces: its columns and their warehouse types, in order. */
export const SESSIONS_SCHEMA: ReadonlyArray<ColumnSpec> = [
  { name: "session_id", type: "VARCHAR" },
  { name: "user_id", type: "BIGINT" },
  { name: "session_start", type: "TIMESTAMPTZ" },
  { name: "session_end", type: "TIMESTAMPTZ" },
  { name: "duration_s", type: "DOUBLE" },
  { name: "event_count", type: "INTEGER" },
  { name: "first_event_type", type: "VARCHAR" },
  { name: "last_event_type", type: "VARCHAR" },
  { name: "primary_action", type: "VARCHAR" },
  { name: "has_purchase", type: "BOOLEAN" },
  { name: "revenue", type: "DOUBLE" },
  { name: "dt", type: "DATE" },
];

/** Columns of the sessions table, in order. */
export const SESSION_COLUMNS = SESSIONS_SCHEMA.map((c) => c.name);

/** Event types that never count as a session's primary action. */
const NON_ACTIONS = ["login", "logout"];

// Private helper columns; the leading underscores keep them clear of user columns.
const T = "__t_us"; // ts as Int64 microseconds since the epoch
const KEY = "__session_key"; // Int64 session key, increasing in (user_id, ts, event_id) order
const NEW = "__session_first"; // true on the first event of a session
const ROW = "__row"; // position in (user_id, ts, event_id) order
const START = "__start_us";
const END = "__end_us";

// nodejs-polars turns JS number (and bigint) literals into Float64, and Int64 / Float64 is a float
// division; integer math therefore needs literals cast to Int64 explicitly.
function int(value: number): Expr {
  return pl.lit(value).cast(pl.Int64);
}

/** `<user_id>-<floor(start_us / 1000)>`: Int64 / Int64 is floor division in Polars. */
function sessionIdExpr(userId: Expr, startUs: Expr): Expr {
  return pl.concatString([userId.cast(pl.Utf8), pl.lit("-"), startUs.div(int(1000)).cast(pl.Utf8)], "") as Expr;
}

/*
 * Expressions are built once and reused across calls: nodejs-polars spends about 0.5-1 ms of JS
 * (mostly garbage collection of its wrapper objects) per Expr it creates, so building this plan
 * from scratch (~180 Exprs) cost 100+ ms per call, more than collecting a small frame.
 */

/** Rule-independent expressions. */
interface SharedExprs {
  normalize: Expr[];
  normalizeWithId: Expr[];
  addT: Expr;
  sortKeys: Expr[];
  sessionKeyFromId: Expr;
  key: Expr;
  eventsSelect: Expr[];
  baseAggs: Expr[];
  givenIdAgg: Expr;
  isAction: Expr;
  keyType: Expr;
  primaryAggs: Expr[];
  firstOfKey: Expr;
  primarySelect: Expr[];
  summarySelectGenerated: Expr[];
  summarySelectGiven: Expr[];
}

/** Expressions that depend on the rules. */
interface RuleExprs {
  mark1: Expr[];
  mark2: Expr[];
  mark3: Expr[];
}

let shared: SharedExprs | undefined;
const byRules = new Map<string, RuleExprs>();

function normalizeExprs(): Expr[] {
  return [
    pl.col("event_id").cast(pl.Utf8),
    pl.col("user_id").cast(pl.Int64),
    pl.col("ts").cast(pl.Datetime("us", "UTC")),
    pl.col("event_type").cast(pl.Utf8),
    pl.col("page").cast(pl.Utf8),
    pl.col("amount").cast(pl.Float64),
  ];
}

function summarySelect(sessionId: Expr): Expr[] {
  return [
    sessionId.alias("session_id"),
    pl.col("user_id"),
    pl.col("session_start"),
    pl.col("session_end"),
    // Exact decimal seconds, then the nearest Float64. A float division by a literal 1e6 is
    // rewritten by Polars into a multiplication by 1e-6, which is off by an ulp for some values.
    pl.col(END).sub(pl.col(START)).cast(pl.Decimal(38, 6)).div(pl.lit(1_000_000).cast(pl.Decimal(38, 0))).cast(pl.Float64).alias("duration_s"),
    pl.col("event_count"),
    pl.col("first_event_type"),
    pl.col("last_event_type"),
    pl.col("primary_action").cast(pl.Utf8),
    pl.col("has_purchase"),
    pl.col("revenue"),
    pl.col("session_start").cast(pl.Date).alias("dt"),
  ];
}

function sharedExprs(): SharedExprs {
  if (shared) return shared;
  const eventType = pl.col("event_type");
  const isPurchase = eventType.eq(pl.lit("purchase"));
  // Categorical codes are a cheap dense integer per distinct string (only uniqueness matters).
  const typeCode = eventType.cast(pl.Categorical).toPhysical().cast(pl.Int64);
  shared = {
    normalize: normalizeExprs(),
    normalizeWithId: [...normalizeExprs(), pl.col("session_id").cast(pl.Utf8)],
    addT: pl.col("ts").cast(pl.Int64).alias(T),
    sortKeys: [pl.col("user_id"), pl.col(T), pl.col("event_id")],
    sessionKeyFromId: pl.col("session_id").cast(pl.Categorical).toPhysical().cast(pl.Int64).alias(KEY),
    key: pl.col(KEY),
    eventsSelect: [
      ...["event_id", "user_id", "ts", "event_type", "page", "amount"].map((c) => pl.col(c)),
      // Format one id per session (its first row) and spread it by the dense key: cheaper than
      // formatting a string per event or joining the ids back.
      sessionIdExpr(pl.col("user_id").filter(pl.col(NEW)), pl.col(T).filter(pl.col(NEW)))
        .gather(pl.col(KEY).sub(int(1)))
        .alias("session_id"),
      pl.col("ts").cast(pl.Date).alias("dt"),
    ],
    baseAggs: [
      pl.col("user_id").first(),
      pl.col(T).first().alias(START),
      pl.col(T).last().alias(END),
      pl.col("ts").first().alias("session_start"),
      pl.col("ts").last().alias("session_end"),
      pl.len().cast(pl.Int32).alias("event_count"),
      eventType.first().alias("first_event_type"),
      eventType.last().alias("last_event_type"),
      isPurchase.any().alias("has_purchase"),
      pl.when(isPurchase).then(pl.col("amount").fillNull(0)).otherwise(pl.lit(0)).cast(pl.Float64).sum().alias("revenue"),
    ],
    givenIdAgg: pl.col("session_id").first().alias("__given_session_id"),
    isAction: NON_ACTIONS.map((t) => eventType.neq(pl.lit(t))).reduce((a, b) => a.and(b)),
    // One Int64 key per (session, type): a one-column integer group-by is ~3x faster than
    // grouping by (session, event_type string).
    keyType: pl.col(KEY).mul(int(2 ** 32)).add(typeCode).alias("__key_type"),
    primaryAggs: [pl.col(KEY).first(), eventType.first().alias("primary_action"), pl.len().alias("__n"), pl.col(ROW).min().alias("__first_row")],
    firstOfKey: pl.col(KEY).neq(pl.col(KEY).shift(1)).fillNull(true),
    primarySelect: [pl.col(KEY), pl.col("primary_action")],
    summarySelectGenerated: summarySelect(sessionIdExpr(pl.col("user_id"), pl.col(START))),
    summarySelectGiven: summarySelect(pl.col("__given_session_id")),
  };
  return shared;
}

function ruleExprs(rules: SessionRules): RuleExprs {
  const cacheKey = `${rules.timeoutMs}/${rules.maxSessionMs}`;
  const cached = byRules.get(cacheKey);
  if (cached) return cached;
  const timeoutUs = int(rules.timeoutMs * 1000);
  const capUs = int(rules.maxSessionMs * 1000);
  const t = pl.col(T);
  const user = pl.col("user_id");
  const nullInt = pl.lit(null).cast(pl.Int64);
  // Whole-frame shifts instead of per-user windows: after the sort each user is contiguous, and a
  // user change always starts a chain. Null only on the first row, which always starts one.
  const newChain = user.neq(user.shift(1)).or(t.sub(t.shift(1)).gt(timeoutUs)).fillNull(true);
  const chainStart = pl.when(newChain).then(t).otherwise(nullInt).forwardFill();
  const delta = t.sub(chainStart);
  // Piece k covers (k*cap, (k+1)*cap] after the chain start; delta 0 belongs to piece 0.
  const piece = pl.when(delta.eq(int(0))).then(int(0)).otherwise(delta.sub(int(1)).div(capUs));
  const compiled: RuleExprs = {
    mark1: [newChain.alias("__new_chain"), piece.alias("__piece")],
    mark2: [pl.col("__new_chain").or(pl.col("__piece").neq(pl.col("__piece").shift(1))).fillNull(true).alias(NEW)],
    mark3: [pl.col(NEW).cast(pl.Int64).cumSum().alias(KEY)],
  };
  if (byRules.size >= 16) byRules.clear(); // rules come from config: a handful at most
  byRules.set(cacheKey, compiled);
  return compiled;
}

function checkRules(rules: SessionRules): void {
  const { timeoutMs, maxSessionMs } = rules;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new ConfigError(`session timeoutMs must be a finite number >= 0, got ${timeoutMs}`, { context: { stage: "transform" } });
  }
  if (!Number.isFinite(maxSessionMs) || maxSessionMs <= 0) {
    throw new ConfigError(`session maxSessionMs must be a finite number > 0, got ${maxSessionMs}`, { context: { stage: "transform" } });
  }
  // Rules are applied in whole microseconds; a fractional-µs rule would be silently rounded.
  if (!Number.isSafeInteger(timeoutMs * 1000) || !Number.isSafeInteger(maxSessionMs * 1000)) {
    throw new ConfigError("session rules must be whole microseconds", { context: { stage: "transform" } });
  }
}

function requireColumns(frame: pl.LazyDataFrame, required: readonly string[], what: string): void {
  const present = new Set(frame.columns);
  const missing = required.filter((c) => !present.has(c));
  if (missing.length > 0) {
    throw new SchemaError(`${what}: missing column(s) ${missing.join(", ")}`, { context: { stage: "transform" } });
  }
}

/**
 * Typed input columns (extras such as dt or an old session_id dropped) plus T, sorted by the
 * session order (user_id, ts, event_id).
 */
function sortedEvents(events: pl.LazyDataFrame, normalize: Expr[], carry: readonly string[] = []): pl.LazyDataFrame {
  const x = sharedExprs();
  return events.select(...normalize, ...carry.map((c) => pl.col(c))).withColumns(x.addT).sort(x.sortKeys);
}

/** Adds NEW (first event of a session) and KEY (Int64 session number 1, 2, ... in sort order). */
function markSessions(sorted: pl.LazyDataFrame, rules: SessionRules): pl.LazyDataFrame {
  const r = ruleExprs(rules);
  return sorted
    .withColumns(...r.mark1)
    .withColumns(...r.mark2)
    .withColumns(...r.mark3)
    .drop("__new_chain", "__piece");
}

/** Public events-with-sessions columns from a marked frame, in sort order, then the carried columns. */
function eventsOutput(marked: pl.LazyDataFrame, carry: readonly string[] = []): pl.LazyDataFrame {
  return marked.select(...sharedExprs().eventsSelect, ...carry.map((c) => pl.col(c)));
}

/**
 * Aggregates a frame sorted by (user_id, ts, event_id), with T and an Int64 session KEY, into the
 * sessions table. Relies on Polars keeping row order within groups (first()/last() follow the
 * sort) and on maintainOrder keeping sessions in (user_id, session_start) order.
 */
function summarizeSorted(sorted: pl.LazyDataFrame, givenIds: boolean): pl.LazyDataFrame {
  const x = sharedExprs();
  const withRow = sorted.withRowIndex(ROW);
  const base = withRow.groupBy(x.key, true).agg(...x.baseAggs, ...(givenIds ? [x.givenIdAgg] : []));
  // Most frequent non-login/logout type; ties go to the earliest first occurrence.
  const primary = withRow
    .filter(x.isAction)
    .groupBy(x.keyType)
    .agg(...x.primaryAggs)
    .sort([KEY, "__n", "__first_row"], [false, true, false])
    // First row per session in that order. (Not unique(keep: "first"): the optimizer drops its
    // maintainOrder, and "first" is then not documented to mean the first row.)
    .filter(x.firstOfKey)
    .select(...x.primarySelect);
  return base
    .join(primary, { on: KEY, how: "left", maintainOrder: "left", validate: "1:1" })
    .select(...(givenIds ? x.summarySelectGiven : x.summarySelectGenerated));
}

/** Assigns session_id to every event; output columns exactly SESSION_EVENT_COLUMNS, sorted by (user_id, ts, event_id). */
export function assignSessions(events: pl.LazyDataFrame, rules: SessionRules = DEFAULT_SESSION_RULES): pl.LazyDataFrame {
  checkRules(rules);
  requireColumns(events, SESSION_INPUT_COLUMNS, "assignSessions");
  return eventsOutput(markSessions(sortedEvents(events, sharedExprs().normalize), rules));
}

/**
 * Aggregates events-with-session_id into the sessions table (columns exactly SESSION_COLUMNS),
 * sorted by (user_id, session_start). Trusts the given session_id: rows sharing it form a session.
 */
export function summarizeSessions(eventsWithSessions: pl.LazyDataFrame): pl.LazyDataFrame {
  requireColumns(eventsWithSessions, [...SESSION_INPUT_COLUMNS, "session_id"], "summarizeSessions");
  const x = sharedExprs();
  return summarizeSorted(sortedEvents(eventsWithSessions, x.normalizeWithId).withColumns(x.sessionKeyFromId), true);
}

/**
 * Both at once: the outputs share one plan prefix (normalize, sort, mark) and the sessions group by
 * an integer key instead of the string id. Each collect still runs the prefix (nodejs-polars has no
 * multi-plan collect); collectSessionized sorts only once. Events come sorted by
 * (user_id, ts, event_id), sessions by (user_id, session_start).
 */
export function sessionize(
  events: pl.LazyDataFrame,
  rules: SessionRules = DEFAULT_SESSION_RULES,
): { events: pl.LazyDataFrame; sessions: pl.LazyDataFrame } {
  checkRules(rules);
  requireColumns(events, SESSION_INPUT_COLUMNS, "sessionize");
  const marked = markSessions(sortedEvents(events, sharedExprs().normalize), rules);
  return { events: eventsOutput(marked), sessions: summarizeSorted(marked, false) };
}

/**
 * Runs sessionize and collects both outputs, sorting only once: the marked events are
 * materialized and both outputs are computed from them (nodejs-polars has no multi-plan collect,
 * so two separate collects of sessionize's frames would each sort). Checks `signal` between steps.
 * `carry`: input columns the transform does not read that each event keeps, after its own columns
 * (cheaper than joining them back by event_id: they ride along in the one sort).
 */
export async function collectSessionized(
  events: pl.LazyDataFrame,
  rules: SessionRules = DEFAULT_SESSION_RULES,
  signal?: AbortSignal,
  carry: readonly string[] = [],
): Promise<{ events: pl.DataFrame; sessions: pl.DataFrame }> {
  checkRules(rules);
  requireColumns(events, [...SESSION_INPUT_COLUMNS, ...carry], "collectSessionized");
  const clash = carry.filter((c) => (SESSION_EVENT_COLUMNS as readonly string[]).includes(c) || c.startsWith("__"));
  if (clash.length > 0) throw new ConfigError(`collectSessionized cannot carry ${clash.join(", ")}: the transform computes or uses that column`, { context: { stage: "transform" } });
  checkAborted(signal);
  const marked = (await markSessions(sortedEvents(events, sharedExprs().normalize, carry), rules).collect()).lazy();
  checkAborted(signal);
  const [eventsOut, sessionsOut] = await Promise.all([eventsOutput(marked, carry).collect(), summarizeSorted(marked, false).collect()]);
  checkAborted(signal);
  return { events: eventsOut, sessions: sessionsOut };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("sessionization cancelled", { cause: signal.reason, context: { stage: "transform" } });
}

/** Tests for the sessionization transform (transforms/sessions.ts) against hand-computed cases and a reference loop. */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  assignSessions,
  collectSessionized,
  DEFAULT_SESSION_RULES,
  SESSION_COLUMNS,
  SESSION_EVENT_COLUMNS,
  sessionize,
  summarizeSessions,
  type SessionRules,
} from "../transforms/sessions.ts";
import { CancelledError, ConfigError, SchemaError } from "../src/core/errors.ts";
import { referenceSessionize, utcDate, type ReferenceEvent, type ReferenceSession } from "./fixtures/session-reference.ts";
import { seededRandom } from "../src/core/random.ts";
import { weightedEventTypes } from "./support/events.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

interface Ev {
  id: string;
  user: number;
  ts: bigint; // µs since the epoch
  type: string;
  amount?: number | null;
  page?: string | null;
}

const MIN_US = 60_000_000n;
const HOUR_US = 60n * MIN_US;
const DAY_US = 24n * HOUR_US;

/** µs since the epoch of an ISO instant, plus extra µs. */
function us(iso: string, extraUs = 0n): bigint {
  const ms = Date.parse(iso);
  assert.ok(Number.isFinite(ms), `bad test instant ${iso}`);
  return BigInt(ms) * 1000n + extraUs;
}

function safeNumber(v: bigint): number {
  const n = Number(v);
  assert.ok(Number.isSafeInteger(n), `timestamp ${v} is not exact as a JS number`);
  return n;
}

/** A typed events frame, built column-wise. µs timestamps go in as JS numbers (exact below 2^53);
 * nodejs-polars turns a bigint[] with dtype Int64 into nulls. */
function frame(evs: readonly Ev[]): pl.DataFrame {
  return pl.DataFrame([
    pl.Series("event_id", evs.map((e) => e.id), pl.Utf8),
    pl.Series("user_id", evs.map((e) => e.user), pl.Int64),
    pl.Series("ts", evs.map((e) => safeNumber(e.ts)), pl.Int64).cast(pl.Datetime("us", "UTC")),
    pl.Series("event_type", evs.map((e) => e.type), pl.Utf8),
    pl.Series("page", evs.map((e) => e.page ?? null), pl.Utf8),
    pl.Series("amount", evs.map((e) => e.amount ?? null), pl.Float64),
  ]);
}

interface EventRow {
  event_id: string;
  user_id: number;
  ts_us: number;
  event_type: string;
  session_id: string;
  dt: string;
}

/** A sessions row as plain values: the reference's session (test/fixtures/reference-pipeline.ts), times as exact µs numbers. */
type SessionRow = Omit<ReferenceSession, "session_start_us" | "session_end_us"> & { start_us: number; end_us: number };

/** Events output as plain rows, timestamps as exact µs numbers and dates as strings. */
function eventRows(df: pl.DataFrame): EventRow[] {
  return df.select(...EVENT_ROW_EXPRS).toRecords() as unknown as EventRow[];
}

// Built once: each Expr costs nodejs-polars ~0.5 ms of JS, which adds up over hundreds of runs.
const EVENT_ROW_EXPRS = [
  pl.col("event_id"),
  pl.col("user_id"),
  pl.col("ts").cast(pl.Int64).alias("ts_us"),
  pl.col("event_type"),
  pl.col("session_id"),
  pl.col("dt").cast(pl.Utf8),
];

/** Sessions output as plain rows (same conventions as eventRows). */
function sessionRows(df: pl.DataFrame): SessionRow[] {
  return df.select(...SESSION_ROW_EXPRS).toRecords() as unknown as SessionRow[];
}

const SESSION_ROW_EXPRS = [
  pl.col("session_id"),
  pl.col("user_id"),
  pl.col("session_start").cast(pl.Int64).alias("start_us"),
  pl.col("session_end").cast(pl.Int64).alias("end_us"),
  ...["duration_s", "event_count", "first_event_type", "last_event_type", "primary_action", "has_purchase", "revenue"].map((c) => pl.col(c)),
  pl.col("dt").cast(pl.Utf8),
];

function run(evs: readonly Ev[], rules?: SessionRules): { events: EventRow[]; sessions: SessionRow[] } {
  const out = sessionize(frame(evs).lazy(), rules);
  return { events: eventRows(out.events.collectSync()), sessions: sessionRows(out.sessions.collectSync()) };
}

function sessionOf(events: readonly EventRow[]): Record<string, string> {
  return Object.fromEntries(events.map((e) => [e.event_id, e.session_id]));
}

function refSessionRows(sessions: readonly ReferenceSession[]): SessionRow[] {
  return sessions.map(({ session_start_us, session_end_us, ...rest }) => ({ ...rest, start_us: Number(session_start_us), end_us: Number(session_end_us) }));
}

function toReference(evs: readonly Ev[]): ReferenceEvent[] {
  return evs.map((e) => ({ event_id: e.id, user_id: e.user, ts_us: e.ts, event_type: e.type, amount: e.amount ?? null }));
}

/** Session id per the product rule, computed by hand. */
function sid(user: number, startUs: bigint): string {
  return `${user}-${startUs / 1000n}`;
}

/** Column names and dtypes as strings. Utf8 and String are the same dtype, but print (and
 * `.equals`) differently in nodejs-polars 0.26, so expectations use pl.String. */
function schemaOf(df: pl.DataFrame): Array<[string, string]> {
  return Object.entries(df.schema).map(([name, dtype]) => [name, String(dtype)]);
}

const EXPECTED_EVENT_SCHEMA: Array<[string, string]> = [
  ["event_id", String(pl.String)],
  ["user_id", String(pl.Int64)],
  ["ts", String(pl.Datetime("us", "UTC"))],
  ["event_type", String(pl.String)],
  ["page", String(pl.String)],
  ["amount", String(pl.Float64)],
  ["session_id", String(pl.String)],
  ["dt", String(pl.Date)],
];

const EXPECTED_SESSION_SCHEMA: Array<[string, string]> = [
  ["session_id", String(pl.String)],
  ["user_id", String(pl.Int64)],
  ["session_start", String(pl.Datetime("us", "UTC"))],
  ["session_end", String(pl.Datetime("us", "UTC"))],
  ["duration_s", String(pl.Float64)],
  ["event_count", String(pl.Int32)],
  ["first_event_type", String(pl.String)],
  ["last_event_type", String(pl.String)],
  ["primary_action", String(pl.String)],
  ["has_purchase", String(pl.Bool)],
  ["revenue", String(pl.Float64)],
  ["dt", String(pl.Date)],
];

const T0 = us("2026-03-14T09:00:00.000Z");
const TIMEOUT_US = BigInt(DEFAULT_SESSION_RULES.timeoutMs) * 1000n;

// ---------------------------------------------------------------------------------------------

// assignSessions / sessionize: session boundaries

test("default rules are a 30 minute timeout and a 24 hour cap", () => {
  assert.equal(DEFAULT_SESSION_RULES.timeoutMs, 30 * 60 * 1000);
  assert.equal(DEFAULT_SESSION_RULES.maxSessionMs, 24 * 60 * 60 * 1000);
});

test("unsorted input gets the same sessions as sorted input, and events come out in (user_id, ts, event_id) order", () => {
  const evs: Ev[] = [
    { id: "e1", user: 1, ts: T0, type: "login" },
    { id: "e2", user: 1, ts: T0 + 5n * MIN_US, type: "view_page", page: "/a" },
    { id: "e3", user: 1, ts: T0 + 50n * MIN_US, type: "view_page", page: "/b" },
    { id: "e4", user: 2, ts: T0 + 1n * MIN_US, type: "login" },
    { id: "e5", user: 2, ts: T0 + 20n * MIN_US, type: "logout" },
  ];
  const shuffled = [evs[3]!, evs[2]!, evs[4]!, evs[0]!, evs[1]!];
  const sorted = run(evs);
  const unsorted = run(shuffled);
  assert.deepEqual(unsorted, sorted);
  assert.deepEqual(sessionOf(unsorted.events), {
    e1: sid(1, T0),
    e2: sid(1, T0),
    e3: sid(1, T0 + 50n * MIN_US),
    e4: sid(2, T0 + MIN_US),
    e5: sid(2, T0 + MIN_US),
  });
  assert.deepEqual(
    unsorted.events.map((e) => e.event_id),
    ["e1", "e2", "e3", "e4", "e5"],
  );
});

test("equal timestamps never start a session and are ordered by event_id", () => {
  const evs: Ev[] = [
    { id: "b", user: 5, ts: T0, type: "login" },
    { id: "c", user: 5, ts: T0, type: "logout" },
    { id: "a", user: 5, ts: T0, type: "view_page" },
  ];
  const { events, sessions } = run(evs);
  assert.equal(sessions.length, 1);
  assert.deepEqual(events.map((e) => e.event_id), ["a", "b", "c"]);
  assert.equal(sessions[0]!.first_event_type, "view_page");
  assert.equal(sessions[0]!.last_event_type, "logout");
  assert.equal(sessions[0]!.duration_s, 0);
  assert.equal(sessions[0]!.event_count, 3);
});

test("a gap of exactly the timeout continues the session; 1 µs or 1 ms more starts a new one", () => {
  const a = T0;
  const b = a + TIMEOUT_US; // exactly 30:00.000000
  const c = b + TIMEOUT_US + 1n; // 30:00.000001
  const d = c + TIMEOUT_US + 1000n; // 30:00.001
  const { events, sessions } = run([
    { id: "a", user: 1, ts: a, type: "login" },
    { id: "b", user: 1, ts: b, type: "view_page" },
    { id: "c", user: 1, ts: c, type: "view_page" },
    { id: "d", user: 1, ts: d, type: "view_page" },
  ]);
  assert.deepEqual(sessionOf(events), { a: sid(1, a), b: sid(1, a), c: sid(1, c), d: sid(1, d) });
  assert.deepEqual(
    sessions.map((s) => [s.session_id, s.event_count, s.duration_s]),
    [
      [sid(1, a), 2, 1800],
      [sid(1, c), 1, 0],
      [sid(1, d), 1, 0],
    ],
  );
});

test("gaps are per user: another user's events in between do not bridge a gap", () => {
  const { events } = run([
    { id: "a1", user: 1, ts: T0, type: "view_page" },
    { id: "b1", user: 2, ts: T0 + 20n * MIN_US, type: "view_page" },
    { id: "a2", user: 1, ts: T0 + 40n * MIN_US, type: "view_page" },
    { id: "b2", user: 2, ts: T0 + 40n * MIN_US, type: "view_page" },
  ]);
  assert.deepEqual(sessionOf(events), {
    a1: sid(1, T0),
    a2: sid(1, T0 + 40n * MIN_US),
    b1: sid(2, T0 + 20n * MIN_US),
    b2: sid(2, T0 + 20n * MIN_US),
  });
});

test("a custom timeout is honoured", () => {
  const rules: SessionRules = { timeoutMs: 10 * 60 * 1000, maxSessionMs: DEFAULT_SESSION_RULES.maxSessionMs };
  const { events } = run(
    [
      { id: "a", user: 1, ts: T0, type: "view_page" },
      { id: "b", user: 1, ts: T0 + 10n * MIN_US, type: "view_page" },
      { id: "c", user: 1, ts: T0 + 20n * MIN_US + 1n, type: "view_page" },
    ],
    rules,
  );
  assert.deepEqual(sessionOf(events), { a: sid(1, T0), b: sid(1, T0), c: sid(1, T0 + 20n * MIN_US + 1n) });
});

test("session ids use the start floored to whole epoch milliseconds", () => {
  const start = 1795168800123999n; // .123999 s
  const { sessions } = run([{ id: "x", user: 42, ts: start, type: "view_page" }]);
  assert.equal(sessions[0]!.session_id, "42-1795168800123");
  // Floor, not truncation, before the epoch (not expected in practice, but defined).
  const { sessions: early } = run([{ id: "y", user: 7, ts: -1500n, type: "view_page" }]);
  assert.equal(early[0]!.session_id, "7--2");
  assert.equal(early[0]!.dt, "1969-12-31");
});

test("session ids are stable across reruns and ignore an old session_id and dt in the input", () => {
  const evs: Ev[] = [
    { id: "a", user: 3, ts: T0, type: "login" },
    { id: "b", user: 3, ts: T0 + 10n * MIN_US, type: "purchase", amount: 5 },
  ];
  const withOld = frame(evs).withColumns(
    pl.lit("stale-id").alias("session_id"),
    pl.lit("1999-01-01").alias("dt"),
    pl.lit(1).alias("extra"),
  );
  const first = assignSessions(withOld.lazy()).collectSync();
  const second = assignSessions(withOld.lazy()).collectSync();
  assert.deepEqual(first.columns, [...SESSION_EVENT_COLUMNS]);
  assert.deepEqual(eventRows(first), eventRows(second));
  assert.deepEqual(sessionOf(eventRows(first)), { a: sid(3, T0), b: sid(3, T0) });
  assert.deepEqual(eventRows(first).map((e) => e.dt), ["2026-03-14", "2026-03-14"]);
});

// sessionize: day boundaries and dt

test("a session across midnight keeps one session_id, its dt is the start day, and each event's dt is its own day", () => {
  const a = us("2026-03-14T23:50:00.000Z");
  const b = us("2026-03-15T00:10:00.000Z");
  const { events, sessions } = run([
    { id: "a", user: 9, ts: a, type: "login" },
    { id: "b", user: 9, ts: b, type: "view_page" },
  ]);
  assert.deepEqual(sessionOf(events), { a: sid(9, a), b: sid(9, a) });
  assert.deepEqual(events.map((e) => e.dt), ["2026-03-14", "2026-03-15"]);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0]!.dt, "2026-03-14");
  assert.equal(sessions[0]!.duration_s, 20 * 60);
});

test("a session ending exactly at 00:00:00.000 of the next day belongs to the start day", () => {
  const a = us("2026-03-14T23:40:00.000Z");
  const b = us("2026-03-15T00:00:00.000Z");
  const { events, sessions } = run([
    { id: "a", user: 9, ts: a, type: "view_page" },
    { id: "b", user: 9, ts: b, type: "logout" },
  ]);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0]!.dt, "2026-03-14");
  assert.equal(sessions[0]!.end_us, Number(b));
  assert.deepEqual(events.map((e) => e.dt), ["2026-03-14", "2026-03-15"]);
  // A session starting at exactly midnight belongs to the new day.
  const { sessions: next } = run([{ id: "m", user: 9, ts: b, type: "view_page" }]);
  assert.equal(next[0]!.dt, "2026-03-15");
});

test("a day with one user gives that user's sessions and nothing else", () => {
  const evs: Ev[] = [
    { id: "1", user: 77, ts: us("2026-03-14T08:00:00Z"), type: "login" },
    { id: "2", user: 77, ts: us("2026-03-14T08:05:00Z"), type: "view_page", page: "/home" },
    { id: "3", user: 77, ts: us("2026-03-14T08:07:30.5Z"), type: "add_to_cart", page: "/item/1" },
    { id: "4", user: 77, ts: us("2026-03-14T08:09:00Z"), type: "purchase", amount: 19.99 },
    { id: "5", user: 77, ts: us("2026-03-14T14:00:00Z"), type: "view_page", page: "/home" },
    { id: "6", user: 77, ts: us("2026-03-14T14:01:00Z"), type: "logout" },
  ];
  const { sessions } = run(evs);
  assert.deepEqual(sessions, [
    {
      session_id: sid(77, evs[0]!.ts),
      user_id: 77,
      start_us: Number(evs[0]!.ts),
      end_us: Number(evs[3]!.ts),
      duration_s: 540,
      event_count: 4,
      first_event_type: "login",
      last_event_type: "purchase",
      primary_action: "view_page", // view_page, add_to_cart, purchase once each: the first wins
      has_purchase: true,
      revenue: 19.99,
      dt: "2026-03-14",
    },
    {
      session_id: sid(77, evs[4]!.ts),
      user_id: 77,
      start_us: Number(evs[4]!.ts),
      end_us: Number(evs[5]!.ts),
      duration_s: 60,
      event_count: 2,
      first_event_type: "view_page",
      last_event_type: "logout",
      primary_action: "view_page",
      has_purchase: false,
      revenue: 0,
      dt: "2026-03-14",
    },
  ]);
});

// sessionize: the 24-hour cap

/** Events every `stepUs` from `start` through `end` inclusive, one user. */
function chain(start: bigint, end: bigint, stepUs: bigint): Ev[] {
  const out: Ev[] = [];
  for (let t = start, i = 0; t <= end; t += stepUs, i++) out.push({ id: `c${String(i).padStart(5, "0")}`, user: 1, ts: t, type: "view_page" });
  return out;
}

test("a chain lasting exactly 24 h stays one session; an event 1 µs later starts the next", () => {
  const evs = chain(T0, T0 + DAY_US, 20n * MIN_US);
  assert.equal(evs.at(-1)!.ts, T0 + DAY_US);
  const exact = run(evs);
  assert.equal(exact.sessions.length, 1);
  assert.equal(exact.sessions[0]!.duration_s, 86_400);
  assert.equal(exact.sessions[0]!.event_count, evs.length);

  const later = T0 + DAY_US + 1n;
  const split = run([...evs, { id: "z", user: 1, ts: later, type: "purchase", amount: 1 }]);
  assert.equal(split.sessions.length, 2);
  assert.deepEqual(
    split.sessions.map((s) => [s.session_id, s.start_us, s.end_us, s.event_count]),
    [
      [sid(1, T0), Number(T0), Number(T0 + DAY_US), evs.length],
      [sid(1, later), Number(later), Number(later), 1],
    ],
  );
  assert.equal(sessionOf(split.events)["z"], sid(1, later));
});

test("a 60-hour chain splits into 3 sessions at the 24 h marks from the chain start", () => {
  const evs = chain(T0, T0 + 60n * HOUR_US, 20n * MIN_US);
  const { sessions, events } = run(evs);
  const starts = [T0, T0 + DAY_US + 20n * MIN_US, T0 + 2n * DAY_US + 20n * MIN_US];
  assert.deepEqual(
    sessions.map((s) => [s.session_id, s.start_us, s.end_us]),
    [
      [sid(1, starts[0]!), Number(starts[0]), Number(T0 + DAY_US)],
      [sid(1, starts[1]!), Number(starts[1]), Number(T0 + 2n * DAY_US)],
      [sid(1, starts[2]!), Number(starts[2]), Number(T0 + 60n * HOUR_US)],
    ],
  );
  assert.equal(sessions.reduce((n, s) => n + s.event_count, 0), evs.length);
  assert.ok(sessions.every((s) => s.duration_s <= 86_400));
  assert.equal(new Set(events.map((e) => e.session_id)).size, 3);
});

test("the cap is measured from the chain start, not from the previous piece's last event", () => {
  // Chain: 0, 23h59m (gap too big? no: events every 25 min keep it linked), then pieces.
  const step = 25n * MIN_US;
  const evs = chain(T0, T0 + 50n * HOUR_US, step);
  const { sessions } = run(evs);
  const ref = referenceSessionize(toReference(evs), DEFAULT_SESSION_RULES);
  assert.deepEqual(sessions, refSessionRows(ref.sessions));
  // Second piece starts at the first event strictly after T0 + 24 h (a multiple of 25 min).
  const firstAfter = ((DAY_US / step) + 1n) * step;
  assert.equal(sessions[1]!.start_us, Number(T0 + firstAfter));
  assert.equal(sessions[2]!.start_us, Number(T0 + ((2n * DAY_US) / step + 1n) * step));
});

test("a short cap and timeout are honoured", () => {
  const rules: SessionRules = { timeoutMs: 60_000, maxSessionMs: 180_000 };
  // gaps of exactly the timeout: deltas 0, 60, 120, 180 s stay in piece 0; 240 s starts piece 1
  const evs = [0n, 60n, 120n, 180n, 240n].map((s, i) => ({ id: `p${i}`, user: 1, ts: T0 + s * 1_000_000n, type: "view_page" }));
  const { events } = run(evs, rules);
  assert.deepEqual(Object.values(sessionOf(events)), [
    sid(1, T0),
    sid(1, T0),
    sid(1, T0),
    sid(1, T0),
    sid(1, T0 + 240_000_000n),
  ]);
});

// summarizeSessions: session attributes

test("a single-event session has duration 0 and a primary action per the rule", () => {
  const { sessions } = run([
    { id: "a", user: 1, ts: T0, type: "add_to_cart" },
    { id: "b", user: 2, ts: T0, type: "login" },
  ]);
  assert.deepEqual(
    sessions.map((s) => [s.user_id, s.duration_s, s.event_count, s.first_event_type, s.last_event_type, s.primary_action]),
    [
      [1, 0, 1, "add_to_cart", "add_to_cart", "add_to_cart"],
      [2, 0, 1, "login", "login", null],
    ],
  );
});

test("primary_action is the most frequent non-login/logout type, ties going to the earliest first occurrence", () => {
  const m = MIN_US;
  const { sessions } = run([
    // user 1: view_page x2, add_to_cart x2 -> tie, view_page occurs first
    { id: "a1", user: 1, ts: T0, type: "login" },
    { id: "a2", user: 1, ts: T0 + m, type: "view_page" },
    { id: "a3", user: 1, ts: T0 + 2n * m, type: "add_to_cart" },
    { id: "a4", user: 1, ts: T0 + 3n * m, type: "add_to_cart" },
    { id: "a5", user: 1, ts: T0 + 4n * m, type: "view_page" },
    // user 2: logins outnumber everything, yet purchase is the only action
    { id: "b1", user: 2, ts: T0, type: "login" },
    { id: "b2", user: 2, ts: T0 + m, type: "login" },
    { id: "b3", user: 2, ts: T0 + 2n * m, type: "logout" },
    { id: "b4", user: 2, ts: T0 + 3n * m, type: "purchase", amount: 3 },
    // user 3: tie at equal timestamps: event_id order decides which came first
    { id: "c2", user: 3, ts: T0, type: "view_page" },
    { id: "c1", user: 3, ts: T0, type: "purchase" },
    // user 4: only login/logout -> null
    { id: "d1", user: 4, ts: T0, type: "login" },
    { id: "d2", user: 4, ts: T0 + m, type: "logout" },
    // user 5: the most frequent wins even if it appears later
    { id: "e1", user: 5, ts: T0, type: "purchase" },
    { id: "e2", user: 5, ts: T0 + m, type: "view_page" },
    { id: "e3", user: 5, ts: T0 + 2n * m, type: "view_page" },
  ]);
  assert.deepEqual(
    sessions.map((s) => [s.user_id, s.primary_action]),
    [
      [1, "view_page"],
      [2, "purchase"],
      [3, "purchase"],
      [4, null],
      [5, "view_page"],
    ],
  );
});

test("revenue sums purchase amounts with null amounts as 0 and ignores amounts on other events", () => {
  const m = MIN_US;
  const { sessions } = run([
    { id: "a1", user: 1, ts: T0, type: "purchase", amount: 10.5 },
    { id: "a2", user: 1, ts: T0 + m, type: "purchase", amount: null },
    { id: "a3", user: 1, ts: T0 + 2n * m, type: "add_to_cart", amount: 99 },
    { id: "a4", user: 1, ts: T0 + 3n * m, type: "purchase", amount: 4.25 },
    { id: "b1", user: 2, ts: T0, type: "purchase", amount: null },
    { id: "c1", user: 3, ts: T0, type: "view_page", amount: 7 },
  ]);
  assert.deepEqual(
    sessions.map((s) => [s.user_id, s.has_purchase, s.revenue]),
    [
      [1, true, 14.75],
      [2, true, 0],
      [3, false, 0],
    ],
  );
});

test("summarizeSessions over assignSessions' output equals sessionize's sessions", () => {
  const evs: Ev[] = [
    { id: "a", user: 1, ts: T0, type: "login" },
    { id: "b", user: 1, ts: T0 + 2n * MIN_US, type: "purchase", amount: 2 },
    { id: "c", user: 1, ts: T0 + 3n * HOUR_US, type: "view_page" },
    { id: "d", user: 2, ts: T0 + 3n * HOUR_US, type: "logout" },
  ];
  const assigned = assignSessions(frame(evs).lazy()).collectSync();
  const summarized = summarizeSessions(assigned.lazy()).collectSync();
  const both = sessionize(frame(evs).lazy()).sessions.collectSync();
  assert.deepEqual(schemaOf(summarized), EXPECTED_SESSION_SCHEMA);
  assert.deepEqual(sessionRows(summarized), sessionRows(both));
  assert.equal(summarized.height, 3);
});

test("summarizeSessions trusts the given session_id, even when it differs from what the rules would give", () => {
  const evs: Ev[] = [
    { id: "a", user: 1, ts: T0, type: "view_page" },
    { id: "b", user: 1, ts: T0 + 5n * HOUR_US, type: "purchase", amount: 8 },
  ];
  const given = frame(evs).withColumns(pl.lit("s-1").alias("session_id"));
  const rows = sessionRows(summarizeSessions(given.lazy()).collectSync());
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0]!.session_id, rows[0]!.event_count, rows[0]!.duration_s, rows[0]!.revenue], ["s-1", 2, 5 * 3600, 8]);
});

// sessionize: schemas and errors

test("both outputs have exactly the documented columns, order and dtypes", () => {
  const out = sessionize(frame([{ id: "a", user: 1, ts: T0, type: "login" }]).lazy());
  const events = out.events.collectSync();
  const sessions = out.sessions.collectSync();
  assert.deepEqual(schemaOf(events), EXPECTED_EVENT_SCHEMA);
  assert.deepEqual(schemaOf(sessions), EXPECTED_SESSION_SCHEMA);
  assert.deepEqual(events.columns, [...SESSION_EVENT_COLUMNS]);
  assert.deepEqual(sessions.columns, [...SESSION_COLUMNS]);
  // The lazy schema (no collect) already says the same.
  assert.deepEqual(out.sessions.columns, [...SESSION_COLUMNS]);
});

test("an empty frame gives typed, zero-row outputs", () => {
  const out = sessionize(frame([]).lazy());
  const events = out.events.collectSync();
  const sessions = out.sessions.collectSync();
  assert.equal(events.height, 0);
  assert.equal(sessions.height, 0);
  assert.deepEqual(schemaOf(events), EXPECTED_EVENT_SCHEMA);
  assert.deepEqual(schemaOf(sessions), EXPECTED_SESSION_SCHEMA);
  const summarized = summarizeSessions(events.lazy()).collectSync();
  assert.equal(summarized.height, 0);
  assert.deepEqual(schemaOf(summarized), EXPECTED_SESSION_SCHEMA);
});

test("input columns are cast to the output dtypes (e.g. Int32 user_id)", () => {
  const df = frame([{ id: "a", user: 1, ts: T0, type: "login" }]).withColumns(pl.col("user_id").cast(pl.Int32));
  const out = sessionize(df.lazy());
  assert.deepEqual(schemaOf(out.events.collectSync()), EXPECTED_EVENT_SCHEMA);
  assert.deepEqual(schemaOf(out.sessions.collectSync()), EXPECTED_SESSION_SCHEMA);
});

test("invalid rules are a ConfigError and a missing column is a SchemaError", () => {
  const lf = frame([]).lazy();
  assert.throws(() => sessionize(lf, { timeoutMs: -1, maxSessionMs: 1000 }), ConfigError);
  assert.throws(() => assignSessions(lf, { timeoutMs: 1000, maxSessionMs: 0 }), ConfigError);
  assert.throws(() => sessionize(lf, { timeoutMs: Number.NaN, maxSessionMs: 1000 }), ConfigError);
  assert.throws(() => sessionize(lf, { timeoutMs: 0.0001, maxSessionMs: 1000 }), ConfigError);
  assert.throws(() => sessionize(lf.drop("event_type")), SchemaError);
  assert.throws(() => summarizeSessions(lf), SchemaError); // no session_id
});

// sessionize: property test against the reference loop

const RULE_SETS: SessionRules[] = [
  DEFAULT_SESSION_RULES,
  { timeoutMs: 60_000, maxSessionMs: 180_000 }, // cap = 3 timeouts: splits happen all the time
  { timeoutMs: 10 * 60_000, maxSessionMs: 60 * 60_000 },
];
const TYPES = weightedEventTypes({ login: 1, view_page: 2, add_to_cart: 1, purchase: 1, logout: 1 });

/** A random event set: users with clustered activity so gaps straddle the timeout. */
function randomEvents(rnd: () => number, rules: SessionRules): Ev[] {
  const timeout = BigInt(rules.timeoutMs) * 1000n;
  const nUsers = 1 + Math.floor(rnd() * 5);
  const users = Array.from({ length: nUsers }, () => 1 + Math.floor(rnd() * 3_000_000_000));
  const evs: Ev[] = [];
  let next = 0;
  const base = us("2026-03-12T00:00:00Z");
  for (const user of users) {
    const n = Math.floor(rnd() * 60);
    let t = base + BigInt(Math.floor(rnd() * 3 * 86_400)) * 1_000_000n + BigInt(Math.floor(rnd() * 1_000_000));
    for (let i = 0; i < n; i++) {
      const r = rnd();
      const gap =
        r < 0.12 ? 0n // equal timestamps
        : r < 0.22 ? timeout // exactly the timeout
        : r < 0.3 ? timeout + 1n // 1 µs over
        : r < 0.36 ? timeout - 1n
        : r < 0.42 ? timeout + 1000n
        : r < 0.85 ? BigInt(Math.floor(rnd() * Number(timeout))) // inside the timeout
        : BigInt(Math.floor(rnd() * 6 * Number(timeout))); // anything
      t += gap;
      const type = TYPES[Math.floor(rnd() * TYPES.length)]!;
      const amount = type === "purchase" ? (rnd() < 0.25 ? null : Math.round(rnd() * 100_000) / 100) : rnd() < 0.1 ? 1 : null;
      // Random-looking ids so that event_id order differs from insertion order.
      evs.push({ id: `${Math.floor(rnd() * 1e6).toString(36)}-${next++}`, user, ts: t, type, amount });
    }
  }
  // Arrival order: shuffled (Fisher-Yates).
  for (let i = evs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [evs[i], evs[j]] = [evs[j]!, evs[i]!];
  }
  return evs;
}

test("a few hundred random event sets give exactly the reference sessions and session ids", () => {
  const rnd = seededRandom(20260314);
  let totalEvents = 0;
  let totalSessions = 0;
  let capSplits = 0;
  for (let iter = 0; iter < 300; iter++) {
    const rules = RULE_SETS[iter % RULE_SETS.length]!;
    const evs = randomEvents(rnd, rules);
    const ref = referenceSessionize(toReference(evs), rules);
    const { events, sessions } = run(evs, rules);
    const context = `iteration ${iter}, rules ${JSON.stringify(rules)}, ${evs.length} events`;

    assert.equal(events.length, evs.length, context);
    for (const e of events) assert.equal(e.session_id, ref.sessionOf.get(e.event_id), `${context}: event ${e.event_id}`);
    for (const e of events) assert.equal(e.dt, utcDate(BigInt(e.ts_us)), context);

    const expected = refSessionRows(ref.sessions);
    assert.equal(sessions.length, expected.length, context);
    sessions.forEach((s, i) => {
      const x = expected[i]!;
      // Float sums may associate differently; everything else must match exactly.
      assert.ok(Math.abs(s.revenue - x.revenue) <= 1e-9 * Math.max(1, Math.abs(x.revenue)), `${context}: revenue ${s.revenue} vs ${x.revenue}`);
      assert.deepEqual({ ...s, revenue: 0 }, { ...x, revenue: 0 }, `${context}: session ${i}`);
    });

    totalEvents += evs.length;
    totalSessions += sessions.length;
    capSplits += sessions.filter((s, i) => i > 0 && sessions[i - 1]!.user_id === s.user_id && s.start_us - sessions[i - 1]!.end_us <= rules.timeoutMs * 1000).length;
  }
  if (process.env["SESSION_TEST_VERBOSE"]) console.log({ totalEvents, totalSessions, capSplits });
  // The generator must actually exercise the interesting cases.
  assert.ok(totalEvents > 20_000, `only ${totalEvents} events generated`);
  assert.ok(totalSessions > 5_000, `only ${totalSessions} sessions generated`);
  assert.ok(capSplits > 200, `only ${capSplits} cap splits generated`);
});

test("summarizeSessions of assignSessions' output equals sessionize's sessions on random sets", () => {
  const rnd = seededRandom(7);
  for (let iter = 0; iter < 30; iter++) {
    const rules = RULE_SETS[iter % RULE_SETS.length]!;
    const df = frame(randomEvents(rnd, rules));
    const assigned = assignSessions(df.lazy(), rules).collectSync();
    const summarized = sessionRows(summarizeSessions(assigned.lazy()).collectSync());
    const direct = sessionRows(sessionize(df.lazy(), rules).sessions.collectSync());
    assert.equal(summarized.length, direct.length);
    summarized.forEach((s, i) => {
      const d = direct[i]!;
      assert.ok(Math.abs(s.revenue - d.revenue) <= 1e-9 * Math.max(1, Math.abs(d.revenue)));
      assert.deepEqual({ ...s, revenue: 0 }, { ...d, revenue: 0 }, `iteration ${iter}, session ${i}`);
    });
  }
});

test("collectSessionized gives the same frames as collecting sessionize's outputs", async () => {
  const rnd = seededRandom(99);
  for (let iter = 0; iter < 10; iter++) {
    const rules = RULE_SETS[iter % RULE_SETS.length]!;
    const df = frame(randomEvents(rnd, rules));
    const lazy = sessionize(df.lazy(), rules);
    const eager = await collectSessionized(df.lazy(), rules);
    assert.deepEqual(schemaOf(eager.events), EXPECTED_EVENT_SCHEMA);
    assert.deepEqual(schemaOf(eager.sessions), EXPECTED_SESSION_SCHEMA);
    assert.deepEqual(eventRows(eager.events), eventRows(lazy.events.collectSync()), `iteration ${iter}`);
    assert.deepEqual(sessionRows(eager.sessions), sessionRows(lazy.sessions.collectSync()), `iteration ${iter}`);
  }
  const empty = await collectSessionized(frame([]).lazy());
  assert.deepEqual([empty.events.height, empty.sessions.height], [0, 0]);
  assert.deepEqual(schemaOf(empty.sessions), EXPECTED_SESSION_SCHEMA);
});

test("collectSessionized rejects with CancelledError when its signal is aborted", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(collectSessionized(frame([]).lazy(), DEFAULT_SESSION_RULES, controller.signal), CancelledError);
});

test("collectSessionized carries columns it does not read with their own events, after its columns", async () => {
  const rnd = seededRandom(7);
  const df = frame(randomEvents(rnd, DEFAULT_SESSION_RULES));
  // A label per row that only its own event may keep: the event_id, spelled differently, or null.
  const tag = pl.when(pl.col("r").modulo(3).eq(0)).then(pl.lit(null)).otherwise(pl.concatString([pl.lit("tag-"), pl.col("event_id")], "")).cast(pl.Utf8);
  const withTag = df.withRowIndex("r").withColumns(tag.alias("tag")).drop("r");
  const plain = await collectSessionized(df.lazy());
  const carried = await collectSessionized(withTag.lazy(), DEFAULT_SESSION_RULES, undefined, ["tag"]);
  assert.deepEqual(carried.events.columns, [...SESSION_EVENT_COLUMNS, "tag"]);
  assert.deepEqual(eventRows(carried.events.drop("tag")), eventRows(plain.events));
  assert.deepEqual(sessionRows(carried.sessions), sessionRows(plain.sessions));
  const expected = new Map(withTag.select("event_id", "tag").rows().map(([id, tag]) => [id, tag]));
  const got = carried.events.select("event_id", "tag").rows();
  assert.ok(got.some(([, tag]) => tag === null) && got.some(([, tag]) => tag !== null), "both kinds of rows present");
  for (const [id, tag] of got) assert.equal(tag, expected.get(id), `event ${String(id)}`);
});

test("collectSessionized refuses to carry a column it computes, or one that is missing", async () => {
  const df = frame([{ id: "a", user: 1, ts: us("2026-11-20T10:00:00Z"), type: "login" }]);
  await assert.rejects(collectSessionized(df.withColumns(pl.lit("x").alias("session_id")).lazy(), DEFAULT_SESSION_RULES, undefined, ["session_id"]), (e: Error) => e instanceof ConfigError && /cannot carry session_id/.test(e.message));
  await assert.rejects(collectSessionized(df.lazy(), DEFAULT_SESSION_RULES, undefined, ["tag"]), (e: Error) => e instanceof SchemaError && /missing column\(s\) tag/.test(e.message));
});

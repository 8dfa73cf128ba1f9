/**
 * Proves the end-to-end oracle itself: the independent reference computation on hand-written cases
 * whose expected values are written out by hand, and the independent contract server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { referencePipeline } from "./fixtures/reference-pipeline.ts";
import type { ReferenceResult, ReferenceSession } from "./fixtures/reference-pipeline.ts";
import { makeEventDays, makeUsers, startContractServer, MISBEHAVIOURS } from "./fixtures/contract-server.ts";
import { PLANS } from "../jobs/sources.ts";

const S = 1_000_000n;
const MIN = 60n * S;
const H = 60n * MIN;
const DAY = 24n * H;
/** 2026-11-20T00:00:00Z in epoch microseconds, written out by hand (1795132800 s). */
const D20 = 1_795_132_800_000_000n;
const D21 = D20 + DAY;

type Rec = Record<string, unknown>;
const ev = (event_id: unknown, user_id: unknown, ts: unknown, event_type: unknown, properties?: unknown): Rec => {
  const r: Rec = { event_id, user_id, ts, event_type };
  if (properties !== undefined) r["properties"] = properties;
  return r;
};
const sid = (user: number, startUs: bigint): string => `${user}-${startUs / 1000n}`;
const sessionsOf = (r: ReferenceResult, user: number): ReferenceSession[] => r.sessions.filter((s) => s.user_id === user);

test("the hand-written day constant is 2026-11-20 at midnight UTC", () => {
  assert.equal(D20, BigInt(Date.parse("2026-11-20T00:00:00Z")) * 1000n);
});

test("each contract field breach is quarantined under the first field it breaks, in the day it was served", async () => {
  const ok = { event_id: "ok", user_id: 1, ts: "2026-11-20T10:00:00Z", event_type: "login" };
  const cases: Array<[Rec | unknown, string]> = [
    [{ ...ok, event_id: undefined }, "event_id"],
    [{ user_id: 1, ts: ok.ts, event_type: "login" }, "event_id"],
    [{ ...ok, event_id: 42 }, "event_id"],
    [{ ...ok, event_id: null }, "event_id"],
    [null, "event_id"],
    ["just a string", "event_id"],
    [{ ...ok, event_id: "q1", user_id: null }, "user_id"],
    [ev("q2", undefined, ok.ts, "login"), "user_id"],
    [{ ...ok, event_id: "q3", user_id: "7" }, "user_id"],
    [{ ...ok, event_id: "q4", user_id: 2.5 }, "user_id"],
    [{ ...ok, event_id: "q5", user_id: 0 }, "user_id"],
    [{ ...ok, event_id: "q6", user_id: -3 }, "user_id"],
    // Breaks user_id and ts: the first field in contract order wins.
    [{ ...ok, event_id: "q7", user_id: "x", ts: "bad" }, "user_id"],
    [ev("q8", 1, undefined, "login"), "ts"],
    [{ ...ok, event_id: "q9", ts: "not-a-time" }, "ts"],
    [{ ...ok, event_id: "q10", ts: 1795168800000 }, "ts"],
    [{ ...ok, event_id: "q11", ts: "2026-11-20T10:00:00" }, "ts"], // no offset
    [{ ...ok, event_id: "q12", ts: "2026-11-19T23:59:59.999999Z" }, "ts"], // previous day
    [{ ...ok, event_id: "q13", ts: "2026-11-21T00:00:00Z" }, "ts"], // end of window is exclusive
    [{ ...ok, event_id: "q14", ts: "2026-11-20T01:00:00+02:00" }, "ts"], // = 2026-11-19T23:00Z
    [{ ...ok, event_id: "q15", ts: "2026-11-20T24:00:00Z" }, "ts"],
    [{ ...ok, event_id: "q16", ts: "2026-02-30T10:00:00Z" }, "ts"],
    [{ ...ok, event_id: "q17", event_type: "click" }, "event_type"],
    [ev("q18", 1, ok.ts, undefined), "event_type"],
    [{ ...ok, event_id: "q19", event_type: 3 }, "event_type"],
    [{ ...ok, event_id: "q20", properties: "x" }, "properties"],
    [{ ...ok, event_id: "q21", properties: [1] }, "properties"],
  ];
  const kept = [
    { ...ok, event_id: "k1" },
    { ...ok, event_id: "k2", properties: null },
    { ...ok, event_id: "k3", ts: "2026-11-21T01:30:00+02:00" }, // = 2026-11-20T23:30Z, inside the window
  ];
  const listing = [...cases.map(([r]) => r), ...kept];
  const result = await referencePipeline({ "2026-11-20": listing });

  assert.equal(result.quarantine.length, cases.length);
  result.quarantine.forEach((q, i) => {
    const [record, field] = cases[i] as [unknown, string];
    assert.equal(q.dt, "2026-11-20");
    assert.equal(q.record, record, `quarantine row ${i} is the very record served`);
    assert.equal(q.field, field, `record ${i} ${JSON.stringify(record)}`);
  });
  assert.deepEqual(
    result.events.map((e) => [e.event_id, e.ts_us]),
    [
      ["k1", D20 + 10n * H],
      ["k2", D20 + 10n * H],
      ["k3", D20 + 23n * H + 30n * MIN],
    ],
  );
});

test("copies of the same event_id collapse into one event", async () => {
  const a = ev("dup", 1, "2026-11-20T10:00:00Z", "view_page", { page: "/a" });
  const result = await referencePipeline({ "2026-11-20": [a, ev("other", 1, "2026-11-20T10:01:00Z", "logout"), { ...a }, structuredClone(a)] });
  assert.deepEqual(result.events.map((e) => e.event_id), ["dup", "other"]);
  assert.equal(result.sessions.length, 1);
  assert.equal(result.sessions[0]?.event_count, 2);
  assert.equal(result.quarantine.length, 0);
});

test("a session crossing midnight is one session dated by its start, its events dated by their own ts", async () => {
  const result = await referencePipeline({
    "2026-11-20": [ev("m1", 5, "2026-11-20T23:50:00Z", "login")],
    "2026-11-21": [ev("m3", 5, "2026-11-21T00:30:00Z", "logout"), ev("m2", 5, "2026-11-20T19:10:00-05:00", "view_page", { page: "/p" })],
  });
  const id = sid(5, D20 + 23n * H + 50n * MIN);
  assert.equal(id, "5-1795218600000");
  assert.deepEqual(result.sessions, [
    {
      session_id: id,
      user_id: 5,
      session_start_us: D20 + 23n * H + 50n * MIN,
      session_end_us: D21 + 30n * MIN,
      duration_s: 2400,
      event_count: 3,
      first_event_type: "login",
      last_event_type: "logout",
      primary_action: "view_page",
      has_purchase: false,
      revenue: 0,
      dt: "2026-11-20",
    },
  ]);
  assert.deepEqual(
    result.events.map((e) => [e.event_id, e.ts_us, e.dt, e.session_id, e.page]),
    [
      ["m1", D20 + 23n * H + 50n * MIN, "2026-11-20", id, null],
      ["m2", D21 + 10n * MIN, "2026-11-21", id, "/p"],
      ["m3", D21 + 30n * MIN, "2026-11-21", id, null],
    ],
  );
});

test("a gap of exactly 30 minutes continues a session and 30 minutes plus one microsecond starts a new one", async () => {
  const result = await referencePipeline({
    "2026-11-20": [
      ev("g1", 2, "2026-11-20T10:00:00Z", "login"),
      ev("g2", 2, "2026-11-20T10:30:00.000000Z", "view_page"),
      ev("g3", 2, "2026-11-20T11:00:00.000001Z", "add_to_cart"),
    ],
  });
  assert.deepEqual(
    sessionsOf(result, 2).map((s) => [s.session_id, s.session_start_us, s.session_end_us, s.event_count, s.duration_s]),
    [
      ["2-1795168800000", D20 + 10n * H, D20 + 10n * H + 30n * MIN, 2, 1800],
      ["2-1795172400000", D20 + 11n * H + 1n, D20 + 11n * H + 1n, 1, 0],
    ],
  );
});

test("equal timestamps never start a session and are ordered by event_id", async () => {
  const result = await referencePipeline({
    "2026-11-20": [
      ev("b", 3, "2026-11-20T12:00:00Z", "purchase", { amount: 5 }),
      ev("a", 3, "2026-11-20T14:00:00+02:00", "login"),
      ev("c", 3, "2026-11-20T12:00:00.000Z", "logout"),
    ],
  });
  assert.deepEqual(result.sessions, [
    {
      session_id: "3-1795176000000",
      user_id: 3,
      session_start_us: D20 + 12n * H,
      session_end_us: D20 + 12n * H,
      duration_s: 0,
      event_count: 3,
      first_event_type: "login",
      last_event_type: "logout",
      primary_action: "purchase",
      has_purchase: true,
      revenue: 5,
      dt: "2026-11-20",
    },
  ]);
});

test("a chain of activity is cut at 24-hour marks from its first event", async () => {
  // Every 30 minutes from 2026-11-20T00:00Z to 2026-11-21T00:00Z (delta exactly 24 h stays in piece 0),
  // then 1 µs later (piece 1) and 30 minutes after that.
  const d20: Rec[] = [];
  const d21: Rec[] = [];
  for (let k = 0; k <= 48; k++) {
    const ts = new Date(Date.parse("2026-11-20T00:00:00Z") + k * 30 * 60_000).toISOString();
    (k < 48 ? d20 : d21).push(ev(`c${String(k).padStart(2, "0")}`, 4, ts, "view_page"));
  }
  d21.push(ev("c49", 4, "2026-11-21T00:00:00.000001Z", "purchase", { amount: 1.5 }));
  d21.push(ev("c50", 4, "2026-11-21T00:30:00.000001Z", "logout"));
  const result = await referencePipeline({ "2026-11-20": d20, "2026-11-21": d21 });
  assert.deepEqual(
    sessionsOf(result, 4).map((s) => [s.session_id, s.session_start_us, s.session_end_us, s.event_count, s.duration_s, s.dt, s.revenue]),
    [
      ["4-1795132800000", D20, D21, 49, 86400, "2026-11-20", 0],
      ["4-1795219200000", D21 + 1n, D21 + 30n * MIN + 1n, 2, 1800, "2026-11-21", 1.5],
    ],
  );
  const byId = new Map(result.events.map((e) => [e.event_id, e.session_id]));
  assert.equal(byId.get("c48"), "4-1795132800000");
  assert.equal(byId.get("c49"), "4-1795219200000");
});

test("the rules parameter changes the timeout and the cap", async () => {
  // timeout 10 min, cap 1 h: 0..60 min is piece 0, 70 min piece 1, then an 11-minute gap breaks the chain.
  const mins = [0, 10, 20, 30, 40, 50, 60, 70, 81];
  const listing = mins.map((m, i) => ev(`r${i}`, 9, new Date(Date.parse("2026-11-20T08:00:00Z") + m * 60_000).toISOString(), "view_page"));
  const result = await referencePipeline({ "2026-11-20": listing }, { timeoutMs: 600_000, maxSessionMs: 3_600_000 });
  assert.deepEqual(
    result.sessions.map((s) => [s.session_start_us, s.event_count]),
    [
      [D20 + 8n * H, 7],
      [D20 + 9n * H + 10n * MIN, 1],
      [D20 + 9n * H + 21n * MIN, 1],
    ],
  );
});

test("primary_action is the most frequent non-login action, ties going to the earliest, null when only logins", async () => {
  const result = await referencePipeline({
    "2026-11-20": [
      ev("p1", 6, "2026-11-20T09:00:00Z", "login"),
      ev("p2", 6, "2026-11-20T09:01:00Z", "view_page"),
      ev("p3", 6, "2026-11-20T09:02:00Z", "add_to_cart"),
      ev("p4", 6, "2026-11-20T09:03:00Z", "add_to_cart"),
      ev("p5", 6, "2026-11-20T09:04:00Z", "view_page"),
      ev("p6", 6, "2026-11-20T09:05:00Z", "logout"),
      ev("p7", 6, "2026-11-20T09:06:00Z", "logout"),
      ev("p8", 6, "2026-11-20T09:07:00Z", "logout"),
      // Equal counts and equal first timestamps: the smaller event_id comes first.
      ev("t2", 7, "2026-11-20T09:00:00Z", "purchase"),
      ev("t1", 7, "2026-11-20T09:00:00Z", "view_page"),
      ev("l1", 8, "2026-11-20T09:00:00Z", "login"),
      ev("l2", 8, "2026-11-20T09:10:00Z", "login"),
      ev("l3", 8, "2026-11-20T09:20:00Z", "logout"),
    ],
  });
  assert.deepEqual(
    result.sessions.map((s) => [s.user_id, s.primary_action, s.first_event_type, s.last_event_type, s.has_purchase, s.revenue]),
    [
      [6, "view_page", "login", "logout", false, 0],
      [7, "view_page", "view_page", "purchase", true, 0],
      [8, null, "login", "logout", false, 0],
    ],
  );
});

test("revenue sums purchase amounts, counting a null or absent amount as zero and ignoring other types", async () => {
  const result = await referencePipeline({
    "2026-11-20": [
      ev("v1", 11, "2026-11-20T15:00:00Z", "purchase", { page: "/checkout", amount: 10.5 }),
      ev("v2", 11, "2026-11-20T15:01:00Z", "purchase", { page: "/checkout", amount: null }),
      ev("v3", 11, "2026-11-20T15:02:00Z", "purchase"),
      ev("v4", 11, "2026-11-20T15:03:00Z", "add_to_cart", { amount: 99 }),
      ev("v5", 11, "2026-11-20T15:04:00Z", "purchase", { amount: 4.25, coupon: "X", nested: { a: 1 } }),
    ],
  });
  assert.equal(result.sessions.length, 1);
  assert.equal(result.sessions[0]?.revenue, 14.75);
  assert.equal(result.sessions[0]?.has_purchase, true);
  assert.deepEqual(
    result.events.map((e) => [e.event_id, e.page, e.amount]),
    [
      ["v1", "/checkout", 10.5],
      ["v2", "/checkout", null],
      ["v3", null, null],
      ["v4", null, 99],
      ["v5", null, 4.25],
    ],
  );
});

test("offsets and second, millisecond and microsecond precisions normalize to exact UTC microseconds", async () => {
  const result = await referencePipeline({
    "2026-11-20": [
      ev("o1", 12, "2026-11-20T12:34:56.123456+02:00", "view_page"),
      ev("o2", 13, "2026-11-20T05:34:56.5-05:00", "view_page"),
      ev("o3", 14, "2026-11-20T10:34:56Z", "view_page"),
      ev("o4", 15, "2026-11-20T10:34:56.007-00:00", "view_page"),
      ev("o5", 16, "2026-11-20T06:04:56.000001-04:30", "view_page"),
      ev("o6", 17, "2026-11-20T00:00:00.000000+00:00", "view_page"),
      ev("o7", 18, "2026-11-20T23:59:59.999999Z", "view_page"),
    ],
  });
  const base = D20 + 10n * H + 34n * MIN + 56n * S;
  assert.deepEqual(
    result.events.map((e) => [e.event_id, e.ts_us]),
    [
      ["o1", base + 123_456n],
      ["o2", base + 500_000n],
      ["o3", base],
      ["o4", base + 7_000n],
      ["o5", base + 1n],
      ["o6", D20],
      ["o7", D21 - 1n],
    ],
  );
  assert.deepEqual(result.sessions.map((s) => s.session_id), [
    "12-1795170896123",
    "13-1795170896500",
    "14-1795170896000",
    "15-1795170896007",
    "16-1795170896000",
    "17-1795132800000",
    "18-1795219199999",
  ]);
});

test("the generator's days carry every dirty kind, later duplicates and midnight-crossing sessions", async () => {
  const dts = ["2026-11-20", "2026-11-21", "2026-11-22"];
  const days = makeEventDays(42, dts, 80);
  assert.deepEqual(days, makeEventDays(42, dts, 80), "deterministic for a seed");
  assert.notDeepEqual(days, makeEventDays(43, dts, 80));
  const result = await referencePipeline(days);
  for (const dt of dts) {
    const fields = result.quarantine.filter((q) => q.dt === dt).map((q) => q.field).sort();
    assert.deepEqual(fields, [
      "event_id", "event_id",
      "event_type", "event_type",
      "properties",
      "ts", "ts", "ts",
      "user_id", "user_id", "user_id", "user_id", "user_id", "user_id",
    ]);
    const listing = (days[dt] ?? []) as Rec[];
    const ids = listing.map((r) => r["event_id"]).filter((id): id is string => typeof id === "string" && id.startsWith("e-"));
    assert.equal(ids.length - new Set(ids).size, 3, `${dt} has 3 duplicates`);
    const tsText = listing.map((r) => String(r["ts"]));
    for (const re of [/Z$/, /\+02:00$/, /-05:00$/, /:\d\d(Z|[+-])/, /\.\d{3}(Z|[+-])/, /\.\d{6}(Z|[+-])/]) {
      assert.ok(tsText.some((t) => re.test(t)), `${dt} has a ts matching ${re}`);
    }
  }
  const crossing = result.sessions.filter((s) => s.dt !== dts[2] && result.events.some((e) => e.session_id === s.session_id && e.dt !== s.dt));
  assert.ok(crossing.length >= 2, "some sessions continue past midnight");
  const gaps = new Set<bigint>();
  const byUser = new Map<number, bigint[]>();
  for (const e of result.events) byUser.set(e.user_id, [...(byUser.get(e.user_id) ?? []), e.ts_us]);
  for (const list of byUser.values()) for (let i = 1; i < list.length; i++) gaps.add((list[i] as bigint) - (list[i - 1] as bigint));
  assert.ok(gaps.has(0n), "equal timestamps for a user");
  assert.ok(gaps.has(30n * MIN), "a gap of exactly 30 minutes");
  assert.ok(gaps.has(30n * MIN + 1n), "a gap of 30 minutes and 1 µs");
  assert.ok(result.events.some((e) => e.event_type === "purchase" && e.amount === null), "a purchase without amount");
  assert.ok(result.sessions.some((s) => s.revenue > 0));
  assert.ok(result.sessions.every((s) => s.duration_s < 3 * 3600), "sessions are short");
});

// ---------------------------------------------------------------------------------------------
// The contract server
// ---------------------------------------------------------------------------------------------

interface Page { data: unknown[]; next_cursor: string | null }

/** A plain client: retries anything that is not a well-formed 200 page. */
async function walkDay(base: string, dt: string, limit: number, headers: Record<string, string> = {}): Promise<{ records: unknown[]; retries: number }> {
  const start = `${dt}T00:00:00Z`;
  const end = new Date(Date.parse(start) + 86_400_000).toISOString().replace(".000Z", "Z");
  const records: unknown[] = [];
  let cursor: string | null = null;
  let retries = 0;
  for (;;) {
    const q = new URLSearchParams({ start, end, limit: String(limit) });
    if (cursor !== null) q.set("cursor", cursor);
    let page: Page | undefined;
    for (let attempt = 0; page === undefined; attempt++) {
      assert.ok(attempt < 10, "gave up after 10 attempts");
      try {
        const res = await fetch(`${base}/v1/events?${q}`, { headers });
        const text = await res.text();
        if (res.status === 200 && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
          const body = JSON.parse(text) as Page;
          if (Array.isArray(body.data)) page = body;
        }
        assert.ok(res.status === 200 || res.status === 429 || res.status >= 500, `unexpected status ${res.status}`);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
      }
      if (page === undefined) retries++;
    }
    records.push(...page.data);
    if (page.next_cursor === null) return { records, retries };
    cursor = page.next_cursor;
  }
}

for (const cursorStyle of [undefined, "opaque"] as const) {
  test(`a cursor walk through a misbehaving server returns each day's listing exactly (${cursorStyle ?? "default"} cursors)`, async (t) => {
    const days = makeEventDays(7, ["2026-11-20", "2026-11-21"], 60);
    const server = await startContractServer({ days, pageSize: 7, failEvery: 3, ...(cursorStyle ? { cursorStyle } : {}) });
    t.after(() => server.close());
    let retries = 0;
    for (const dt of Object.keys(days)) {
      const walked = await walkDay(server.url, dt, 50);
      assert.deepEqual(walked.records, days[dt]);
      retries += walked.retries;
    }
    const log = server.requests();
    assert.ok(retries >= MISBEHAVIOURS.length, `every misbehaviour happened (${retries} retries)`);
    assert.equal(retries, Math.floor(log.length / 3), "exactly the misbehaving requests were retried");
    for (const r of log) assert.equal(r.query["limit"], "50");
    const cursors = log.map((r) => r.query["cursor"]).filter((c): c is string => c !== undefined);
    assert.ok(cursors.length > 0);
    if (cursorStyle === "opaque") assert.ok(cursors.every((c) => /^[A-Za-z0-9_-]{24}$/.test(c)), "opaque cursors are random tokens");
  });
}

test("a page never exceeds the server cap and a window spanning two days serves both listings in day order", async (t) => {
  const days = { "2026-11-20": [1, 2, 3].map((i) => ev(`a${i}`, 1, "2026-11-20T10:00:00Z", "login")), "2026-11-21": [ev("b1", 1, "x", "login")] };
  const server = await startContractServer({ days, pageSize: 2 });
  t.after(() => server.close());
  const res = await fetch(`${server.url}/v1/events?start=2026-11-20T00:00:00Z&end=2026-11-22T00:00:00Z&limit=500`);
  const page = (await res.json()) as Page;
  assert.equal(page.data.length, 2);
  assert.equal(typeof page.next_cursor, "string");
  const rest = (await (await fetch(`${server.url}/v1/events?start=2026-11-20T00:00:00Z&end=2026-11-22T00:00:00Z&limit=500&cursor=${page.next_cursor}`)).json()) as Page;
  assert.deepEqual(rest, { data: [days["2026-11-20"][2], days["2026-11-21"][0]], next_cursor: null });
  const empty = (await (await fetch(`${server.url}/v1/events?start=2026-12-01T00:00:00Z&end=2026-12-02T00:00:00Z`)).json()) as Page;
  assert.deepEqual(empty, { data: [], next_cursor: null });
  assert.equal((await fetch(`${server.url}/v1/events?start=yesterday&end=2026-12-02T00:00:00Z`)).status, 400);
  // A cursor is bound to its window, and made-up cursors are refused.
  assert.equal((await fetch(`${server.url}/v1/events?start=2026-11-21T00:00:00Z&end=2026-11-22T00:00:00Z&cursor=${page.next_cursor}`)).status, 400);
  assert.equal((await fetch(`${server.url}/v1/events?start=2026-11-20T00:00:00Z&end=2026-11-22T00:00:00Z&cursor=bogus`)).status, 400);
  assert.equal((await fetch(`${server.url}/v1/nothing`)).status, 404);
});

test("the token is enforced with 401 and the authorization header is recorded", async (t) => {
  const server = await startContractServer({ days: { "2026-11-20": [] }, users: makeUsers(1, 3), token: "s3cret" });
  t.after(() => server.close());
  const path = "/v1/events?start=2026-11-20T00:00:00Z&end=2026-11-21T00:00:00Z&limit=10";
  assert.equal((await fetch(server.url + path)).status, 401);
  assert.equal((await fetch(server.url + path, { headers: { authorization: "Bearer wrong" } })).status, 401);
  assert.equal((await fetch(server.url + "/v1/users", { headers: { authorization: "s3cret" } })).status, 401);
  const ok = await fetch(server.url + path, { headers: { authorization: "Bearer s3cret" } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { data: [], next_cursor: null });
  assert.equal((await fetch(server.url + "/v1/users", { headers: { authorization: "Bearer s3cret" } })).status, 200);
  assert.deepEqual(
    server.requests().map((r) => [r.authorization, r.status]),
    [
      [undefined, 401],
      ["Bearer wrong", 401],
      ["s3cret", 401],
      ["Bearer s3cret", 200],
      ["Bearer s3cret", 200],
    ],
  );
});

test("users are served with offset pagination and a total", async (t) => {
  const users = makeUsers(5, 12);
  assert.deepEqual(users, makeUsers(5, 12));
  const server = await startContractServer({ days: {}, users, pageSize: 5 });
  t.after(() => server.close());
  const seen: unknown[] = [];
  for (let offset = 0; ; ) {
    const body = (await (await fetch(`${server.url}/v1/users?offset=${offset}&limit=100`)).json()) as { users: unknown[]; total: number };
    assert.equal(body.total, 12);
    assert.ok(body.users.length <= 5);
    if (body.users.length === 0) break;
    seen.push(...body.users);
    offset += body.users.length;
  }
  assert.deepEqual(seen, users);
  const u = users[0] as Rec;
  assert.deepEqual(Object.keys(u).sort(), ["country", "plan", "signup_ts", "updated_at", "user_id"]);
  assert.match(String(u["country"]), /^[A-Z]{2}$/);
  assert.ok((PLANS as readonly string[]).includes(String(u["plan"])));
});

test("failEvery produces each misbehaviour in turn, then the same request succeeds", async (t) => {
  const days = { "2026-11-20": [ev("x1", 1, "2026-11-20T10:00:00Z", "login"), ev("x2", 1, "2026-11-20T10:05:00Z", "logout")] };
  const server = await startContractServer({ days, failEvery: 2 });
  t.after(() => server.close());
  const url = `${server.url}/v1/events?start=2026-11-20T00:00:00Z&end=2026-11-21T00:00:00Z&limit=10`;
  const expectedBody = JSON.stringify({ data: days["2026-11-20"], next_cursor: null });
  const seen: string[] = [];
  for (let i = 0; i < MISBEHAVIOURS.length; i++) {
    // Odd requests are served normally, even ones misbehave.
    const good = await fetch(url);
    assert.equal(good.status, 200);
    assert.equal(await good.text(), expectedBody);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      assert.ok(cause?.code === "ECONNRESET" || cause?.code === "UND_ERR_SOCKET", `reset shows as a socket error: ${cause?.code} ${cause?.message}`);
      seen.push("reset");
      continue;
    }
    const text = await res.text();
    const type = res.headers.get("content-type") ?? "";
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 429 && retryAfter === "0") seen.push("429-retry-after-0");
    else if (res.status === 429 && retryAfter !== null && Date.parse(retryAfter) < Date.now()) seen.push("429-retry-after-past-date");
    else if (res.status === 503 || res.status === 502) seen.push(String(res.status));
    else if (res.status === 200 && type.startsWith("text/html")) {
      assert.match(text, /<html/i);
      seen.push("html-200");
    } else if (res.status === 200 && type.startsWith("application/json")) {
      assert.throws(() => JSON.parse(text), SyntaxError);
      assert.ok(expectedBody.startsWith(text) && text.length < expectedBody.length, "a prefix of the real body");
      seen.push("truncated-json");
    } else assert.fail(`unrecognised response ${res.status} ${type} ${text}`);
  }
  assert.deepEqual(seen, [...MISBEHAVIOURS]);
  assert.deepEqual(
    server.requests().filter((_, i) => i % 2 === 1).map((r) => r.status),
    [429, 503, "reset", 200, 200, 502, 429],
  );
});

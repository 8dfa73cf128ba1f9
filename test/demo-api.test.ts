import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { allUsers, dayEvents, FAULT_KINDS, startDemoApi, type DemoApi, type DemoApiOptions } from "../src/demo-api/index.ts";
import { cleanEventTexts } from "../src/demo-api/day-listing.ts";
import { resolveDataset } from "../src/demo-api/dataset.ts";
import { generateEvents } from "../src/demo-api/event-generation.ts";
import { DIRTY_EVENT_KINDS } from "../src/demo-api/vocabulary.ts";
import { DEFAULT_ALLOWANCE } from "../src/validate/check-types.ts";
import { EVENTS_PER_DAY_ANY_DATE } from "./support/events.ts";
import { EVENT_TYPES as CONTRACT_EVENT_TYPES, PLANS as CONTRACT_PLANS } from "../jobs/sources.ts";

const D = "2026-11-20";
const D_PREV = "2026-11-19";
const D_NEXT = "2026-11-21";
const DAY_MS = 86_400_000;
const DAY_START_US = Date.parse(`${D}T00:00:00Z`) * 1000;
const DAY_END_US = DAY_START_US + DAY_MS * 1000;
const TIMEOUT_US = 30 * 60 * 1_000_000;
/** The contract's vocabularies, to check the demo API (which keeps its own copy, src/demo-api/vocabulary.ts) against. */
const EVENT_TYPES = new Set<string>(CONTRACT_EVENT_TYPES);
const PLANS = new Set<string>(CONTRACT_PLANS);

type Rec = Record<string, unknown>;

/** Independent RFC 3339 parser for the assertions: epoch µs, or null when not RFC 3339. */
function tsMicros(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{3}|\d{6}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Number((m[2] ?? "").padEnd(6, "0"));
}

/** Dirty kinds of a record, judged from its JSON alone. */
function dirtyKinds(r: Rec, dayStartUs = DAY_START_US): string[] {
  const kinds: string[] = [];
  if (!("event_id" in r)) kinds.push("missing_event_id");
  else if (typeof r["event_id"] === "number") kinds.push("numeric_event_id");
  const u = r["user_id"];
  if (!("user_id" in r)) kinds.push("missing_user_id");
  else if (u === null) kinds.push("null_user_id");
  else if (typeof u === "string") kinds.push("string_user_id");
  else if (typeof u === "number" && !Number.isInteger(u)) kinds.push("fractional_user_id");
  else if (u === 0) kinds.push("zero_user_id");
  else if (typeof u === "number" && u < 0) kinds.push("negative_user_id");
  if (r["ts"] === undefined || r["ts"] === null) kinds.push("missing_ts");
  else {
    const t = tsMicros(r["ts"]);
    if (t === null) kinds.push("unparseable_ts");
    else if (t < dayStartUs || t >= dayStartUs + DAY_MS * 1000) kinds.push("ts_outside_day");
  }
  if (!("event_type" in r)) kinds.push("missing_event_type");
  else if (!EVENT_TYPES.has(r["event_type"] as string)) kinds.push("unknown_event_type");
  const p = r["properties"];
  if (p !== undefined && p !== null && (typeof p !== "object" || Array.isArray(p))) kinds.push("properties_not_object");
  return kinds;
}

interface Clean {
  id: string;
  user: number;
  t: number;
  type: string;
  rec: Rec;
}

/** Clean records, first occurrence of each event_id only. */
function clean(records: unknown[], dayStartUs = DAY_START_US): Clean[] {
  const seen = new Set<string>();
  const out: Clean[] = [];
  for (const x of records) {
    const r = x as Rec;
    if (dirtyKinds(r, dayStartUs).length > 0) continue;
    const id = r["event_id"] as string;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, user: r["user_id"] as number, t: tsMicros(r["ts"])!, type: r["event_type"] as string, rec: r });
  }
  return out;
}

function byUserSorted(events: Clean[]): Map<number, Clean[]> {
  const m = new Map<number, Clean[]>();
  for (const e of events) {
    let l = m.get(e.user);
    if (!l) m.set(e.user, (l = []));
    l.push(e);
  }
  for (const l of m.values()) l.sort((a, b) => a.t - b.t);
  return m;
}

async function withApi(t: { after: (fn: () => Promise<void>) => void }, options: DemoApiOptions = {}): Promise<DemoApi> {
  const api = await startDemoApi({ port: 0, host: "127.0.0.1", ...options });
  t.after(() => api.close());
  return api;
}

function eventsUrl(api: DemoApi, start: string, end: string, limit: number, cursor?: string | null): string {
  const q = new URLSearchParams({ start, end, limit: String(limit) });
  if (cursor) q.set("cursor", cursor);
  return `${api.url}/v1/events?${q.toString()}`;
}

/** Walks a cursor listing without retries; returns the pages. */
async function walk(api: DemoApi, start: string, end: string, limit: number, headers: Record<string, string> = {}): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(eventsUrl(api, start, end, limit, cursor), { headers });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { data: unknown[]; next_cursor: string | null };
    pages.push(body.data);
    cursor = body.next_cursor;
    assert.ok(pages.length < 10_000, "the listing does not end");
  } while (cursor !== null);
  return pages;
}

const dayStartIso = `${D}T00:00:00Z`;
const dayEndIso = `${D_NEXT}T00:00:00Z`;

test("the same seed gives the same day and a different seed a different one", () => {
  const a = dayEvents({ seed: 7, eventsPerDay: 3000 }, D);
  const b = dayEvents({ seed: 7, eventsPerDay: 3000 }, D);
  const c = dayEvents({ seed: 8, eventsPerDay: 3000 }, D);
  assert.ok(a.length > 2000 && a.length < 4500, `about 3000 events, got ${a.length}`);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.slice(0, 50), c.slice(0, 50));
  assert.notDeepEqual(a, dayEvents({ seed: 7, eventsPerDay: 3000 }, D_NEXT));
  assert.deepEqual(allUsers({ seed: 7, eventsPerDay: 3000 }), allUsers({ seed: 7, eventsPerDay: 3000 }));
});

test("a day of the size date-relative tests use stays inside the decode allowance on every day of 2026-2030, even if every dirty record failed to decode", () => {
  const first = Math.round(Date.parse("2026-01-01T00:00:00Z") / 86_400_000);
  for (const seed of [4, 7]) {
    const ds = resolveDataset({ seed, eventsPerDay: EVENTS_PER_DAY_ANY_DATE });
    for (let day = first; day < first + 5 * 365; day++) {
      const n = generateEvents(ds, day).n;
      assert.ok(DIRTY_EVENT_KINDS.length <= n * DEFAULT_ALLOWANCE, `seed ${seed}, ${new Date(day * 86_400_000).toISOString().slice(0, 10)}: ${n} events`);
    }
  }
  const small = resolveDataset({ seed: 4, eventsPerDay: 100 });
  assert.ok(generateEvents(small, Math.round(Date.parse("2026-11-30T00:00:00Z") / 86_400_000)).n * DEFAULT_ALLOWANCE < DIRTY_EVENT_KINDS.length, "the guard can fail: a day of 100 is too small");
});

test("a cursor walk returns exactly dayEvents() in order, whatever the page size", async (t) => {
  const api = await withApi(t, { eventsPerDay: 20_000 });
  const expected = dayEvents({ eventsPerDay: 20_000 }, D);
  assert.ok(expected.length > 15_000 && expected.length < 25_000, `about 20000 events, got ${expected.length}`);
  for (const limit of [1000, 337]) {
    const pages = await walk(api, dayStartIso, dayEndIso, limit);
    assert.equal(pages.length, Math.ceil(expected.length / limit), "pages are full until the last one, which names no cursor");
    for (const p of pages.slice(0, -1)) assert.equal(p.length, limit);
    assert.deepEqual(pages.flat(), expected);
  }
  // A multi-day window is the days one after the other.
  const twoDays = (await walk(api, dayStartIso, `2026-11-22T00:00:00Z`, 1000)).flat();
  assert.deepEqual(twoDays, [...expected, ...dayEvents({ eventsPerDay: 20_000 }, D_NEXT)]);
});

test("limit is capped at maxPageSize and defaults to 100 when absent", async (t) => {
  const api = await withApi(t, { eventsPerDay: 2000, maxPageSize: 50 });
  const res = await fetch(eventsUrl(api, dayStartIso, dayEndIso, 5000));
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { data: unknown[] }).data.length, 50);
  const api2 = await withApi(t, { eventsPerDay: 2000 });
  const res2 = await fetch(`${api2.url}/v1/events?start=${dayStartIso}&end=${dayEndIso}`);
  assert.equal(((await res2.json()) as { data: unknown[] }).data.length, 100);
  const res3 = await fetch(`${api.url}/v1/users?offset=0&limit=999`);
  assert.equal(((await res3.json()) as { users: unknown[] }).users.length, 50);
});

test("a day of about 20000 events holds every dirty kind of the contract, at about 0.1%, plus schema drift", () => {
  const records = dayEvents({ eventsPerDay: 20_000 }, D) as Rec[];
  const counts = new Map<string, number>();
  let dirty = 0;
  for (const r of records) {
    const kinds = dirtyKinds(r);
    if (kinds.length > 0) dirty++;
    for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const expectedKinds = [
    "missing_event_id", "numeric_event_id", "missing_user_id", "null_user_id", "string_user_id",
    "fractional_user_id", "zero_user_id", "negative_user_id", "missing_ts", "unparseable_ts",
    "ts_outside_day", "unknown_event_type", "missing_event_type", "properties_not_object",
  ];
  for (const k of expectedKinds) assert.ok((counts.get(k) ?? 0) >= 1, `no record of kind ${k}: ${JSON.stringify([...counts])}`);
  const share = dirty / records.length;
  assert.ok(share > 0.0005 && share < 0.003, `dirty share ${share}`);
  // Schema drift: valid records with keys beyond page/amount.
  const drift = records.filter((r) => {
    const p = r["properties"];
    return dirtyKinds(r).length === 0 && typeof p === "object" && p !== null && Object.keys(p).some((k) => k !== "page" && k !== "amount");
  });
  assert.ok(drift.length >= 5, `schema drift records: ${drift.length}`);
  // Properties absent, null and {"amount": null} all occur.
  assert.ok(records.some((r) => !("properties" in r)));
  assert.ok(records.some((r) => r["properties"] === null));
  assert.ok(records.some((r) => typeof r["properties"] === "object" && r["properties"] !== null && (r["properties"] as Rec)["amount"] === null));
  assert.ok(JSON.stringify(records).split("").every((ch) => ch.charCodeAt(0) < 128), "records are ASCII");
});

test("at-least-once duplicates reappear identically on a later page", async (t) => {
  const api = await withApi(t, { eventsPerDay: 20_000 });
  const pages = await walk(api, dayStartIso, dayEndIso, 1000);
  const seen = new Map<string, { page: number; json: string }>();
  let dups = 0;
  let distinct = 0;
  pages.forEach((page, pi) => {
    for (const x of page) {
      const r = x as Rec;
      if (typeof r["event_id"] !== "string") continue;
      const json = JSON.stringify(r);
      const first = seen.get(r["event_id"]);
      if (!first) {
        seen.set(r["event_id"], { page: pi, json });
        distinct++;
        continue;
      }
      dups++;
      assert.equal(json, first.json, "a duplicate is the identical record");
      assert.ok(pi > first.page, `duplicate of ${r["event_id"]} on page ${pi}, original on ${first.page}`);
    }
  });
  const share = dups / distinct;
  assert.ok(share > 0.003 && share < 0.008, `duplicate share ${share}`);
});

test("pages are sorted neither by time nor by user", () => {
  const events = clean(dayEvents({ eventsPerDay: 20_000 }, D));
  let timeUp = 0;
  let userUp = 0;
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.t >= events[i - 1]!.t) timeUp++;
    if (events[i]!.user >= events[i - 1]!.user) userUp++;
  }
  const n = events.length - 1;
  assert.ok(timeUp / n > 0.4 && timeUp / n < 0.6, `ascending ts pairs ${timeUp / n}`);
  assert.ok(userUp / n > 0.4 && userUp / n < 0.6, `ascending user pairs ${userUp / n}`);
});

test("sessions cross midnight: users have events within 30 minutes on both sides of 00:00", () => {
  const before = byUserSorted(clean(dayEvents({ eventsPerDay: 20_000 }, D_PREV), DAY_START_US - DAY_MS * 1000));
  const after = byUserSorted(clean(dayEvents({ eventsPerDay: 20_000 }, D)));
  let crossing = 0;
  for (const [user, evs] of after) {
    const last = before.get(user)?.at(-1);
    const first = evs[0]!;
    if (last && last.t >= DAY_START_US - TIMEOUT_US && first.t < DAY_START_US + TIMEOUT_US && first.t - last.t < TIMEOUT_US) {
      crossing++;
      // The tail on day D does not open with a login: the session began the day before.
      assert.notEqual(first.type, "login", `user ${user}`);
    }
  }
  assert.ok(crossing >= 3, `sessions crossing midnight: ${crossing}`);
  // Every clean event listed for D has its ts in D (only dirty ones fall outside).
  for (const evs of after.values()) for (const e of evs) assert.ok(e.t >= DAY_START_US && e.t < DAY_END_US);
});

test("timestamps mix Z and numeric offsets with second, millisecond and microsecond precision", () => {
  const events = clean(dayEvents({ eventsPerDay: 20_000 }, D));
  const count = (re: RegExp): number => events.filter((e) => re.test(e.rec["ts"] as string)).length;
  const n = events.length;
  for (const [name, re] of [
    ["Z", /Z$/],
    ["positive offset", /\+\d{2}:\d{2}$/],
    ["negative offset", /-\d{2}:\d{2}$/],
    ["half-hour offset", /[+-]\d{2}:30$/],
    ["seconds", /:\d{2}(Z|[+-]\d{2}:\d{2})$/],
    ["milliseconds", /\.\d{3}(Z|[+-]\d{2}:\d{2})$/],
    ["microseconds", /\.\d{6}(Z|[+-]\d{2}:\d{2})$/],
  ] as const) {
    assert.ok(count(re) > n * 0.01, `${name}: ${count(re)} of ${n}`);
  }
  // Offsets express the same instant: some records' local date is not the UTC day they belong to.
  assert.ok(events.some((e) => !(e.rec["ts"] as string).startsWith(D)), "a local date differs from the UTC day");
});

test("gaps hit the 30-minute timeout exactly and 1 ms over, and a user sometimes has equal timestamps", () => {
  const users = byUserSorted(clean(dayEvents({ eventsPerDay: 20_000 }, D)));
  const gaps = new Map<number, number>();
  for (const evs of users.values()) {
    for (let i = 1; i < evs.length; i++) {
      const g = evs[i]!.t - evs[i - 1]!.t;
      if (g === 0 || g === TIMEOUT_US || g === TIMEOUT_US + 1000 || g === TIMEOUT_US - 1000) gaps.set(g, (gaps.get(g) ?? 0) + 1);
    }
  }
  assert.ok((gaps.get(0) ?? 0) >= 5, `equal timestamps: ${gaps.get(0)}`);
  assert.ok((gaps.get(TIMEOUT_US) ?? 0) >= 3, `exactly 30:00.000: ${gaps.get(TIMEOUT_US)}`);
  assert.ok((gaps.get(TIMEOUT_US + 1000) ?? 0) >= 3, `30:00.001: ${gaps.get(TIMEOUT_US + 1000)}`);
});

test("events follow a plausible flow: sessions open with a login, purchases carry amounts, views carry pages", () => {
  const events = clean(dayEvents({ eventsPerDay: 20_000 }, D));
  const users = byUserSorted(events);
  let sessions = 0;
  let loginFirst = 0;
  let perUserMulti = 0;
  for (const evs of users.values()) {
    let userSessions = 0;
    for (let i = 0; i < evs.length; i++) {
      if (i === 0 || evs[i]!.t - evs[i - 1]!.t > TIMEOUT_US) {
        sessions++;
        userSessions++;
        if (evs[i]!.type === "login") loginFirst++;
      }
    }
    if (userSessions >= 3) perUserMulti++;
  }
  assert.ok(loginFirst / sessions > 0.9, `sessions opening with login: ${loginFirst}/${sessions}`);
  assert.ok(perUserMulti > users.size / 3, `users with several sessions: ${perUserMulti}/${users.size}`);
  const types = new Map<string, number>();
  for (const e of events) types.set(e.type, (types.get(e.type) ?? 0) + 1);
  for (const k of EVENT_TYPES) assert.ok((types.get(k) ?? 0) > 20, `${k}: ${types.get(k)}`);
  for (const e of events) {
    const p = e.rec["properties"] as Rec | null | undefined;
    if (e.type === "purchase") assert.ok(typeof p?.["amount"] === "number" && p["amount"] > 0, JSON.stringify(e.rec));
    if (e.type === "view_page") assert.ok(typeof p?.["page"] === "string" && p["page"].startsWith("/"), JSON.stringify(e.rec));
    if (e.type === "add_to_cart") assert.match(String(p?.["page"]), /^\/product\/\d+$/);
  }
  // Bursts: several events of a user within seconds.
  let bursts = 0;
  for (const evs of users.values()) for (let i = 2; i < evs.length; i++) if (evs[i]!.t - evs[i - 2]!.t <= 5_000_000) bursts++;
  assert.ok(bursts > 50, `bursts: ${bursts}`);
});

test("the users endpoint pages by offset until offset >= total, covers every user of the events, and has dirty users", async (t) => {
  const api = await withApi(t, { eventsPerDay: 20_000 });
  const got: unknown[] = [];
  let offset = 0;
  let total = Infinity;
  while (offset < total) {
    const res = await fetch(`${api.url}/v1/users?offset=${offset}&limit=120`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { users: unknown[]; total: number };
    total = body.total;
    if (body.users.length === 0) break;
    got.push(...body.users);
    offset += body.users.length;
  }
  assert.equal(got.length, total);
  assert.deepEqual(got, allUsers({ eventsPerDay: 20_000 }));
  const past = (await (await fetch(`${api.url}/v1/users?offset=${total}&limit=10`)).json()) as { users: unknown[]; total: number };
  assert.deepEqual(past, { users: [], total });

  const users = got as Rec[];
  const ids = new Set(users.map((u) => u["user_id"]).filter((id) => typeof id === "number"));
  assert.equal(ids.size, 500, "users 1..N for eventsPerDay/40");
  for (const e of clean(dayEvents({ eventsPerDay: 20_000 }, D))) assert.ok(ids.has(e.user), `user ${e.user} of the events is in the snapshot`);
  assert.ok(users.some((u) => u["user_id"] === null), "a null user_id");
  assert.ok(users.some((u) => typeof u["country"] === "string" && !/^[A-Z]{2}$/.test(u["country"])), "a bad country");
  assert.ok(users.some((u) => !PLANS.has(u["plan"] as string)), "a bad plan");
  const good = users.filter((u) => /^[A-Z]{2}$/.test(String(u["country"])) && PLANS.has(u["plan"] as string));
  assert.ok(good.length > users.length * 0.99);
  assert.ok(new Set(good.map((u) => u["country"])).size >= 10, "many countries");
  for (const u of good) {
    assert.ok(tsMicros(u["signup_ts"])! <= tsMicros(u["updated_at"])!, JSON.stringify(u));
  }
});

test("a server with a token answers 401 without it or with a wrong one, and 200 with it", async (t) => {
  const api = await withApi(t, { eventsPerDay: 1000, token: "s3cret-token" });
  const url = eventsUrl(api, dayStartIso, dayEndIso, 10);
  const none = await fetch(url);
  assert.equal(none.status, 401);
  assert.ok(!(await none.text()).includes("s3cret"), "the token is not echoed");
  assert.equal((await fetch(url, { headers: { authorization: "Bearer wrong" } })).status, 401);
  assert.equal((await fetch(`${api.url}/v1/users`, { headers: { authorization: "s3cret-token" } })).status, 401);
  const pages = await walk(api, dayStartIso, dayEndIso, 500, { authorization: "Bearer s3cret-token" });
  assert.deepEqual(pages.flat(), dayEvents({ eventsPerDay: 1000 }, D));
});

test("bad parameters and tampered cursors get 400, unknown paths 404, other methods 405", async (t) => {
  const api = await withApi(t, { eventsPerDay: 3000 });
  const status = async (path: string, init?: RequestInit): Promise<number> => {
    const res = await fetch(`${api.url}${path}`, init);
    const text = await res.text();
    if (res.status >= 400 && res.status !== 404) assert.ok(JSON.parse(text).error.message, text);
    return res.status;
  };
  const w = `start=${dayStartIso}&end=${dayEndIso}`;
  assert.equal(await status(`/v1/events?end=${dayEndIso}&limit=10`), 400);
  assert.equal(await status(`/v1/events?start=${dayStartIso}&end=yesterday&limit=10`), 400);
  assert.equal(await status(`/v1/events?start=2026-11-20&end=${dayEndIso}&limit=10`), 400);
  assert.equal(await status(`/v1/events?start=2026-02-30T00:00:00Z&end=${dayEndIso}&limit=10`), 400);
  assert.equal(await status(`/v1/events?${w}&limit=0`), 400);
  assert.equal(await status(`/v1/events?${w}&limit=-5`), 400);
  assert.equal(await status(`/v1/events?${w}&limit=ten`), 400);
  assert.equal(await status(`/v1/events?start=${dayEndIso}&end=${dayStartIso}&limit=10`), 400);
  assert.equal(await status(`/v1/users?offset=-1&limit=10`), 400);
  assert.equal(await status(`/v1/users?offset=0&limit=0`), 400);
  assert.equal(await status(`/v2/events?${w}`), 404);
  assert.equal(await status(`/`), 404);
  assert.equal(await status(`/v1/events?${w}`, { method: "POST" }), 405);
  // An unencoded "+02:00" (a space once decoded) is still understood.
  assert.equal(await status(`/v1/events?start=2026-11-20T02:00:00+02:00&end=2026-11-21T02:00:00+02:00&limit=10`), 200);

  const first = (await (await fetch(eventsUrl(api, dayStartIso, dayEndIso, 100))).json()) as { next_cursor: string };
  const cursor = first.next_cursor;
  assert.equal(typeof cursor, "string");
  assert.equal(await status(`/v1/events?${w}&limit=100&cursor=${cursor}`), 200);
  const flipped = cursor.slice(0, 5) + (cursor[5] === "A" ? "B" : "A") + cursor.slice(6);
  assert.equal(await status(`/v1/events?${w}&limit=100&cursor=${flipped}`), 400);
  // A well-formed cursor pointing elsewhere, with the old check value.
  const decoded = JSON.parse(Buffer.from(cursor, "base64url").toString()) as Record<string, unknown>;
  const moved = Buffer.from(JSON.stringify({ ...decoded, o: 7 })).toString("base64url");
  assert.equal(await status(`/v1/events?${w}&limit=100&cursor=${moved}`), 400);
  assert.equal(await status(`/v1/events?${w}&limit=100&cursor=not-a-cursor!`), 400);
  // A cursor of another window.
  assert.equal(await status(`/v1/events?start=${dayStartIso}&end=2026-11-20T12:00:00Z&limit=100&cursor=${cursor}`), 400);
});

test("a window that is not a whole day serves the clean records inside it, and halves add up to the day", async (t) => {
  const api = await withApi(t, { eventsPerDay: 5000 });
  const mid = "2026-11-20T12:00:00Z";
  const first = (await walk(api, dayStartIso, mid, 400)).flat();
  const second = (await walk(api, mid, dayEndIso, 400)).flat();
  const midUs = Date.parse(mid) * 1000;
  for (const r of clean(first)) assert.ok(r.t < midUs, JSON.stringify(r.rec));
  for (const r of clean(second)) assert.ok(r.t >= midUs, JSON.stringify(r.rec));
  assert.ok(first.length > 1000 && second.length > 1000);
  const sorted = (xs: unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(sorted([...first, ...second]), sorted(dayEvents({ eventsPerDay: 5000 }, D)));
  const empty = (await walk(api, dayStartIso, dayStartIso, 10)).flat();
  assert.deepEqual(empty, []);
});

/** Classifies one fetch outcome as the fault kind it shows (or "ok"). */
async function observe(url: string, stallMs: number): Promise<string> {
  const t0 = Date.now();
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch {
    return "connection_reset";
  }
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  if (res.status === 429) {
    const ra = res.headers.get("retry-after") ?? "";
    if (/^\d+$/.test(ra)) return "429_retry_after_seconds";
    assert.ok(!Number.isNaN(Date.parse(ra)) && Date.parse(ra) >= t0 - 1000, `Retry-After date "${ra}"`);
    return "429_retry_after_date";
  }
  if (res.status >= 500) return String(res.status);
  assert.equal(res.status, 200);
  if (type.startsWith("text/html")) return "html_error_page";
  try {
    JSON.parse(text);
  } catch {
    return "truncated_json";
  }
  return Date.now() - t0 >= stallMs * 0.9 ? "stall" : "ok";
}

test("with faultRate 1 every fault kind occurs, each observed as the contract describes", async (t) => {
  const stallMs = 150;
  const api = await withApi(t, { eventsPerDay: 1000, faultRate: 1, stallMs });
  const observed = new Map<string, number>();
  const n = 160;
  for (let i = 0; i < n; i++) {
    const url = i % 2 === 0 ? eventsUrl(api, dayStartIso, dayEndIso, 50) : `${api.url}/v1/users?offset=0&limit=20`;
    const kind = await observe(url, stallMs);
    observed.set(kind, (observed.get(kind) ?? 0) + 1);
  }
  const stats = api.stats();
  assert.equal(stats.requests, n, "every request reached the server once (no hidden client retries)");
  assert.equal(observed.get("ok"), undefined, "every request misbehaved");
  for (const kind of FAULT_KINDS) {
    assert.ok((observed.get(kind) ?? 0) >= 3, `${kind} observed ${observed.get(kind) ?? 0} times`);
    assert.equal(observed.get(kind), stats.faults[kind], `${kind}: client and server counts agree`);
  }
  assert.equal(stats.byStatus["429"], (stats.faults["429_retry_after_seconds"] ?? 0) + (stats.faults["429_retry_after_date"] ?? 0));
  // Invalid requests are answered as such, never faulted.
  assert.equal((await fetch(`${api.url}/v1/events?limit=1`)).status, 400);
});

test("the fault sequence is deterministic for a seed", async (t) => {
  const run = async (): Promise<{ seen: string[]; faults: Record<string, number> }> => {
    const api = await withApi(t, { eventsPerDay: 500, faultRate: 0.5, stallMs: 20, seed: 3 });
    const seen: string[] = [];
    // A stall is told from a slow "ok" by timing only; on a busy machine count them as one.
    for (let i = 0; i < 30; i++) seen.push((await observe(`${api.url}/v1/users?limit=5`, 20)).replace("stall", "ok"));
    return { seen, faults: api.stats().faults };
  };
  const a = await run();
  assert.deepEqual(a, await run());
  assert.ok(a.seen.includes("ok") && a.seen.some((k) => k !== "ok"));
});

test("a simple retrying loop still receives the full listing at faultRate 0.3", async (t) => {
  const api = await withApi(t, { eventsPerDay: 5000, faultRate: 0.3, stallMs: 5000, retryAfterSeconds: 0 });
  const records: unknown[] = [];
  let cursor: string | null = null;
  let attempts = 0;
  let failures = 0;
  do {
    let body: { data: unknown[]; next_cursor: string | null } | null = null;
    while (body === null) {
      attempts++;
      assert.ok(attempts < 500, "too many attempts");
      try {
        const res = await fetch(eventsUrl(api, dayStartIso, dayEndIso, 250, cursor), { signal: AbortSignal.timeout(300) });
        const text = await res.text();
        if (res.status === 200 && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
          body = JSON.parse(text) as { data: unknown[]; next_cursor: string | null };
        } else {
          assert.ok([429, 500, 502, 503, 504, 200].includes(res.status), `unexpected status ${res.status}`);
          failures++;
        }
      } catch (error) {
        // Network error, timeout (stall) or truncated JSON: all transient.
        assert.ok(error instanceof Error);
        failures++;
        body = null;
      }
      if (body === null) await new Promise((r) => setTimeout(r, 5));
    }
    records.push(...body.data);
    cursor = body.next_cursor;
  } while (cursor !== null);
  assert.deepEqual(records, dayEvents({ eventsPerDay: 5000 }, D));
  assert.ok(failures > 3, `failures ${failures}`);
  const faults = Object.values(api.stats().faults).reduce((a, b) => a + b, 0);
  assert.equal(faults, failures);
});

test("close() ends a stalled request promptly", async (t) => {
  const api = await withApi(t, { eventsPerDay: 500, faultRate: 1, faultKinds: ["stall"], stallMs: 30_000 });
  const pending = fetch(`${api.url}/v1/users?limit=5`);
  pending.catch(() => {}); // observed below
  for (let i = 0; i < 200 && (api.stats().faults["stall"] ?? 0) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(api.stats().faults["stall"], 1);
  const t0 = Date.now();
  const closed = await Promise.race([api.close().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2000).unref())]);
  assert.ok(closed, "close() did not return within 2 s");
  assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
  await assert.rejects(pending);
  assert.ok(Date.now() - t0 < 2000);
  await api.close(); // idempotent
});

test("invalid options are refused", async () => {
  await assert.rejects(startDemoApi({ faultRate: 1.5 }));
  await assert.rejects(startDemoApi({ maxPageSize: 0 }));
  await assert.rejects(startDemoApi({ eventsPerDay: -1 }));
  assert.throws(() => dayEvents({}, "2026-13-01"));
});

test("the fast byte serializer writes exactly what the string serializer writes", () => {
  const options = { seed: 11, eventsPerDay: 20_000 };
  const viaBytes = cleanEventTexts(options, D, "bytes");
  const viaStrings = cleanEventTexts(options, D, "strings");
  assert.ok(viaBytes.length > 15_000);
  for (let i = 0; i < viaBytes.length; i++) {
    if (viaBytes[i] !== viaStrings[i]) assert.fail(`record ${i} differs:\n${viaBytes[i]}\n${viaStrings[i]}`);
  }
  // And every property variant was exercised: drift, amount null, absent, null, purchases.
  const all = viaBytes.join("\n");
  for (const needle of ['"referrer"', '"utm"', '"quantity"', '"sku"', '"currency"', '"amount":null', '"properties":null', '"method"', '"properties":{}', '"amount":']) {
    assert.ok(all.includes(needle), needle);
  }
});

/**
 * Sends a fixed script of requests (cursor walks, partial and multi-day windows, users pages,
 * client errors) and digests status + body of every response in order.
 */
async function responseDigest(api: DemoApi, limits: readonly number[]): Promise<string> {
  const hash = createHash("sha256");
  const record = async (url: string): Promise<string> => {
    let res: Response;
    try {
      res = await fetch(url);
    } catch {
      hash.update("reset\n");
      return "";
    }
    const body = await res.text();
    hash.update(`${res.status} ${res.headers.get("content-type") ?? ""}\n${body}\n`);
    return body;
  };
  const walkAll = async (start: string, end: string, limit: number): Promise<void> => {
    let cursor: string | null = null;
    for (let i = 0; i < 1000; i++) {
      const body = await record(eventsUrl(api, start, end, limit, cursor));
      try {
        cursor = (JSON.parse(body) as { next_cursor: string | null }).next_cursor;
      } catch {
        cursor = null;
      }
      if (cursor === null) return;
    }
  };
  for (const limit of limits) {
    await walkAll(dayStartIso, dayEndIso, limit);
    await walkAll(`${D}T09:30:00.250+02:00`, `${D}T17:45:10Z`, limit);
    await walkAll(`${D_PREV}T12:00:00Z`, `${D_NEXT}T06:00:00Z`, limit);
    for (let offset = 0; offset < 1200; offset += limit) await record(`${api.url}/v1/users?offset=${offset}&limit=${limit}`);
  }
  await record(`${api.url}/v1/users`);
  await record(`${api.url}/v1/events?start=${dayStartIso}&end=${dayEndIso}`);
  await record(`${api.url}/v1/events?limit=1`);
  await record(`${api.url}/v1/events?start=x&end=${dayEndIso}`);
  await record(`${api.url}/v1/events?start=${dayStartIso}&end=${dayEndIso}&cursor=abc`);
  await record(`${api.url}/v1/users?limit=0`);
  await record(`${api.url}/nope`);
  return hash.digest("hex");
}

// Pinned before the demo API was split into files per role (and kept since): the responses for a
// seed and options are part of the contract the tests and the bench's same-work hashes rely on.
// A change here means every response changed; update the pins only for a deliberate data change.
test("the demo API's responses are byte-identical to the pinned digests for the same seed and options", async (t) => {
  const plain = await withApi(t, {});
  assert.equal(await responseDigest(plain, [1000, 137]), PINNED.plain);
  const small = await withApi(t, { seed: 7, eventsPerDay: 3000, users: 80, maxPageSize: 500 });
  assert.equal(await responseDigest(small, [500, 64]), PINNED.small);
  const faulty = await withApi(t, { seed: 5, eventsPerDay: 2000, faultRate: 0.4, stallMs: 5, faultKinds: FAULT_KINDS.filter((k) => k !== "429_retry_after_date") });
  assert.equal(await responseDigest(faulty, [300]), PINNED.faulty);
});

const PINNED = {
  plain: "ca3b8a7e0a6c7d72110677e4e692f3554d0e958f35a0fd8bbf6eb1fb3f307ade",
  small: "99de7f429ed5d8655fb446f00479814a8ed057a9cbdf422c1d1327044d58a1ba",
  faulty: "62ba3fbedd218dd1f452416110bc644e2cb1ddd8ea69b8a7d5b3358f188f9935",
};

/** Every page of /v1/users for a query string, following offsets; asserts `total` stays the same. */
async function usersPages(api: DemoApi, query: string, limit = 70): Promise<{ users: Rec[]; total: number }> {
  const users: Rec[] = [];
  let total = -1;
  for (let offset = 0; total < 0 || offset < total; offset += limit) {
    const res = await fetch(`${api.url}/v1/users?offset=${offset}&limit=${limit}${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { users: Rec[]; total: number };
    if (total >= 0) assert.equal(body.total, total, "total is the same on every page");
    total = body.total;
    if (body.users.length === 0) break;
    users.push(...body.users);
  }
  return { users, total };
}

const SMALL = { seed: 9, eventsPerDay: 4000, users: 300 };

test("updated_since serves exactly the users with updated_at at or after it, and total counts them", async (t) => {
  const api = await withApi(t, SMALL);
  const all = allUsers(SMALL) as Rec[];
  const stamps = all.map((u) => tsMicros(u["updated_at"])!).sort((a, b) => a - b);
  const median = stamps[Math.floor(stamps.length / 2)]!;
  const since = new Date(median / 1000).toISOString().replace(".000Z", "Z");
  const expected = all.filter((u) => tsMicros(u["updated_at"])! >= median);
  assert.ok(expected.length > 10 && expected.length < all.length - 10, `${expected.length} of ${all.length}`);
  assert.ok(expected.some((u) => tsMicros(u["updated_at"]) === median), "the boundary instant itself is included");
  const got = await usersPages(api, `&updated_since=${encodeURIComponent(since)}`);
  assert.deepEqual(got.users, expected);
  assert.equal(got.total, expected.length);
  assert.deepEqual(allUsers(SMALL, { updatedSince: since }), expected);
  // An offset (+02:00) names the same instant.
  const shifted = new Date(median / 1000 + 2 * 3600_000).toISOString().replace(".000Z", "+02:00");
  assert.deepEqual((await usersPages(api, `&updated_since=${encodeURIComponent(shifted)}`)).users, expected);
  const bad = await fetch(`${api.url}/v1/users?updated_since=yesterday`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /updated_since "yesterday" is not an RFC 3339 timestamp/);
});

test("a server told to ignore updated_since serves the whole snapshot whatever it says", async (t) => {
  const api = await withApi(t, { ...SMALL, ignoreUpdatedSince: true });
  const got = await usersPages(api, `&updated_since=${encodeURIComponent("2026-11-29T00:00:00Z")}`);
  assert.deepEqual(got.users, allUsers(SMALL));
  assert.equal((await fetch(`${api.url}/v1/users?updated_since=garbage`)).status, 200, "not even parsed");
});

const usersByIdAsOf = (asOf: string): Map<number, Rec> =>
  new Map((allUsers(SMALL, { asOf }) as Rec[]).filter((u) => typeof u["user_id"] === "number").map((u) => [u["user_id"] as number, u]));

test("users change over time: as_of a later instant shows some users updated, and updated_at never moves back", () => {
  const instants = ["2025-06-01T00:00:00Z", "2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z", "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", "2027-01-01T00:00:00Z"];
  const snapshots = instants.map(usersByIdAsOf);
  assert.deepEqual(allUsers(SMALL, { asOf: "2026-11-30T00:00:00Z" }), allUsers(SMALL), "the default snapshot is as of 2026-11-30");
  assert.ok(snapshots[0]!.size < snapshots[1]!.size, "users who had not signed up yet are absent");
  for (const u of snapshots[0]!.values()) assert.ok(tsMicros(u["signup_ts"])! <= Date.parse(instants[0]!) * 1000);
  for (let i = 1; i < snapshots.length; i++) {
    const [before, after] = [snapshots[i - 1]!, snapshots[i]!];
    const asOfUs = Date.parse(instants[i]!) * 1000;
    let changed = 0;
    for (const [id, u] of after) {
      const t = tsMicros(u["updated_at"])!;
      assert.ok(t <= asOfUs, `user ${id} updated after the instant it is as of`);
      const old = before.get(id);
      if (old === undefined) continue;
      assert.ok(t >= tsMicros(old["updated_at"])!, `user ${id}: updated_at moved back`);
      if (JSON.stringify(old) !== JSON.stringify(u)) {
        changed++;
        assert.ok(t > Date.parse(instants[i - 1]!) * 1000, `user ${id} changed without a newer updated_at`);
      }
      assert.equal(u["signup_ts"], old["signup_ts"]);
    }
    // Before the fixed snapshot the history is the one it implies (most users' last update is older).
    if (i === 1 || instants[i - 1]! >= "2026-11-30") assert.ok(changed > 0, `some users changed between ${instants[i - 1]} and ${instants[i]}`);
  }
  // A day changes a few percent of the users, not all of them.
  const oneDay = [...snapshots[5]!.values()].filter((u) => tsMicros(u["updated_at"])! > Date.parse(instants[4]!) * 1000).length;
  assert.ok(oneDay >= 1 && oneDay <= 30, `${oneDay} of 300 users updated on 2026-12-01`);
});

test("daily incremental pulls with updated_since merged by user_id converge to the latest snapshot", async (t) => {
  const api = await withApi(t, { ...SMALL, usersAsOf: "2026-11-28T00:00:00Z" });
  const table = new Map<number, Rec>();
  const merge = (users: Rec[]): void => {
    for (const u of users) {
      if (typeof u["user_id"] !== "number") continue;
      const old = table.get(u["user_id"]);
      if (old === undefined || tsMicros(u["updated_at"])! >= tsMicros(old["updated_at"])!) table.set(u["user_id"], u);
    }
  };
  merge((await usersPages(api, "")).users);
  assert.deepEqual(table, usersByIdAsOf("2026-11-28T00:00:00Z"));
  let mark = "2026-11-28T00:00:00Z";
  let pulled = 0;
  for (const day of ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"]) {
    api.setUsersAsOf(`${day}T00:00:00Z`);
    const page = await usersPages(api, `&updated_since=${encodeURIComponent(mark)}`);
    pulled += page.users.length;
    merge(page.users);
    mark = `${day}T00:00:00Z`;
    assert.deepEqual(table, usersByIdAsOf(mark), `after the pull of ${day}`);
  }
  assert.ok(pulled > 0 && pulled < 150, `incremental pulls fetched ${pulled} records, not 5 snapshots`);
  assert.throws(() => api.setUsersAsOf("tomorrow"), /not an RFC 3339 timestamp/);
  // as_of in the request wins over the server's clock.
  assert.deepEqual((await usersPages(api, `&as_of=${encodeURIComponent("2026-11-30T00:00:00Z")}`)).users, allUsers(SMALL));
  assert.equal((await fetch(`${api.url}/v1/users?as_of=2026-11-30`)).status, 400);
});

test("latencyMs answers every page after that delay with the same body, and it is not a fault", async (t) => {
  const plain = await withApi(t, { eventsPerDay: 1000 });
  const slow = await withApi(t, { eventsPerDay: 1000, latencyMs: 200 });
  for (const path of [`/v1/events?start=${dayStartIso}&end=${dayEndIso}&limit=50`, "/v1/users?limit=5", "/v1/events?limit=1"]) {
    const t0 = performance.now();
    const res = await fetch(`${slow.url}${path}`);
    const body = await res.text();
    // A lower bound only: a busy machine can make it slower, never faster.
    assert.ok(performance.now() - t0 >= 190, `${path} answered after ${Math.round(performance.now() - t0)} ms`);
    const expected = await fetch(`${plain.url}${path}`);
    assert.equal(res.status, expected.status);
    assert.equal(body, await expected.text());
  }
  assert.deepEqual(slow.stats().faults, {});
  assert.deepEqual(slow.stats().byStatus, { "200": 2, "400": 1 });
  // A request still waiting for its latency does not hold close() up.
  const pending = fetch(`${slow.url}/v1/users?limit=5`);
  pending.catch(() => {}); // observed below
  for (let i = 0; i < 200 && slow.stats().requests < 4; i++) await new Promise((r) => setTimeout(r, 5));
  await slow.close();
  await assert.rejects(pending);
});

test("anomalies: a half_empty day silently ends after half its records, a zero_amounts day has purchases of 0", async (t) => {
  const options = { eventsPerDay: 3000, anomalies: { [D]: "half_empty", [D_NEXT]: "zero_amounts" } } as const;
  const api = await withApi(t, options);
  const normal = dayEvents({ eventsPerDay: 3000 }, D);
  const half = (await walk(api, dayStartIso, dayEndIso, 200)).flat();
  assert.equal(half.length, Math.floor(normal.length / 2));
  assert.deepEqual(half, normal.slice(0, half.length), "the first half of the normal listing, nothing else");
  assert.deepEqual(half, dayEvents(options, D));

  const normalNext = dayEvents({ eventsPerDay: 3000 }, D_NEXT) as Rec[];
  const zeroed = (await walk(api, dayEndIso, `${D_NEXT}T23:59:59.999999Z`, 500)).flat().concat((await walk(api, `${D_NEXT}T23:59:59.999999Z`, `2026-11-22T00:00:00Z`, 500)).flat()) as Rec[];
  const served = dayEvents(options, D_NEXT) as Rec[];
  assert.equal(served.length, normalNext.length, "a zero_amounts day keeps every record");
  assert.equal(new Set(zeroed.map((r) => JSON.stringify(r))).size, new Set(served.map((r) => JSON.stringify(r))).size);
  let purchases = 0;
  served.forEach((r, i) => {
    const before = normalNext[i]!;
    const props = r["properties"] as Rec | null | undefined;
    if (r["event_type"] === "purchase" && typeof props === "object" && props !== null && "amount" in props) {
      purchases++;
      assert.equal(props["amount"], 0, JSON.stringify(r));
      assert.deepEqual({ ...r, properties: { ...props, amount: (before["properties"] as Rec)["amount"] } }, before, "only the amount differs");
    } else assert.deepEqual(r, before);
  });
  assert.ok(purchases > 10, `${purchases} purchases`);
  assert.ok(normalNext.some((r) => r["event_type"] === "purchase" && ((r["properties"] as Rec | null)?.["amount"] ?? 0) !== 0));
  assert.deepEqual(dayEvents(options, D_PREV), dayEvents({ eventsPerDay: 3000 }, D_PREV), "other days are untouched");
});

test("invalid anomaly, latency and users clock options are refused with the bad value named", async () => {
  await assert.rejects(startDemoApi({ anomalies: { "2026-02-30": "half_empty" } }), /anomaly day "2026-02-30"/);
  await assert.rejects(startDemoApi({ anomalies: { [D]: "slow" as "half_empty" } }), /unknown anomaly "slow"/);
  await assert.rejects(startDemoApi({ latencyMs: -1 }), /latency -1 ms/);
  await assert.rejects(startDemoApi({ usersAsOf: "2026-12-01" }), /users as-of "2026-12-01"/);
});

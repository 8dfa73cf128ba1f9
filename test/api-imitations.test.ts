/**
 * Proves the five loopback API imitations (test/fixtures/apis/) with raw HTTP only: each is walked
 * page by page as its API's docs say and must give exactly its truth(), with and without faults,
 * and its style's rules (auth, headers, rate limits, cursors) hold. No Sluice code is used here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startStripeServer, type StripeCharge, type StripeHandle } from "./fixtures/apis/stripe.ts";
import { startGithubServer, type GhComment, type GhIssue, type GhRepo } from "./fixtures/apis/github.ts";
import { CONTACT_PROPERTIES, DEFAULT_CONTACT_PROPERTIES, startHubspotServer, type HubspotContact, type HubspotHandle } from "./fixtures/apis/hubspot.ts";
import { DEFAULT_USER_PROPERTIES, GRAPH_SCOPE, USER_PROPERTIES, startGraphServer, type GraphHandle, type GraphUser } from "./fixtures/apis/graph.ts";
import { startZendeskServer, type ZendeskHandle, type ZendeskTicket } from "./fixtures/apis/zendesk.ts";
import { isoSeconds } from "./fixtures/apis/common.ts";

type Json = Record<string, unknown>;
interface Got {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

/** One request; `body` is the parsed JSON or undefined when the text is not JSON. */
async function call(url: string, init: RequestInit = {}): Promise<Got> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** Whether a naive client would try again: network errors, garbled JSON, 429, 5xx, rate-limit 403s. */
function retryable(g: Got): boolean {
  if (g.status === 429 || g.status >= 500) return true;
  if (g.status === 403 && (g.headers.get("retry-after") !== null || g.headers.get("x-ratelimit-remaining") === "0")) return true;
  return g.status === 200 && g.body === undefined;
}

/** The naive retry loop of these tests: immediately again, up to `attempts` times. */
async function retrying(url: string, init: RequestInit = {}, attempts = 30): Promise<Got> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const g = await call(url, init);
      if (!retryable(g)) return g;
      last = `${g.status} ${g.text.slice(0, 80)}`;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`still failing after ${attempts} attempts: ${String(last)}`);
}

const T0 = Date.parse("2024-07-02T12:00:00Z");
/** A frozen server clock at T0 (moved only by advance()). */
const frozen = (): number => T0;

// ---------------------------------------------------------------------------------------------
// Stripe

function stripeHeaders(s: StripeHandle): Record<string, string> {
  return { authorization: `Bearer ${s.apiKey}`, "stripe-version": "2024-06-20" };
}

/** Walks /v1/charges with starting_after = the last id until has_more is false. */
async function walkStripe(s: StripeHandle, extra = "", limit = 7): Promise<{ charges: StripeCharge[]; pages: number }> {
  const charges: StripeCharge[] = [];
  let after: string | undefined;
  for (let pages = 1; ; pages++) {
    const g = await retrying(`${s.url}/v1/charges?limit=${limit}${extra}${after ? `&starting_after=${after}` : ""}`, { headers: stripeHeaders(s) });
    assert.equal(g.status, 200, g.text);
    const body = g.body as { object: string; url: string; has_more: boolean; data: StripeCharge[] };
    assert.equal(body.object, "list");
    assert.equal(body.url, "/v1/charges");
    charges.push(...body.data);
    if (!body.has_more) return { charges, pages };
    after = body.data[body.data.length - 1]!.id;
  }
}

test("Stripe: walking starting_after pages until has_more is false returns exactly truth(), newest first with ties by id", async (t) => {
  const s = await startStripeServer({ seed: 3, count: 40 });
  t.after(() => s.close());
  const truth = s.truth();
  const { charges, pages } = await walkStripe(s);
  assert.equal(pages, 6);
  assert.deepEqual(charges, truth);
  assert.equal((await walkStripe(s, "", 8)).pages, 5, "has_more is false on a full last page");
  assert.equal(truth.length, 40);
  let ties = 0;
  for (let i = 1; i < truth.length; i++) {
    const [a, b] = [truth[i - 1]!, truth[i]!];
    assert.ok(a.created > b.created || (a.created === b.created && a.id > b.id), `order at ${i}`);
    if (a.created === b.created) ties++;
  }
  assert.ok(ties > 0, "the data has charges sharing a created second");
  assert.ok(truth.some((c) => c.refunds.data.length > 0 && c.amount_refunded > 0), "some charges have refunds");
  assert.ok(truth.some((c) => c.metadata["coupon"] !== undefined), "some charges carry a coupon");
});

test("Stripe: the walk still equals truth() under a 20% fault rate with a naive retry loop", async (t) => {
  const s = await startStripeServer({ seed: 4, count: 40, faultRate: 0.2 });
  t.after(() => s.close());
  const { charges } = await walkStripe(s, "", 5);
  assert.deepEqual(charges, s.truth());
  assert.ok(s.faults.total() > 0, "faults were injected");
  assert.ok(s.requests().some((r) => r.fault !== null && r.fault !== "429" && r.status !== 429), "other faults than 429s happened too");
});

test("Stripe: a 429 has Stripe's rate_limit_error body and no Retry-After", async (t) => {
  const s = await startStripeServer({ seed: 5 });
  t.after(() => s.close());
  s.faults.failNext(1, ["429"]);
  const g = await call(`${s.url}/v1/charges`, { headers: stripeHeaders(s) });
  assert.equal(g.status, 429);
  assert.equal(g.headers.get("retry-after"), null);
  assert.equal((g.body as { error: { type: string } }).error.type, "rate_limit_error");
  const again = await call(`${s.url}/v1/charges`, { headers: stripeHeaders(s) });
  assert.equal(again.status, 200);
  assert.equal((again.body as { data: unknown[] }).data.length, 10, "limit defaults to 10");
});

test("Stripe: a request without Stripe-Version, or with another version, gets a 400 naming the header", async (t) => {
  const s = await startStripeServer({ seed: 6 });
  t.after(() => s.close());
  const none = await call(`${s.url}/v1/charges`, { headers: { authorization: `Bearer ${s.apiKey}` } });
  assert.equal(none.status, 400);
  assert.match((none.body as { error: { message: string } }).error.message, /Stripe-Version/);
  const other = await call(`${s.url}/v1/charges`, { headers: { authorization: `Bearer ${s.apiKey}`, "stripe-version": "2020-08-27" } });
  assert.equal(other.status, 400);
  assert.match((other.body as { error: { message: string } }).error.message, /2020-08-27.*Stripe-Version/);
  const relaxed = await startStripeServer({ seed: 6, requireVersion: false });
  t.after(() => relaxed.close());
  assert.equal((await call(`${relaxed.url}/v1/charges`, { headers: { authorization: `Bearer ${relaxed.apiKey}` } })).status, 200);
});

test("Stripe: the key works as Bearer or as the Basic user name; other credentials get 401 even when every request would fault", async (t) => {
  const s = await startStripeServer({ seed: 7, faultRate: 1, faultKinds: ["500"] });
  t.after(() => s.close());
  const basic = `Basic ${Buffer.from(`${s.apiKey}:`).toString("base64")}`;
  const v = { "stripe-version": "2024-06-20" };
  assert.equal((await call(`${s.url}/v1/charges`, { headers: { ...v, authorization: basic } })).status, 500, "authenticated, then faulted");
  const wrong = await call(`${s.url}/v1/charges`, { headers: { ...v, authorization: "Bearer sk_test_wrongwrongwrongwrong1234" } });
  assert.equal(wrong.status, 401);
  const err = (wrong.body as { error: { type: string; message: string } }).error;
  assert.equal(err.type, "invalid_request_error");
  assert.match(err.message, /Invalid API Key provided: sk_test_\**1234/);
  assert.ok(!wrong.text.includes("sk_test_wrongwrongwrongwrong1234"), "the key is masked");
  assert.equal((await call(`${s.url}/v1/charges`, { headers: v })).status, 401);
});

test("Stripe: created[gte]/created[lt] select one UTC day, and ending_before pages backwards", async (t) => {
  const s = await startStripeServer({ seed: 8, count: 45 });
  t.after(() => s.close());
  const day = Date.parse("2024-07-02T00:00:00Z") / 1000;
  const truth = s.truth();
  const { charges } = await walkStripe(s, `&created[gte]=${day}&created[lt]=${day + 86_400}`, 4);
  assert.deepEqual(charges, truth.filter((c) => c.created >= day && c.created < day + 86_400));
  assert.equal(charges.length, 15);
  const back = await call(`${s.url}/v1/charges?limit=4&ending_before=${truth[10]!.id}`, { headers: stripeHeaders(s) });
  assert.deepEqual((back.body as { data: StripeCharge[] }).data, truth.slice(6, 10));
  assert.equal((back.body as { has_more: boolean }).has_more, true);
  const first = await call(`${s.url}/v1/charges?limit=7&ending_before=${truth[3]!.id}`, { headers: stripeHeaders(s) });
  assert.deepEqual((first.body as { data: StripeCharge[] }).data, truth.slice(0, 3));
  assert.equal((first.body as { has_more: boolean }).has_more, false);
});

test("Stripe: a limit outside 1..100 or both cursors are 400s, and an unknown cursor is 404 resource_missing", async (t) => {
  const s = await startStripeServer({ seed: 9 });
  t.after(() => s.close());
  const h = { headers: stripeHeaders(s) };
  for (const limit of ["0", "101", "ten"]) assert.equal((await call(`${s.url}/v1/charges?limit=${limit}`, h)).status, 400, `limit=${limit}`);
  const [a, b] = s.truth();
  assert.equal((await call(`${s.url}/v1/charges?starting_after=${a!.id}&ending_before=${b!.id}`, h)).status, 400);
  const missing = await call(`${s.url}/v1/charges?starting_after=ch_doesnotexist`, h);
  assert.equal(missing.status, 404);
  assert.equal((missing.body as { error: { code: string } }).error.code, "resource_missing");
});

test("Stripe: addRefund and updateCharge show in the next listing", async (t) => {
  const s = await startStripeServer({ seed: 10, count: 12 });
  t.after(() => s.close());
  const target = s.truth().find((c) => c.status === "succeeded" && c.refunds.data.length === 0)!;
  const refund = s.addRefund(target.id, { amount: 100 });
  s.updateCharge(target.id, { metadata: { ...target.metadata, coupon: "LATE5" } });
  const { charges } = await walkStripe(s, "", 100);
  const seen = charges.find((c) => c.id === target.id)!;
  assert.equal(seen.amount_refunded, 100);
  assert.equal(seen.refunds.total_count, 1);
  assert.deepEqual(seen.refunds.data[0], refund);
  assert.equal(refund.charge, target.id);
  assert.equal(seen.metadata["coupon"], "LATE5");
  assert.equal(seen.created, target.created, "a refund does not change created");
  assert.deepEqual(charges, s.truth());
});

// ---------------------------------------------------------------------------------------------
// GitHub

function ghAuth(token: string, scheme = "Bearer"): RequestInit {
  return { headers: { authorization: `${scheme} ${token}`, accept: "application/vnd.github+json" } };
}

/** rel → URL of a Link header. */
function parseLink(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(",")) {
    const m = /<([^>]+)>;\s*rel="([^"]+)"/.exec(part.trim());
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}

/** Follows rel="next" from `url` until there is none; every Link URL is checked to be absolute. */
async function walkLinks<T>(url: string, init: RequestInit): Promise<{ items: T[]; pages: Got[] }> {
  const items: T[] = [];
  const pages: Got[] = [];
  let next: string | undefined = url;
  while (next) {
    const g = await retrying(next, init);
    assert.equal(g.status, 200, `${next}: ${g.text}`);
    pages.push(g);
    items.push(...(g.body as T[]));
    const links = parseLink(g.headers.get("link"));
    for (const u of Object.values(links)) assert.match(u, /^http:\/\/127\.0\.0\.1:\d+\//);
    next = links["next"];
  }
  return { items, pages };
}

/** Org repos, then each repo's issues (state=all), then each issue's comments; 404 repos skipped. */
async function walkGithub(url: string, org: string, init: RequestInit): Promise<{ repos: GhRepo[]; issues: Record<string, GhIssue[]>; comments: Record<string, GhComment[]> }> {
  const repos = (await walkLinks<GhRepo>(`${url}/orgs/${org}/repos?per_page=2`, init)).items;
  const issues: Record<string, GhIssue[]> = {};
  const comments: Record<string, GhComment[]> = {};
  for (const repo of repos) {
    const first = await retrying(`${url}/repos/${repo.full_name}/issues?state=all&per_page=5`, init);
    if (first.status === 404) continue;
    issues[repo.full_name] = (await walkLinks<GhIssue>(`${url}/repos/${repo.full_name}/issues?state=all&per_page=5`, init)).items;
    for (const issue of issues[repo.full_name]!) comments[`${repo.full_name}#${issue.number}`] = (await walkLinks<GhComment>(`${issue.comments_url}?per_page=2`, init)).items;
  }
  return { repos, issues, comments };
}

test("GitHub: org repos, each repo's issues and each issue's comments, walked by Link headers only, equal truth()", async (t) => {
  const s = await startGithubServer({ seed: 11, repos: ["api", "web", "docs"], issuesPerRepo: 12 });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  assert.deepEqual(await walkGithub(s.url, s.org, init), s.truth());
  const { pages } = await walkLinks<GhIssue>(`${s.url}/repos/acme/api/issues?state=all&per_page=4`, init);
  assert.ok(pages.length >= 2, "several pages");
  const first = parseLink(pages[0]!.headers.get("link"));
  assert.deepEqual(Object.keys(first).sort(), ["last", "next"]);
  assert.match(first["next"]!, /\/repositories\/\d+\/issues\?state=all&per_page=4&page=2$/, "GitHub's id-based paths, other parameters kept");
  const last = parseLink(pages[pages.length - 1]!.headers.get("link"));
  assert.deepEqual(Object.keys(last).sort(), ["first", "prev"]);
  const single = await call(`${s.url}/repos/acme/api/issues?state=all&per_page=100`, init);
  assert.equal(single.headers.get("link"), null, "no Link when everything fits on one page");
});

test("GitHub: the walk still equals truth() under a 20% fault rate (secondary limits included) with a naive retry loop", async (t) => {
  const s = await startGithubServer({ seed: 12, repos: ["api", "web"], issuesPerRepo: 10, faultRate: 0.2 });
  t.after(() => s.close());
  assert.deepEqual(await walkGithub(s.url, s.org, ghAuth(s.token, "token")), s.truth());
  assert.ok(s.faults.total() > 0, "faults were injected");
});

test("GitHub: since returns only issues updated at or after it; updateIssue and addComment bump updated_at to the server clock", async (t) => {
  const s = await startGithubServer({ seed: 13, repos: ["api"], issuesPerRepo: 15, now: frozen });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  const all = s.truth().issues["acme/api"]!;
  const since = [...all].sort((a, b) => a.updated_at.localeCompare(b.updated_at))[7]!.updated_at;
  const got = (await walkLinks<GhIssue>(`${s.url}/repos/acme/api/issues?state=all&since=${since}&per_page=3`, init)).items;
  assert.deepEqual(got, all.filter((i) => i.updated_at >= since));
  assert.ok(got.length >= 3 && got.length <= all.length - 7, `since keeps the later issues only (${got.length} of ${all.length})`);
  s.advance(1000);
  const stamp = isoSeconds(T0 + 1000);
  const changed = s.updateIssue("api", 1, { title: "Renamed", state: "closed" });
  assert.equal(changed.updated_at, stamp);
  assert.equal(changed.closed_at, stamp);
  const issue2 = all.find((i) => i.number === 2)!;
  const comment = s.addComment("api", 2, "late comment");
  const after = (await walkLinks<GhIssue>(`${s.url}/repos/acme/api/issues?state=all&since=${stamp}`, init)).items;
  assert.deepEqual(after.map((i) => i.number).sort(), [1, 2]);
  assert.equal(after.find((i) => i.number === 2)!.comments, issue2.comments + 1);
  const newComments = (await walkLinks<GhComment>(`${issue2.comments_url}?since=${stamp}`, init)).items;
  assert.deepEqual(newComments, [comment]);
  const added = s.addIssue("api", { title: "Brand new" });
  assert.equal(added.number, Math.max(...all.map((i) => i.number)) + 1);
});

test("GitHub: a missing repository's issues answer 404 Not Found while the org still lists it", async (t) => {
  const s = await startGithubServer({ seed: 14, repos: ["api", "gone", "web"], missingRepos: ["gone"] });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  const g = await call(`${s.url}/repos/acme/gone/issues`, init);
  assert.equal(g.status, 404);
  assert.equal((g.body as Json)["message"], "Not Found");
  assert.ok(s.truth().repos.some((r) => r.name === "gone"), "the org lists the missing repo");
  assert.equal(s.truth().issues["acme/gone"], undefined);
  assert.deepEqual(await walkGithub(s.url, s.org, init), s.truth());
});

test("GitHub: Bearer and token schemes are accepted; a bad or missing token gets 401 Bad credentials", async (t) => {
  const s = await startGithubServer({ seed: 15 });
  t.after(() => s.close());
  assert.equal((await call(`${s.url}/orgs/acme/repos`, ghAuth(s.token, "token"))).status, 200);
  assert.equal((await call(`${s.url}/orgs/acme/repos`, ghAuth(s.token, "Bearer"))).status, 200);
  for (const init of [ghAuth("ghp_nope"), {}]) {
    const g = await call(`${s.url}/orgs/acme/repos`, init);
    assert.equal(g.status, 401);
    assert.equal((g.body as Json)["message"], "Bad credentials");
  }
});

test("GitHub: every answer carries x-ratelimit headers, and the primary limit answers 403 with remaining 0 until its reset", async (t) => {
  const s = await startGithubServer({ seed: 16, primaryLimit: 3, rateWindowMs: 60_000, now: frozen });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  const reset = String(Math.ceil((T0 + 60_000) / 1000));
  for (let i = 1; i <= 3; i++) {
    const g = await call(`${s.url}/orgs/acme/repos`, init);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("x-ratelimit-limit"), "3");
    assert.equal(g.headers.get("x-ratelimit-used"), String(i));
    assert.equal(g.headers.get("x-ratelimit-remaining"), String(3 - i));
    assert.equal(g.headers.get("x-ratelimit-reset"), reset);
    assert.equal(g.headers.get("x-ratelimit-resource"), "core");
  }
  const limited = await call(`${s.url}/repos/acme/api/issues`, init);
  assert.equal(limited.status, 403);
  assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
  assert.equal(limited.headers.get("x-ratelimit-reset"), reset);
  assert.match((limited.body as Json)["message"] as string, /^API rate limit exceeded/);
  s.advance(59_999);
  assert.equal((await call(`${s.url}/orgs/acme/repos`, init)).status, 403);
  s.advance(1);
  const back = await call(`${s.url}/orgs/acme/repos`, init);
  assert.equal(back.status, 200);
  assert.equal(back.headers.get("x-ratelimit-remaining"), "2");
});

test("GitHub: secondary-limit faults answer 403 or 429 with retry-after, remaining above zero, and the page comes next", async (t) => {
  const s = await startGithubServer({ seed: 17, secondaryRetryAfter: 7 });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  s.faults.failNext(2, ["secondary-403", "secondary-429"]);
  for (const status of [403, 429]) {
    const g = await call(`${s.url}/repos/acme/api/issues`, init);
    assert.equal(g.status, status);
    assert.equal(g.headers.get("retry-after"), "7");
    assert.notEqual(g.headers.get("x-ratelimit-remaining"), "0");
    assert.match((g.body as Json)["message"] as string, /secondary rate limit/);
  }
  const ok = await call(`${s.url}/repos/acme/api/issues`, init);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, s.truth().issues["acme/api"]!.filter((i) => i.state === "open").slice(0, 30));
});

test("GitHub: issues default to state=open, created desc, 30 per page; per_page above 100 is cut to 100", async (t) => {
  const s = await startGithubServer({ seed: 18, repos: ["big"], issuesPerRepo: 150 });
  t.after(() => s.close());
  const init = ghAuth(s.token);
  const open = s.truth().issues["acme/big"]!.filter((i) => i.state === "open");
  const g = await call(`${s.url}/repos/acme/big/issues`, init);
  assert.deepEqual(g.body, open.slice(0, 30));
  const big = await call(`${s.url}/repos/acme/big/issues?state=all&per_page=500`, init);
  assert.equal((big.body as unknown[]).length, 100);
  const asc = await call(`${s.url}/repos/acme/big/issues?state=all&sort=updated&direction=asc&per_page=100`, init);
  const stamps = (asc.body as GhIssue[]).map((i) => i.updated_at);
  assert.deepEqual(stamps, [...stamps].sort());
  assert.equal((await call(`${s.url}/repos/acme/big/issues?since=yesterday`, init)).status, 422);
});

// ---------------------------------------------------------------------------------------------
// HubSpot

async function hsSearch(s: HubspotHandle, body: unknown, get = retrying): Promise<Got> {
  return get(`${s.url}/crm/v3/objects/contacts/search`, { method: "POST", headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** Pages a search by paging.next.after (sent back in the body) until paging is absent. */
async function walkHubspot(s: HubspotHandle, request: Json): Promise<{ results: HubspotContact[]; pages: Json[] }> {
  const results: HubspotContact[] = [];
  const pages: Json[] = [];
  let after: string | undefined;
  for (;;) {
    const g = await hsSearch(s, after === undefined ? request : { ...request, after });
    assert.equal(g.status, 200, g.text);
    const body = g.body as { total: number; results: HubspotContact[]; paging?: { next: { after: string; link: string } } };
    pages.push(body as unknown as Json);
    results.push(...body.results);
    if (!("paging" in body)) return { results, pages };
    after = body.paging!.next.after;
  }
}

const ALL_CONTACT_PROPS = { properties: [...CONTACT_PROPERTIES], sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }], limit: 7 };
const byId = <T extends { id: string | number }>(list: readonly T[]): T[] => [...list].sort((a, b) => (Number(a.id) < Number(b.id) ? -1 : 1));

test("HubSpot: paging a search by after in the request body returns truth(), with paging absent on the last page", async (t) => {
  const s = await startHubspotServer({ seed: 19, count: 40 });
  t.after(() => s.close());
  const { results, pages } = await walkHubspot(s, ALL_CONTACT_PROPS);
  assert.equal(pages.length, 6);
  assert.deepEqual(byId(results), s.truth());
  assert.equal(pages[0]!["total"], 40);
  assert.equal("paging" in pages[pages.length - 1]!, false);
  const modified = results.map((r) => r.properties["lastmodifieddate"]!);
  assert.deepEqual(modified, [...modified].sort(), "sorted by lastmodifieddate ascending");
  const logged = s.requests()[1]!;
  assert.equal(logged.method, "POST");
  assert.equal(JSON.parse(logged.body).after, "7", "the token travels in the JSON body");
  assert.equal(logged.headers["content-type"], "application/json");
});

test("HubSpot: the search walk still equals truth() under a 20% fault rate with a naive retry loop", async (t) => {
  const s = await startHubspotServer({ seed: 20, count: 40, faultRate: 0.2 });
  t.after(() => s.close());
  const { results } = await walkHubspot(s, ALL_CONTACT_PROPS);
  assert.deepEqual(byId(results), s.truth());
  assert.ok(s.faults.total() > 0, "faults were injected");
});

test("HubSpot: a lastmodifieddate filter takes epoch milliseconds or ISO, and updates, additions and archives show in the next search", async (t) => {
  const s = await startHubspotServer({ seed: 21, count: 30, now: frozen });
  t.after(() => s.close());
  const mid = Date.parse(s.truth()[10]!.properties["lastmodifieddate"]!);
  const filter = (value: string | number): Json => ({ ...ALL_CONTACT_PROPS, filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE", value }] }] });
  const asMs = (await walkHubspot(s, filter(String(mid)))).results;
  const asIso = (await walkHubspot(s, filter(new Date(mid).toISOString()))).results;
  assert.deepEqual(asMs, asIso);
  assert.deepEqual(byId(asMs), s.truth().filter((c) => Date.parse(c.properties["lastmodifieddate"]!) >= mid));
  const target = s.truth()[0]!;
  s.updateContact(target.id, { lifecyclestage: "customer" });
  const added = s.addContact({ email: "new@example.com", firstname: "New" });
  const changed = (await walkHubspot(s, filter(T0))).results;
  assert.deepEqual(changed.map((c) => c.id).sort(), [target.id, added.id].sort());
  assert.equal(changed.find((c) => c.id === target.id)!.properties["lastmodifieddate"], new Date(T0).toISOString());
  s.archiveContact(target.id);
  const after = (await walkHubspot(s, filter(T0))).results;
  assert.deepEqual(after.map((c) => c.id), [added.id]);
  assert.deepEqual(s.archivedIds(), [target.id]);
  assert.equal(s.truth().length, 30);
});

test("HubSpot: a search cannot page past its result cap: the next after it hands out answers 400", async (t) => {
  const s = await startHubspotServer({ seed: 22, count: 30, maxResults: 20 });
  t.after(() => s.close());
  const p2 = await hsSearch(s, { limit: 10, after: "10" });
  assert.equal(p2.status, 200);
  assert.equal((p2.body as { paging: { next: { after: string } } }).paging.next.after, "20");
  const p3 = await hsSearch(s, { limit: 10, after: "20" }, call);
  assert.equal(p3.status, 400);
  assert.equal((p3.body as Json)["category"], "VALIDATION_ERROR");
  const real = await startHubspotServer({ seed: 22, count: 5 });
  t.after(() => real.close());
  assert.equal((await hsSearch(real, { after: "10000" }, call)).status, 400);
  assert.equal((await hsSearch(real, { after: "9999" }, call)).status, 200);
  assert.equal((await hsSearch(real, { limit: 201 }, call)).status, 400);
});

test("HubSpot: a wrong or missing token gets 401 INVALID_AUTHENTICATION; throttling is 429 with errorType RATE_LIMIT", async (t) => {
  const s = await startHubspotServer({ seed: 23 });
  t.after(() => s.close());
  for (const headers of [{ authorization: "Bearer pat-na1-wrong" }, {}]) {
    const g = await call(`${s.url}/crm/v3/objects/contacts/search`, { method: "POST", headers, body: "{}" });
    assert.equal(g.status, 401);
    assert.equal((g.body as Json)["category"], "INVALID_AUTHENTICATION");
    assert.equal((g.body as Json)["status"], "error");
  }
  s.faults.failNext(1, ["429"]);
  const limited = await hsSearch(s, {}, call);
  assert.equal(limited.status, 429);
  assert.equal((limited.body as Json)["errorType"], "RATE_LIMIT");
});

test("HubSpot: requested properties come back plus hs_object_id, createdate and lastmodifieddate; none requested gives the default set", async (t) => {
  const s = await startHubspotServer({ seed: 24, count: 3 });
  t.after(() => s.close());
  const some = (await hsSearch(s, { properties: ["email"] })).body as { results: HubspotContact[] };
  assert.deepEqual(Object.keys(some.results[0]!.properties).sort(), ["createdate", "email", "hs_object_id", "lastmodifieddate"]);
  const none = (await hsSearch(s, {})).body as { results: HubspotContact[] };
  assert.deepEqual(Object.keys(none.results[0]!.properties).sort(), [...DEFAULT_CONTACT_PROPERTIES].sort());
  assert.equal(none.results[0]!.archived, false);
  assert.equal(none.results[0]!.updatedAt, none.results[0]!.properties["lastmodifieddate"]);
});

// ---------------------------------------------------------------------------------------------
// Microsoft Graph

async function graphToken(s: GraphHandle, secret = s.clientSecret, get = retrying): Promise<Got> {
  const form = new URLSearchParams({ client_id: s.clientId, client_secret: secret, scope: GRAPH_SCOPE, grant_type: "client_credentials" });
  return get(s.tokenUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
}

async function accessToken(s: GraphHandle): Promise<string> {
  const g = await graphToken(s);
  assert.equal(g.status, 200, g.text);
  return (g.body as { access_token: string }).access_token;
}

/** Follows @odata.nextLink; on a 401 fetches a new token and retries the same link. */
async function walkGraph(s: GraphHandle, first: string, onPage: (n: number) => void = () => {}): Promise<{ users: GraphUser[]; pages: Json[]; unauthorized: number }> {
  const users: GraphUser[] = [];
  const pages: Json[] = [];
  let token = await accessToken(s);
  let unauthorized = 0;
  let next: string | undefined = first;
  while (next) {
    const g = await retrying(next, { headers: { authorization: `Bearer ${token}` } });
    if (g.status === 401) {
      unauthorized++;
      assert.ok(unauthorized < 5, "token refresh loop");
      token = await accessToken(s);
      continue;
    }
    assert.equal(g.status, 200, g.text);
    const body = g.body as { value: GraphUser[]; "@odata.nextLink"?: string };
    pages.push(body as unknown as Json);
    users.push(...body.value);
    next = body["@odata.nextLink"];
    onPage(pages.length);
  }
  return { users, pages, unauthorized };
}

const ALL_USERS = (s: GraphHandle, top = 7): string => `${s.url}/v1.0/users?$top=${top}&$select=${USER_PROPERTIES.join(",")}`;

test("Graph: client credentials, then @odata.nextLink pages with $top and $select, return truth(); nextLink is absolute and absent on the last page", async (t) => {
  const s = await startGraphServer({ seed: 25, count: 25 });
  t.after(() => s.close());
  const { users, pages } = await walkGraph(s, ALL_USERS(s));
  assert.deepEqual(users, s.truth());
  assert.equal(pages.length, 4);
  const link = pages[0]!["@odata.nextLink"] as string;
  assert.ok(link.startsWith(`${s.url}/v1.0/users?$top=7&$select=`), link);
  assert.match(link, /\$skiptoken=[A-Za-z0-9_-]+$/);
  assert.equal("@odata.nextLink" in pages[3]!, false);
  assert.match(pages[0]!["@odata.context"] as string, /\$metadata#users\(businessPhones,/);
  assert.notEqual(s.loginUrl, s.url, "the token endpoint is another origin");
  assert.equal(s.tokenRequests(), 1);
});

test("Graph: the walk still equals truth() under a 20% fault rate on both the token endpoint and the API", async (t) => {
  const s = await startGraphServer({ seed: 26, count: 30, faultRate: 0.2 });
  t.after(() => s.close());
  const { users } = await walkGraph(s, ALL_USERS(s, 4));
  assert.deepEqual(users, s.truth());
  assert.ok(s.faults.total() > 0, "faults were injected");
});

test("Graph: a token that expires mid-listing gets 401 InvalidAuthenticationToken, and a new token continues from the same nextLink", async (t) => {
  const s = await startGraphServer({ seed: 27, count: 20, tokenTtlSeconds: 2, now: frozen });
  t.after(() => s.close());
  const tok = await graphToken(s);
  assert.equal((tok.body as Json)["expires_in"], 2);
  assert.equal((tok.body as Json)["token_type"], "Bearer");
  const { users, unauthorized } = await walkGraph(s, ALL_USERS(s, 6), (n) => {
    if (n === 2) s.advance(2_500);
  });
  assert.deepEqual(users, s.truth());
  assert.equal(unauthorized, 1);
  assert.equal(s.tokenRequests(), 3, "the probe above, the first token, the refresh");
  const denied = s.requests().find((r) => r.status === 401)!;
  const retried = s.requests().filter((r) => r.server === "api" && r.query["$skiptoken"] === denied.query["$skiptoken"]);
  assert.deepEqual(retried.map((r) => r.status), [401, 200], "the same nextLink, before and after the refresh");
  const expired = await call(ALL_USERS(s), { headers: { authorization: `Bearer ${(tok.body as { access_token: string }).access_token}` } });
  assert.equal(expired.status, 401);
  assert.deepEqual((expired.body as { error: { code: string; message: string } }).error.code, "InvalidAuthenticationToken");
  assert.equal((expired.body as { error: { message: string } }).error.message, "Access token has expired or is not yet valid.");
});

test("Graph: tokenMaxRequests and expireTokens() end a token deterministically", async (t) => {
  const s = await startGraphServer({ seed: 28, count: 5, tokenMaxRequests: 2 });
  t.after(() => s.close());
  const token = await accessToken(s);
  const h = { headers: { authorization: `Bearer ${token}` } };
  assert.deepEqual([(await call(ALL_USERS(s), h)).status, (await call(ALL_USERS(s), h)).status, (await call(ALL_USERS(s), h)).status], [200, 200, 401]);
  const fresh = { headers: { authorization: `Bearer ${await accessToken(s)}` } };
  assert.equal((await call(ALL_USERS(s), fresh)).status, 200);
  s.expireTokens();
  assert.equal((await call(ALL_USERS(s), fresh)).status, 401);
  assert.equal(s.tokensIssued(), 2);
});

test("Graph: a wrong client secret gets 401 invalid_client without echoing it, and a request without a token gets 401", async (t) => {
  const s = await startGraphServer({ seed: 29 });
  t.after(() => s.close());
  const wrong = await graphToken(s, "not-the-secret-xyz", call);
  assert.equal(wrong.status, 401);
  assert.equal((wrong.body as Json)["error"], "invalid_client");
  assert.match((wrong.body as Json)["error_description"] as string, /^AADSTS7000215/);
  assert.ok(!wrong.text.includes("not-the-secret-xyz"), "the secret is not echoed");
  const badScope = await call(s.tokenUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: s.clientId, client_secret: s.clientSecret, scope: "User.Read", grant_type: "client_credentials" }).toString() });
  assert.equal((badScope.body as Json)["error"], "invalid_scope");
  const none = await call(`${s.url}/v1.0/users`);
  assert.equal(none.status, 401);
  assert.equal((none.body as { error: { code: string } }).error.code, "InvalidAuthenticationToken");
  assert.equal(s.tokensIssued(), 0);
});

test("Graph: $top above 999 and $skip are 400s; without $select the default properties come back; throttling is 429 with Retry-After", async (t) => {
  const s = await startGraphServer({ seed: 30, count: 120, retryAfterSeconds: 3 });
  t.after(() => s.close());
  const h = { headers: { authorization: `Bearer ${await accessToken(s)}` } };
  assert.equal((await call(`${s.url}/v1.0/users?$top=1000`, h)).status, 400);
  assert.equal((await call(`${s.url}/v1.0/users?$skip=5`, h)).status, 400);
  assert.equal((await call(`${s.url}/v1.0/users?$select=nope`, h)).status, 400);
  const plain = await call(`${s.url}/v1.0/users`, h);
  const body = plain.body as { value: Json[]; "@odata.nextLink": string };
  assert.equal(body.value.length, 100, "$top defaults to 100");
  assert.deepEqual(Object.keys(body.value[0]!).sort(), [...DEFAULT_USER_PROPERTIES].sort());
  assert.ok(!body["@odata.nextLink"].includes("$top"), "nextLink keeps only the parameters the request had");
  s.faults.failNext(1, ["429"]);
  const limited = await call(`${s.url}/v1.0/users`, h);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "3");
  assert.equal((limited.body as { error: { code: string } }).error.code, "TooManyRequests");
});

// ---------------------------------------------------------------------------------------------
// Zendesk

function zdAuth(s: ZendeskHandle): RequestInit {
  return { headers: { authorization: `Basic ${Buffer.from(`${s.email}/token:${s.apiToken}`).toString("base64")}` } };
}

/** Follows after_url until end_of_stream; returns what came, in order, and the last after_cursor. */
async function walkZendesk(s: ZendeskHandle, first: string, onPage: (n: number, page: ZendeskTicket[]) => void = () => {}): Promise<{ tickets: ZendeskTicket[]; cursor: string; pages: Json[] }> {
  const tickets: ZendeskTicket[] = [];
  const pages: Json[] = [];
  let url = first;
  for (;;) {
    const g = await retrying(url, zdAuth(s));
    assert.equal(g.status, 200, g.text);
    const body = g.body as { tickets: ZendeskTicket[]; after_url: string; after_cursor: string; end_of_stream: boolean };
    pages.push(body as unknown as Json);
    tickets.push(...body.tickets);
    onPage(pages.length, body.tickets);
    if (body.end_of_stream) return { tickets, cursor: body.after_cursor, pages };
    url = body.after_url;
  }
}

/** The latest version of each ticket seen (later pages win), by id. */
function latest(tickets: readonly ZendeskTicket[]): ZendeskTicket[] {
  return [...new Map(tickets.map((t) => [t.id, t])).values()].sort((a, b) => a.id - b.id);
}

const EXPORT = "/api/v2/incremental/tickets/cursor.json";

test("Zendesk: an export from start_time walked by after_url until end_of_stream returns truth(), in generated_timestamp order", async (t) => {
  const s = await startZendeskServer({ seed: 31, count: 30 });
  t.after(() => s.close());
  const { tickets, pages } = await walkZendesk(s, `${s.url}${EXPORT}?start_time=0&per_page=7`);
  assert.equal(pages.length, 5);
  assert.equal(tickets.length, 30);
  assert.deepEqual(latest(tickets), s.truth());
  const stamps = tickets.map((x) => x.generated_timestamp);
  assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b));
  assert.deepEqual(Object.keys(pages[0]!).sort(), ["after_cursor", "after_url", "before_cursor", "before_url", "end_of_stream", "tickets"]);
  const later = stamps[10]!;
  const fromMiddle = await walkZendesk(s, `${s.url}${EXPORT}?start_time=${later}`);
  assert.deepEqual(fromMiddle.tickets.map((x) => x.id), tickets.filter((x) => x.generated_timestamp >= later).map((x) => x.id));
});

test("Zendesk: the export still equals truth() under a 20% fault rate with a naive retry loop", async (t) => {
  const s = await startZendeskServer({ seed: 32, count: 30, faultRate: 0.2 });
  t.after(() => s.close());
  const { tickets } = await walkZendesk(s, `${s.url}${EXPORT}?start_time=0&per_page=4`);
  assert.deepEqual(latest(tickets), s.truth());
  assert.equal(tickets.length, 30, "faults never replay or skip a page");
  assert.ok(s.faults.total() > 0, "faults were injected");
});

test("Zendesk: resuming from the last after_cursor returns exactly the changes made since, each at its newest version", async (t) => {
  const s = await startZendeskServer({ seed: 33, count: 20 });
  t.after(() => s.close());
  const first = await walkZendesk(s, `${s.url}${EXPORT}?start_time=0&per_page=6`);
  const quiet = await walkZendesk(s, `${s.url}${EXPORT}?cursor=${first.cursor}`);
  assert.deepEqual(quiet.tickets, []);
  assert.equal(quiet.cursor, first.cursor, "nothing changed: same position");
  s.advance(1000);
  s.updateTicket(1003, { status: "solved" });
  s.updateTicket(1005, { priority: "urgent" });
  s.updateTicket(1003, { tags: ["escalated"] });
  s.deleteTicket(1007);
  const added = s.addTicket({ subject: "Printer on fire" });
  const resumed = await walkZendesk(s, `${s.url}${EXPORT}?cursor=${first.cursor}&per_page=2`);
  assert.deepEqual(resumed.tickets.map((x) => x.id), [1005, 1003, 1007, added.id], "change order, each ticket once at its latest change");
  const truth = new Map(s.truth().map((x) => [x.id, x]));
  for (const ticket of resumed.tickets) assert.deepEqual(ticket, truth.get(ticket.id));
  assert.equal(truth.get(1007)!.status, "deleted");
  assert.deepEqual(truth.get(1003)!.tags, ["escalated"]);
  assert.equal(truth.get(1003)!.status, "solved");
  const withoutDeleted = await walkZendesk(s, `${s.url}${EXPORT}?cursor=${first.cursor}&exclude_deleted=true`);
  assert.deepEqual(withoutDeleted.tickets.map((x) => x.id), [1005, 1003, added.id]);
  const again = await walkZendesk(s, `${s.url}${EXPORT}?cursor=${resumed.cursor}`);
  assert.deepEqual(again.tickets, []);
});

test("Zendesk: a ticket updated after it was exported reappears later in the same walk with its newer version", async (t) => {
  const s = await startZendeskServer({ seed: 34, count: 15 });
  t.after(() => s.close());
  let early: ZendeskTicket | undefined;
  const { tickets } = await walkZendesk(s, `${s.url}${EXPORT}?start_time=0&per_page=5`, (n, page) => {
    if (n === 1) early = s.updateTicket(page[0]!.id, { subject: "Edited mid-walk" });
  });
  const seen = tickets.filter((x) => x.id === early!.id);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[1], early);
  assert.deepEqual(latest(tickets), s.truth());
});

test("Zendesk: Basic {email}/token:{api_token} is required; anything else gets 401 Couldn't authenticate you", async (t) => {
  const s = await startZendeskServer({ seed: 35 });
  t.after(() => s.close());
  for (const header of [`Basic ${Buffer.from(`${s.email}:${s.apiToken}`).toString("base64")}`, `Bearer ${s.apiToken}`, `Basic ${Buffer.from(`${s.email}/token:wrong`).toString("base64")}`]) {
    const g = await call(`${s.url}${EXPORT}?start_time=0`, { headers: { authorization: header } });
    assert.equal(g.status, 401);
    assert.deepEqual(g.body, { error: "Couldn't authenticate you" });
  }
  assert.equal((await call(`${s.url}${EXPORT}?start_time=0`, zdAuth(s))).status, 200);
});

test("Zendesk: the per-minute limit and throttling faults answer 429 with Retry-After; a too recent start_time is 422", async (t) => {
  const s = await startZendeskServer({ seed: 36, requestsPerMinute: 2, now: frozen });
  t.after(() => s.close());
  const url = `${s.url}${EXPORT}?start_time=0`;
  assert.equal((await call(url, zdAuth(s))).status, 200);
  assert.equal((await call(url, zdAuth(s))).status, 200);
  const limited = await call(url, zdAuth(s));
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "60");
  s.advance(60_000);
  const recent = await call(`${s.url}${EXPORT}?start_time=${Math.floor(s.now() / 1000) - 30}`, zdAuth(s));
  assert.equal(recent.status, 422);
  s.faults.failNext(1, ["429"]);
  const fault = await call(url, zdAuth(s));
  assert.equal(fault.status, 429);
  assert.equal(fault.headers.get("retry-after"), "1");
});

// ---------------------------------------------------------------------------------------------
// Common machinery

test("The same seed gives the same data and the same faults; another seed gives other data", async (t) => {
  const runs = [];
  for (const seed of [41, 41, 42]) {
    const s = await startStripeServer({ seed, count: 20, faultRate: 0.3 });
    t.after(() => s.close());
    await walkStripe(s, "", 4);
    runs.push({ truth: s.truth(), faults: s.requests().map((r) => r.fault) });
  }
  assert.deepEqual(runs[0], runs[1]);
  assert.notDeepEqual(runs[0]!.truth, runs[2]!.truth);
});

test("failFirst and failEveryPage fail requests deterministically, and the retried request gets the same page", async (t) => {
  const s = await startZendeskServer({ seed: 43, count: 10, failFirst: 2, failEveryPage: 1, faultKinds: ["503", "truncated"] });
  t.after(() => s.close());
  const { tickets } = await walkZendesk(s, `${s.url}${EXPORT}?start_time=0&per_page=4`);
  assert.deepEqual(latest(tickets), s.truth());
  const log = s.requests();
  // failFirst: the first two requests (page 1); failEveryPage: pages 2 and 3 once each (page 1 already failed)
  assert.deepEqual(log.map((r) => r.fault), ["503", "truncated", null, "503", null, "truncated", null]);
  assert.deepEqual(log.map((r) => r.status), [503, 200, 200, 503, 200, 200, 200]);
  assert.deepEqual(s.faults.injected(), { "503": 2, truncated: 2 });
  assert.throws(() => s.faults.failNext(1, ["secondary-403"]), /not produced by this API/);
});

test("The request log records method, path, parsed query, lowercased headers, body, status and server time", async (t) => {
  const s = await startGithubServer({ seed: 44, now: frozen });
  t.after(() => s.close());
  await call(`${s.url}/repos/acme/api/issues?state=all&labels=a&labels=b`, { headers: { Authorization: `Bearer ${s.token}`, "X-Custom": "yes" } });
  const [entry] = s.requests();
  assert.equal(entry!.method, "GET");
  assert.equal(entry!.path, "/repos/acme/api/issues");
  assert.deepEqual(entry!.query, { state: "all", labels: ["a", "b"] });
  assert.equal(entry!.headers["x-custom"], "yes");
  assert.equal(entry!.headers["authorization"], `Bearer ${s.token}`);
  assert.equal(entry!.body, "");
  assert.equal(entry!.status, 200);
  assert.equal(entry!.at, T0);
  s.clearRequests();
  assert.deepEqual(s.requests(), []);
});

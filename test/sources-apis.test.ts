/**
 * The five API styles of jobs/examples/, each a short declaration with no HTTP or paging code,
 * against loopback imitations of Stripe, GitHub, HubSpot, Microsoft Graph and Zendesk that fail a
 * fifth of their requests: each loads exactly the server's records, and no secret ends up anywhere.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { clearTokenCache } from "../src/extract/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition, type JobDefinition, type PartitionOutcome } from "../src/pipeline/index.ts";
import stripeCharges from "../jobs/examples/stripe-charges.ts";
import githubIssues from "../jobs/examples/github-issues.ts";
import hubspotContacts from "../jobs/examples/hubspot-contacts.ts";
import graphUsers from "../jobs/examples/graph-users.ts";
import zendeskTickets from "../jobs/examples/zendesk-tickets.ts";
import { startStripeServer } from "./fixtures/apis/stripe.ts";
import { startGithubServer } from "./fixtures/apis/github.ts";
import { startHubspotServer } from "./fixtures/apis/hubspot.ts";
import { startGraphServer } from "./fixtures/apis/graph.ts";
import { startZendeskServer } from "./fixtures/apis/zendesk.ts";
import { capturingLogger } from "./fixtures/fault-server.ts";
import { assertNoSecrets } from "./fixtures/secret-scan.ts";
import { tempDataDir } from "./support/dirs.ts";

const FAULTS = 0.2;

/** Runs a job in-process against `env` (URLs and secrets), keeping the landing so the secret scan sees it. */
async function runJob(job: JobDefinition, dt: string, dataDir: string, env: Record<string, string>): Promise<{ outcome: PartitionOutcome; lines: string[] }> {
  const { log, lines } = capturingLogger();
  const outcome = await runPartition(job, dt, { dataDir, signal: new AbortController().signal, log, env, refetch: false, keepRaw: true, preview: false });
  assert.equal(outcome.status, "succeeded", `${job.name} ${dt}: ${outcome.error}`);
  return { outcome, lines };
}

async function rows(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

/** Byte order of two keys, as DuckDB's ORDER BY sorts VARCHAR. */
function byKey(a: unknown[], b: unknown[]): number {
  const x = String(a[0]);
  const y = String(b[0]);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The UTC day (YYYY-MM-DD) of an instant. */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The day with the most instants among `times`. */
function busiestDay(times: number[]): string {
  const counts = new Map<string, number>();
  for (const t of times) counts.set(dayOf(t), (counts.get(dayOf(t)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}

test("stripe-style charges: starting_after + has_more under faults, the version header sent, exactly the day's charges", async (t) => {
  const apiKey = "sk_test_5f2c0d9e8b7a6f5e4d3c2b1a";
  const server = await startStripeServer({ apiKey, count: 600, faultRate: FAULTS, seed: 3 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const dt = busiestDay(server.truth().map((c) => c.created * 1000));
  const { outcome, lines } = await runJob(stripeCharges, dt, dataDir, { STRIPE_API_URL: server.url, STRIPE_API_KEY: apiKey });

  const start = Date.parse(`${dt}T00:00:00Z`) / 1000;
  const truth = server.truth().filter((c) => c.created >= start && c.created < start + 86_400);
  assert.ok(truth.length > 100, `a day of ${truth.length} charges spans pages of 100`);
  const got = await rows(dataDir, "select id, amount, amount_refunded, status, strftime(dt, '%Y-%m-%d') from charges order by id");
  assert.deepEqual(got, truth.map((c) => [c.id, c.amount, c.amount_refunded, c.status, dt]).sort(byKey));
  const requests = server.requests().filter((r) => r.path === "/v1/charges");
  assert.ok(requests.every((r) => r.headers["stripe-version"] === "2024-06-20"), "every request carries Stripe-Version");
  assert.ok(requests.some((r) => r.fault === "429"), "a 429 without Retry-After was retried");
  assert.ok(requests.some((r) => typeof r.query["starting_after"] === "string"), "later pages start after the last id");
  await assertNoSecrets(dataDir, [apiKey], { log: lines.join(""), outcome: JSON.stringify(outcome) });
});

test("github-style issues: Link pages, `since`, and a primary rate limit (403, remaining 0) waited out until its reset", async (t) => {
  const token = "ghp_9Yc2Lw7Qm4Nx8Rt1Vb6Zk3Hs5Dj0Fg";
  const server = await startGithubServer({ token, issuesPerRepo: 320, faultRate: FAULTS, seed: 5, primaryLimit: 3, rateWindowMs: 1_500 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const issues = server.truth().issues["acme/api"] ?? [];
  const dt = dayOf(Date.parse(issues.map((i) => i.updated_at).sort().at(-150)!));
  // Someone else used up the window: the job's first request meets the primary limit.
  for (let i = 0; i < 3; i++) await fetch(`${server.url}/orgs/acme/repos`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.arrayBuffer());
  const { outcome, lines } = await runJob(githubIssues, dt, dataDir, { GITHUB_API_URL: server.url, GITHUB_TOKEN: token });

  const since = Date.parse(`${dt}T00:00:00Z`);
  const truth = issues.filter((i) => Date.parse(i.updated_at) >= since).sort((a, b) => a.id - b.id);
  assert.ok(truth.length > 100, `${truth.length} issues span pages of 100`);
  const got = await rows(dataDir, "select id, number, state, login, updated_at from github_issues order by id");
  assert.deepEqual(got, truth.map((i) => [i.id, i.number, i.state, i.user.login, new Date(i.updated_at).toISOString()]));
  const limited = server.requests().filter((r) => r.status === 403 && r.fault === null);
  assert.ok(limited.length > 0, "the primary limit was hit, and the job waited for its reset instead of failing");
  await assertNoSecrets(dataDir, [token], { log: lines.join(""), outcome: JSON.stringify(outcome) });
});

test("hubspot-style search: a POST whose body carries the after token, paging absent on the last page, everything modified since the day began", async (t) => {
  const token = "pat-na1-7d4e2c9a-1b3f-4e5d-8c7b-6a5f4e3d2c1b";
  const server = await startHubspotServer({ token, count: 3000, faultRate: FAULTS, seed: 7 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const dt = busiestDay(server.truth().map((c) => Date.parse(c.updatedAt)));
  const { outcome, lines } = await runJob(hubspotContacts, dt, dataDir, { HUBSPOT_API_URL: server.url, HUBSPOT_TOKEN: token });

  const start = Date.parse(`${dt}T00:00:00Z`);
  const truth = server.truth().filter((c) => Date.parse(c.properties["lastmodifieddate"] ?? "") >= start);
  assert.ok(truth.length > 100, `${truth.length} contacts span pages of 100`);
  const got = await rows(dataDir, "select id, email from hubspot_contacts order by id");
  assert.deepEqual(got, truth.map((c) => [c.id, c.properties["email"] ?? null]).sort(byKey));
  const posts = server.requests().filter((r) => r.method === "POST");
  assert.ok(posts.some((r) => typeof (JSON.parse(r.body || "{}") as { after?: unknown }).after === "string"), "later pages send the token in the body");
  await assertNoSecrets(dataDir, [token], { log: lines.join(""), outcome: JSON.stringify(outcome) });
});

test("graph-style users: @odata.nextLink (a key with a dot), OAuth2 client credentials refreshed mid-listing, tokens never stored", async (t) => {
  clearTokenCache();
  const server = await startGraphServer({ count: 350, faultRate: FAULTS, seed: 9, tokenMaxRequests: 2 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const env = { GRAPH_API_URL: server.url, GRAPH_TOKEN_URL: server.tokenUrl, GRAPH_CLIENT_ID: server.clientId, GRAPH_CLIENT_SECRET: server.clientSecret };
  const { outcome, lines } = await runJob(graphUsers, "2024-07-01", dataDir, env);

  const truth = server.truth().sort((a, b) => a.id.localeCompare(b.id));
  const got = await rows(dataDir, "select id, displayName, userPrincipalName from graph_users order by id");
  assert.deepEqual(got, truth.map((u) => [u.id, u.displayName, u.userPrincipalName]));
  assert.ok(server.tokenRequests() >= 3, `a token expired mid-listing and was refreshed (${server.tokenRequests()} token requests)`);
  const login = server.requests().filter((r) => r.server === "login");
  assert.ok(login.every((r) => r.body.includes("client_secret")), "the client secret goes to the token endpoint");
  const api = server.requests().filter((r) => r.server === "api");
  assert.ok(api.every((r) => !JSON.stringify(r).includes(server.clientSecret)), "and never to the API");
  const accessTokens = [...new Set(api.map((r) => String(r.headers["authorization"] ?? "").replace(/^Bearer /, "")).filter(Boolean))];
  assert.ok(accessTokens.length >= 2, `the API saw ${accessTokens.length} access tokens`);
  await assertNoSecrets(dataDir, [server.clientSecret, ...accessTokens], { log: lines.join(""), outcome: JSON.stringify(outcome) });
});

test("zendesk-style incremental export: after_url until end_of_stream, Basic email/token, the latest version of every ticket", async (t) => {
  const apiToken = "zd_6Hq2Wm9Xt4Ly7Bv1Nc3Ks8Pd";
  const email = "agent@example.com";
  const server = await startZendeskServer({ email, apiToken, count: 2500, faultRate: FAULTS, seed: 11 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const since = Math.min(...server.truth().map((tk) => Date.parse(tk.created_at)));
  const dt = dayOf(since);
  const { outcome, lines } = await runJob(zendeskTickets, dt, dataDir, { ZENDESK_URL: server.url, ZENDESK_EMAIL: email, ZENDESK_API_TOKEN: apiToken });

  const start = Date.parse(`${dt}T00:00:00Z`);
  const truth = server.truth().filter((tk) => Date.parse(tk.updated_at) >= start).sort((a, b) => a.id - b.id);
  assert.ok(truth.length > 1000, `${truth.length} tickets span pages of 1000`);
  const got = await rows(dataDir, "select id, status, updated_at from zendesk_tickets order by id");
  assert.deepEqual(got, truth.map((tk) => [tk.id, tk.status, new Date(tk.updated_at).toISOString()]));
  const basic = Buffer.from(`${email}/token:${apiToken}`).toString("base64");
  assert.ok(server.requests().some((r) => r.headers["authorization"] === `Basic ${basic}`), "Basic credentials are email/token:api_token");
  await assertNoSecrets(dataDir, [apiToken, basic], { log: lines.join(""), outcome: JSON.stringify(outcome) });
});

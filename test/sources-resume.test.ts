/**
 * Each API style of jobs/examples/ (record cursor, next URL, Link header, body token), run as a real `sluice` process that is SIGKILLed after its second
 * landed page, then run again: the rerun resumes from the landed pages (the first page is never
 * asked for again) and the table equals the server's records.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import type { LoggedRequest } from "./fixtures/apis/common.ts";
import { startGithubServer } from "./fixtures/apis/github.ts";
import { startGraphServer } from "./fixtures/apis/graph.ts";
import { startHubspotServer } from "./fixtures/apis/hubspot.ts";
import { startStripeServer } from "./fixtures/apis/stripe.ts";
import { startZendeskServer } from "./fixtures/apis/zendesk.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const EXAMPLES = path.resolve(import.meta.dirname, "..", "jobs", "examples");

interface Case {
  job: string;
  dt: string;
  env: Record<string, string>;
  /** The API's requests for the first page of the listing. */
  firstPage: (r: LoggedRequest) => boolean;
  /** The table as the server says it must be, and the same query against the warehouse. */
  expected: () => unknown[][];
  sql: string;
}

/** Kills a run after its second page, reruns it, and checks the rerun resumed and the table is exact. */
async function killAndResume(dataDir: string, c: Case, requests: () => LoggedRequest[]): Promise<void> {
  const args = ["run", c.job, "--date", c.dt, "--jobs-dir", EXAMPLES, "--data-dir", dataDir];
  const killed = await runSluice(args, { ...c.env, SLUICE_FAILPOINT: "extract.page-2" });
  assert.equal(killed.signal, "SIGKILL", `${c.job}: the run should have been killed (exit ${killed.code}: ${killed.stderr})`);
  const firstBefore = requests().filter(c.firstPage).length;
  assert.ok(firstBefore >= 1, `${c.job}: the killed run fetched the first page`);
  const rerun = await runSluice(args, c.env);
  assert.equal(rerun.code, 0, `${c.job}: ${rerun.stderr}`);
  assert.equal(requests().filter(c.firstPage).length, firstBefore, `${c.job}: the rerun asked for the first page again instead of resuming`);
  const got = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, c.sql)).rows);
  assert.deepEqual(got, c.expected(), `${c.job}: the table differs from the server's records`);
}

function byKey(a: unknown[], b: unknown[]): number {
  const x = String(a[0]);
  const y = String(b[0]);
  return x < y ? -1 : x > y ? 1 : 0;
}

test("stripe-style charges resume after a SIGKILL mid-listing and load exactly the day's charges", async (t) => {
  const apiKey = "sk_test_0a9b8c7d6e5f4a3b2c1d";
  const server = await startStripeServer({ apiKey, count: 900, faultRate: 0.2, seed: 21, days: ["2024-07-01"] });
  t.after(() => server.close());
  await killAndResume(await tempDataDir(t), {
    job: "stripe_charges",
    dt: "2024-07-01",
    env: { STRIPE_API_URL: server.url, STRIPE_API_KEY: apiKey },
    firstPage: (r) => r.path === "/v1/charges" && r.query["starting_after"] === undefined && r.status === 200,
    expected: () => server.truth().map((c) => [c.id, c.amount]).sort(byKey),
    sql: "select id, amount from charges order by id",
  }, () => server.requests());
});

test("graph-style users resume after a SIGKILL mid-listing, with a fresh token, and load every user", async (t) => {
  const server = await startGraphServer({ count: 420, faultRate: 0.2, seed: 22 });
  t.after(() => server.close());
  const env = { GRAPH_API_URL: server.url, GRAPH_TOKEN_URL: server.tokenUrl, GRAPH_CLIENT_ID: server.clientId, GRAPH_CLIENT_SECRET: server.clientSecret };
  await killAndResume(await tempDataDir(t), {
    job: "graph_users",
    dt: "2024-07-01",
    env,
    firstPage: (r) => r.server === "api" && r.query["$skiptoken"] === undefined && r.status === 200,
    expected: () => server.truth().map((u) => [u.id, u.userPrincipalName]).sort(byKey),
    sql: "select id, userPrincipalName from graph_users order by id",
  }, () => server.requests());
});

test("zendesk-style exports resume after a SIGKILL mid-stream and keep the latest version of every ticket", async (t) => {
  const email = "agent@example.com";
  const apiToken = "zd_1Qa2Ws3Ed4Rf5Tg6Yh";
  const server = await startZendeskServer({ email, apiToken, count: 3200, faultRate: 0.2, seed: 23 });
  t.after(() => server.close());
  const since = Math.min(...server.truth().map((tk) => Date.parse(tk.created_at)));
  const dt = new Date(since).toISOString().slice(0, 10);
  await killAndResume(await tempDataDir(t), {
    job: "zendesk_tickets",
    dt,
    env: { ZENDESK_URL: server.url, ZENDESK_EMAIL: email, ZENDESK_API_TOKEN: apiToken },
    firstPage: (r) => r.query["start_time"] !== undefined && r.status === 200,
    expected: () => server.truth().filter((tk) => Date.parse(tk.updated_at) >= Date.parse(`${dt}T00:00:00Z`)).map((tk) => [tk.id, tk.status]).sort((a, b) => Number(a[0]) - Number(b[0])),
    sql: "select id, status from zendesk_tickets order by id",
  }, () => server.requests());
});

test("github-style issues resume after a SIGKILL mid-listing from the landed Link position", async (t) => {
  const token = "ghp_resume_4Tq9Wz2Xc7Vb1Nm";
  const server = await startGithubServer({ token, issuesPerRepo: 420, faultRate: 0.2, seed: 24 });
  t.after(() => server.close());
  const issues = () => server.truth().issues["acme/api"] ?? [];
  const dt = new Date(Math.min(...issues().map((i) => Date.parse(i.updated_at)))).toISOString().slice(0, 10);
  await killAndResume(await tempDataDir(t), {
    job: "github_issues",
    dt,
    env: { GITHUB_API_URL: server.url, GITHUB_TOKEN: token },
    firstPage: (r) => r.path === "/repos/acme/api/issues" && r.query["page"] === undefined && r.status === 200,
    expected: () => issues().map((i) => [i.id, i.state]).sort((a, b) => Number(a[0]) - Number(b[0])),
    sql: "select id, state from github_issues order by id",
  }, () => server.requests());
});

test("hubspot-style searches resume after a SIGKILL mid-listing with the landed body token", async (t) => {
  const token = "pat-na1-resume-8c7b6a5f";
  const server = await startHubspotServer({ token, count: 6000, faultRate: 0.2, seed: 25 });
  t.after(() => server.close());
  const updated = server.truth().map((c) => Date.parse(c.properties["lastmodifieddate"] ?? ""));
  const counts = new Map<string, number>();
  for (const u of updated) counts.set(new Date(u).toISOString().slice(0, 10), (counts.get(new Date(u).toISOString().slice(0, 10)) ?? 0) + 1);
  const dt = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const start = Date.parse(`${dt}T00:00:00Z`);
  await killAndResume(await tempDataDir(t), {
    job: "hubspot_contacts",
    dt,
    env: { HUBSPOT_API_URL: server.url, HUBSPOT_TOKEN: token },
    firstPage: (r) => r.method === "POST" && (JSON.parse(r.body || "{}") as { after?: unknown }).after === undefined && r.status === 200,
    expected: () =>
      server
        .truth()
        .filter((c) => Date.parse(c.properties["lastmodifieddate"] ?? "") >= start)
        .map((c) => [c.id, c.properties["email"] ?? null])
        .sort(byKey),
    sql: "select id, email from hubspot_contacts order by id",
  }, () => server.requests());
});

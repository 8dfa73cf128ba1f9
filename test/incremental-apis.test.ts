/**
 * Incremental pulls from real-world styles: a Zendesk-style export continues from the server cursor
 * it ended at, a HubSpot-style search from its lastmodifieddate mark minus the lookback; after the
 * servers change records (records reappearing with newer versions), both converge to the server's
 * latest version of every record, asking only for what changed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition, type JobDefinition } from "../src/pipeline/index.ts";
import hubspotContacts from "../jobs/examples/hubspot-contacts.ts";
import zendeskTickets from "../jobs/examples/zendesk-tickets.ts";
import { startHubspotServer } from "./fixtures/apis/hubspot.ts";
import { startZendeskServer } from "./fixtures/apis/zendesk.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

async function run(job: JobDefinition, dt: string, dataDir: string, env: Record<string, string>): Promise<void> {
  const outcome = await runPartition(job, dt, testRunSettings(dataDir, "http://unused.invalid", env));
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
}

async function rows(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

test("a zendesk-style export continues from the cursor it ended at and converges to the latest version of every ticket", async (t) => {
  const email = "agent@example.com";
  const apiToken = "zd_inc_9Kq2Lm5Np8";
  const server = await startZendeskServer({ email, apiToken, count: 1800, faultRate: 0.2, seed: 41 });
  t.after(() => server.close());
  const env = { ZENDESK_URL: server.url, ZENDESK_EMAIL: email, ZENDESK_API_TOKEN: apiToken };
  const dataDir = await tempDataDir(t);
  const dt = new Date(Math.min(...server.truth().map((tk) => Date.parse(tk.created_at)))).toISOString().slice(0, 10);
  await run(zendeskTickets, dt, dataDir, env);
  const mark = (await rows(dataDir, "select value from sluice.state where source = 'tickets'"))[0]?.[0];
  assert.equal(typeof mark, "string", "the export's last after_cursor is the mark");

  // Changes after the first run: updated tickets reappear with newer versions, new ones arrive.
  const ids = server.truth().map((tk) => tk.id);
  for (const id of ids.slice(0, 40)) server.updateTicket(id, { status: "solved", subject: `updated ${id}` });
  server.updateTicket(ids[0] as number, { priority: "urgent" }); // changed twice: the newest version wins
  server.deleteTicket(ids[50] as number);
  for (let i = 0; i < 5; i++) server.addTicket({ subject: `new ${i}` });
  server.clearRequests();
  await run(zendeskTickets, dt, dataDir, env);

  const asked = server.requests().filter((r) => r.status === 200);
  assert.ok(asked.length >= 1 && asked.length <= 2, `the second run read only the changes (${asked.length} pages)`);
  assert.ok(asked.every((r) => r.query["start_time"] === undefined), "it continued from the stored cursor, not from start_time");
  assert.equal(server.requests()[0]?.query["cursor"], mark, "the first request carries the stored cursor");
  // A ticket the export reports deleted is deleted from the table (the job declares deleteWhen).
  const truth = server.truth().filter((tk) => tk.status !== "deleted").map((tk) => [tk.id, tk.status, tk.subject, tk.priority]).sort((a, b) => Number(a[0]) - Number(b[0]));
  assert.deepEqual(await rows(dataDir, "select id, status, subject, priority from zendesk_tickets order by id"), truth);
  assert.equal((await rows(dataDir, `select count(*) from zendesk_tickets where id = ${ids[50]}`))[0]?.[0], 0, "the deleted ticket's row is gone");
});

test("a hubspot-style search continues from its lastmodifieddate mark minus the lookback and converges to every contact's latest version", async (t) => {
  const token = "pat-na1-incremental-2d9c";
  const server = await startHubspotServer({ token, count: 2400, faultRate: 0.2, seed: 42 });
  t.after(() => server.close());
  const env = { HUBSPOT_API_URL: server.url, HUBSPOT_TOKEN: token };
  const dataDir = await tempDataDir(t);
  const oldest = Math.min(...server.truth().map((c) => Date.parse(c.properties["lastmodifieddate"] ?? "")));
  const dt = new Date(oldest).toISOString().slice(0, 10);
  await run(hubspotContacts, dt, dataDir, env);
  const mark = (await rows(dataDir, "select value from sluice.state where source = 'contacts'"))[0]?.[0] as string;
  const newest = Math.max(...server.truth().map((c) => Date.parse(c.properties["lastmodifieddate"] ?? "")));
  assert.equal(Date.parse(mark), newest, "the mark is the newest lastmodifieddate pulled");

  const ids = server.truth().map((c) => c.id);
  for (const id of ids.slice(0, 30)) server.updateContact(id, { firstname: `Changed ${id}` });
  for (let i = 0; i < 4; i++) server.addContact({ email: `new${i}@example.com`, firstname: `New ${i}` });
  server.clearRequests();
  await run(hubspotContacts, dt, dataDir, env);

  const searches = server.requests().filter((r) => r.status === 200);
  const filter = (JSON.parse(searches[0]?.body ?? "{}") as { filterGroups: Array<{ filters: Array<{ value: number }> }> }).filterGroups[0]?.filters[0]?.value;
  assert.equal(filter, Date.parse(mark) - 5 * 60_000, "the search asks from the mark minus five minutes");
  assert.ok(searches.length <= 2, `only what changed was read (${searches.length} pages)`);
  const truth = server.truth().map((c) => [c.id, c.properties["firstname"] ?? null, c.properties["email"] ?? null]);
  const sorted = truth.sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0));
  assert.deepEqual(await rows(dataDir, "select id, firstname, email from hubspot_contacts order by id"), sorted);
});

/**
 * Fields a record schema does not declare are not lost: by default each row keeps them as JSON in
 * `_extra` (queryable with `_extra->>'key'`); a source may instead warn (drop and report) or block
 * (fail the partition naming the fields). Drift is a sluice.checks row either way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { startDemoApi } from "../src/demo-api/index.ts";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../src/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import events from "../jobs/events.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

async function rows(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

test("the events job keeps the demo API's undeclared fields in _extra, queryable with ->>, and still reports the drift", async (t) => {
  const api = await startDemoApi({ eventsPerDay: 20_000, seed: 71 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  const outcome = await runPartition(events, "2026-11-19", testRunSettings(dataDir, api.url));
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  const extra = await rows(
    dataDir,
    "select count(*), count(*) filter (where json_keys(_extra) = ['properties']), count(*) filter (where _extra->'properties'->>'referrer' is not null), count(*) filter (where _extra->'properties'->'utm'->>'campaign' = 'black-friday') from events where _extra is not null",
  );
  const [kept, underProperties, referrers, campaigns] = (extra[0] ?? []).map(Number);
  assert.ok((kept ?? 0) > 0, "some events carry undeclared fields");
  assert.equal(underProperties, kept, "every kept field is an undeclared properties.* field, nested as it came");
  assert.ok((referrers ?? 0) > 0 && (campaigns ?? 0) > 0, `drifted fields are queryable (${referrers} referrers, ${campaigns} campaigns)`);
  const drift = await rows(dataDir, "select passed, columns from sluice.checks where check_name = 'schema drift: no unknown fields'");
  assert.equal(drift[0]?.[0], false);
  assert.match(String(drift[0]?.[1]), /properties\.referrer/);
});

const Item = z.object({ id: z.int(), name: z.string() });

async function itemsServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [{ id: 1, name: "a", color: "red", dims: { w: 2 } }, { id: 2, name: "b" }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

function itemsJob(unknownFields: "keep" | "warn" | "block") {
  const source = defineSource({ name: "items", baseUrl: { env: "ITEMS_URL" }, path: "/items", records: "data", paginator: { kind: "single" }, schema: Item, unknownFields });
  const ITEMS = tableFromRecord(Item, { name: "items", key: ["id"], partitioned: false });
  const suite = defineSuite({ table: ITEMS, checks: [] });
  return defineJob({
    name: `items_${unknownFields}`,
    description: "items",
    tables: [ITEMS],
    async run(ctx) {
      await ctx.materialize(ITEMS, await ctx.validate(await ctx.extract(source), suite));
    },
  });
}

test("unknownFields keep stores them, warn drops and reports them, block fails the partition naming them", async (t) => {
  const server = await itemsServer();
  t.after(() => server.close());
  const results: Record<string, unknown> = {};
  for (const mode of ["keep", "warn", "block"] as const) {
    const dataDir = await tempDataDir(t);
    const outcome = await runPartition(itemsJob(mode), "2026-11-20", testRunSettings(dataDir, "http://unused.invalid", { ITEMS_URL: server.url }));
    if (mode === "block") {
      assert.equal(outcome.status, "failed");
      assert.match(outcome.error ?? "", /source items sent fields its schema does not declare: color, dims \(it declares unknownFields: "block"\)/);
      continue;
    }
    assert.equal(outcome.status, "succeeded", outcome.error ?? "");
    results[mode] = await rows(dataDir, "select id, _extra->>'color', _extra->'dims'->>'w' from items order by id");
    assert.deepEqual((await rows(dataDir, "select passed from sluice.checks where check_name like 'schema drift%'"))[0], [false], `${mode}: drift reported`);
  }
  assert.deepEqual(results["keep"], [[1, "red", "2"], [2, null, null]]);
  assert.deepEqual(results["warn"], [[1, null, null], [2, null, null]]);
});

test("deletions the API reports as rows delete the row when the table declares deleteWhen, and keep it with its flag otherwise", async (t) => {
  let archived = false;
  const server = createServer((_req, res) => {
    const records = [{ id: 1, name: "a", archived: false }, { id: 2, name: "b", archived }];
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: records }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const Flagged = z.object({ id: z.int(), name: z.string(), archived: z.boolean() });
  const source = defineSource({ name: "flagged", baseUrl: { env: "FLAGGED_URL" }, path: "/f", records: "data", paginator: { kind: "single" }, schema: Flagged });
  for (const mode of ["delete", "keep"] as const) {
    archived = false;
    const base = tableFromRecord(Flagged, { name: "flagged", key: ["id"], partitioned: false });
    const table = mode === "delete" ? { ...base, deleteWhen: { column: "archived", equals: true } } : base;
    const job = defineJob({ name: `flagged_${mode}`, description: "d", tables: [table], async run(ctx) { await ctx.materialize(table, (await ctx.extract(source)).frame.drop("_page", "_row", "_error")); } });
    const dataDir = await tempDataDir(t);
    const settings = testRunSettings(dataDir, "http://unused.invalid", { FLAGGED_URL: url });
    assert.equal((await runPartition(job, "2026-11-20", settings)).status, "succeeded");
    archived = true;
    assert.equal((await runPartition(job, "2026-11-21", settings)).status, "succeeded");
    const left = await rows(dataDir, "select id, archived from flagged order by id");
    assert.deepEqual(left, mode === "delete" ? [[1, false]] : [[1, false], [2, true]], mode);
  }
});

/**
 * Jobs with more than one source: each source lands under its own directory and resumes alone,
 * and a quarantined row carries the raw record of the source it came from.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pl from "nodejs-polars";
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../src/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const Item = z.object({ id: z.int(), name: z.string() });

/** A paged list of `records` at /list?page=N (pages of 5); `failFrom` makes pages from N on answer 500. */
async function listServer(records: unknown[]): Promise<{ url: string; pages: () => number[]; failFrom: (page: number | null) => void; close: () => Promise<void> }> {
  const pages: number[] = [];
  let failFrom: number | null = null;
  const server = createServer((req, res) => {
    const page = Number(new URL(req.url ?? "/", "http://x").searchParams.get("page") ?? 1);
    pages.push(page);
    if (failFrom !== null && page >= failFrom) {
      res.writeHead(500).end("down");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: records.slice((page - 1) * 5, page * 5) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pages: () => [...pages], failFrom: (p) => (failFrom = p), close: () => new Promise((r) => server.close(() => r())) };
}

const source = (name: string, env: string) =>
  defineSource({ name, baseUrl: { env }, path: "/list", records: "items", paginator: { kind: "page", pageParam: "page", firstPage: 1 }, schema: Item, policy: { retry: { maxAttempts: 1 } } });

const ITEMS = tableFromRecord(Item, { name: "items", key: ["id"], partitioned: false, extra: [{ name: "origin", type: "VARCHAR" }] });
const suite = defineSuite({ table: ITEMS, checks: [{ name: "name: not_null", kind: "not_null", column: "name", allowance: 0.2 }] });
const alpha = source("alpha", "ALPHA_URL");
const beta = source("beta", "BETA_URL");

const twoSources = defineJob({
  name: "two_sources",
  description: "Items from two APIs, one table",
  tables: [ITEMS],
  async run(ctx) {
    const a = await ctx.validate(await ctx.extract(alpha), suite);
    const b = await ctx.validate(await ctx.extract(beta), suite);
    const both = await ctx.step("union", () => pl.concat([a.withColumns(pl.lit("alpha").alias("origin")), b.withColumns(pl.lit("beta").alias("origin"))]));
    await ctx.materialize(ITEMS, both);
  },
});

test("a job with two sources resumes each from its own landing, and quarantines each bad record with its own source's raw text", async (t) => {
  const aRecords = [...Array.from({ length: 12 }, (_, i) => ({ id: i + 1, name: `a${i + 1}` })), { id: 13, name: null, from: "alpha" }];
  const bRecords = [...Array.from({ length: 14 }, (_, i) => ({ id: 101 + i, name: `b${i + 1}` })), { id: 115, note: "beta's own bad record" }];
  const [a, b] = await Promise.all([listServer(aRecords), listServer(bRecords)]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const dataDir = await tempDataDir(t);
  const settings = testRunSettings(dataDir, "http://unused.invalid", { ALPHA_URL: a.url, BETA_URL: b.url });

  // First run: alpha lands whole, beta lands pages 1-2 and then its API goes down.
  b.failFrom(3);
  const failed = await runPartition(twoSources, "2026-11-20", settings);
  assert.equal(failed.status, "failed", "beta's outage fails the run");
  const before = { a: a.pages().length, b: b.pages().length };

  b.failFrom(null);
  const healed = await runPartition(twoSources, "2026-11-20", settings);
  assert.equal(healed.status, "succeeded", healed.error ?? "");
  assert.equal(a.pages().length, before.a, "alpha, fully landed, is not asked again");
  assert.deepEqual(b.pages().slice(before.b), [3, 4], "beta resumes at its first page that did not land");

  const rows = await withWarehouse(dataDir, "read", async (conn) => ({
    items: (await query(conn, "select origin, count(*) from items group by origin order by origin")).rows,
    quarantine: (await query(conn, "select record, reason from sluice.quarantine order by record")).rows,
  }));
  assert.deepEqual(rows.items, [["alpha", 12], ["beta", 14]]);
  assert.deepEqual(rows.quarantine, [
    ['{"id":115,"note":"beta\'s own bad record"}', "name: not_null"],
    ['{"id":13,"name":null,"from":"alpha"}', "name: not_null"],
  ]);
});

test("a table's columns come from its record: types, leaf names, the key checked against them", () => {
  const Order = z.object({ id: z.string(), total: z.number(), paid: z.boolean(), at: z.iso.datetime({ offset: true }), customer: z.object({ id: z.int(), tags: z.array(z.string()) }) });
  const table = tableFromRecord(Order, { name: "orders", key: ["id"], partitioned: true, extra: [{ name: "dt", type: "DATE" }] });
  assert.deepEqual(
    table.columns.map((c) => `${c.name} ${c.type}`),
    ["id VARCHAR", "total DOUBLE", "paid BOOLEAN", "at TIMESTAMPTZ", "customer_id BIGINT", "tags VARCHAR", "dt DATE", "_extra JSON"],
  );
  assert.ok(!tableFromRecord(Order, { name: "orders", key: ["id"], partitioned: false, keepUnknown: false }).columns.some((c) => c.name === "_extra"), "keepUnknown: false drops _extra");
  assert.throws(() => tableFromRecord(Order, { name: "orders", key: ["order_id"], partitioned: false }), (e: unknown) => e instanceof Error && /key column "order_id" is not one of its columns/.test(e.message));
  assert.throws(() => tableFromRecord(Order, { name: "orders", key: ["id"], partitioned: true }), /a partitioned table needs a dt DATE column/);
  assert.throws(() => tableFromRecord(Order, { name: "or ders", key: ["id"], partitioned: false }), /plain identifier/);
});

test("a wrong job declaration fails when it loads, naming the job and the field", () => {
  const job = (over: Record<string, unknown>) => () => defineJob({ name: "fine", description: "d", tables: [ITEMS], run: async () => undefined, ...over } as never);
  assert.throws(job({ name: "Bad Name" }), /job "Bad Name": name: lowercase letters/);
  assert.throws(job({ tables: [] }), /job "fine": tables: a job writes at least one table/);
  assert.throws(job({ reads: { items: { from: 1, to: 2 } } }), /job "fine": reads\.items\.from/);
  assert.throws(job({ tables: [ITEMS, ITEMS] }), /table "items" is listed twice/);
  assert.throws(job({ run: "not a function" }), /run: expected a function/);
});

/**
 * The schema contract end to end: a real job extracts from a loopback API that stops sending a
 * field in some records, and its presence check (absent in more than a declared share) warns or
 * blocks as declared, with its sluice.checks row; a field sent as explicit null is present, so
 * only a not_null check sees it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../src/index.ts";
import type { CheckInput } from "../src/validate/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { serveHttp } from "./support/net.ts";
import { testRunSettings } from "./support/settings.ts";

const DAY = "2026-11-20";
const RECORDS = 20;
const Item = z.object({ id: z.int(), page: z.string().nullish() });

/** How the server treats `page` in the records it changes: leave the key out, or send it as null. */
type Change = "drop" | "null";

/** An API whose records 0..changed-1 lose their `page` as `change` says; the others send it. */
async function itemsApi(t: test.TestContext, change: Change, changed: number): Promise<string> {
  const server = await serveHttp((_req, res) => {
    const data = Array.from({ length: RECORDS }, (_, id) => {
      if (id >= changed) return { id, page: `/p/${id}` };
      return change === "drop" ? { id } : { id, page: null };
    });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
  });
  t.after(() => server.close());
  return server.url;
}

function itemsJob(checks: CheckInput[]) {
  const source = defineSource({ name: "items", baseUrl: { env: "ITEMS_URL" }, path: "/items", records: "data", paginator: { kind: "single" }, schema: Item });
  const ITEMS = tableFromRecord(Item, { name: "items", key: ["id"], partitioned: false });
  const suite = defineSuite({ table: ITEMS, checks });
  return defineJob({
    name: "presence_items",
    description: "items whose page field may stop being sent",
    tables: [ITEMS],
    async run(ctx) {
      await ctx.materialize(ITEMS, await ctx.validate(await ctx.extract(source), suite));
    },
  });
}

const sent = (severity: "warn" | "error"): CheckInput => ({ name: "page: sent", kind: "presence", column: "page", maxAbsent: 0.1, severity });

async function run(t: test.TestContext, change: Change, changed: number, checks: CheckInput[]) {
  const dataDir = await tempDataDir(t);
  const url = await itemsApi(t, change, changed);
  const outcome = await runPartition(itemsJob(checks), DAY, testRunSettings(dataDir, "http://unused.invalid", { ITEMS_URL: url }));
  const rows = await withWarehouse(dataDir, "read", async (conn) => {
    const checkRows = (await query(conn, "select check_name, passed, action, observed, detail from sluice.checks order by check_name")).rows;
    const loaded = await query(conn, "select count(*) from items").catch(() => ({ rows: [[null]] }));
    return { checkRows, loaded: loaded.rows[0]?.[0] === null ? null : Number(loaded.rows[0]?.[0]) };
  });
  const byName = new Map(rows.checkRows.map((r) => [String(r[0]), { passed: r[1], action: r[2], observed: r[3] === null ? null : Number(r[3]), detail: r[4] }]));
  return { outcome, checks: byName, loaded: rows.loaded };
}

test("a field the API stops sending in more than the declared share warns when declared warn: the partition loads and the check row says so", async (t) => {
  const { outcome, checks, loaded } = await run(t, "drop", 3, [sent("warn")]);
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.equal(loaded, RECORDS);
  const row = checks.get("page: sent");
  assert.deepEqual([row?.passed, row?.observed], [false, 3 / RECORDS]);
  assert.match(String(row?.detail), /page was absent from 3 of 20 records \(15\.0%\), more than 10\.0%/);
});

test("a field the API stops sending in more than the declared share blocks the partition when declared error: nothing loads", async (t) => {
  const { outcome, checks, loaded } = await run(t, "drop", 3, [sent("error")]);
  assert.equal(outcome.status, "failed");
  assert.match(outcome.error ?? "", /page: sent/);
  assert.equal(loaded ?? 0, 0, "a blocked partition loads no rows");
  const row = checks.get("page: sent");
  assert.deepEqual([row?.passed, row?.action, row?.observed], [false, "block", 3 / RECORDS]);
});

test("a field absent from no more than the declared share passes the presence check", async (t) => {
  const { outcome, checks } = await run(t, "drop", 2, [sent("error")]);
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.deepEqual([checks.get("page: sent")?.passed, checks.get("page: sent")?.observed], [true, 2 / RECORDS]);
});

test("a field sent as explicit null is not absent: the presence check passes and only not_null fails", async (t) => {
  const notNull: CheckInput = { name: "page: not_null", kind: "not_null", column: "page", severity: "warn" };
  const { outcome, checks, loaded } = await run(t, "null", 3, [sent("error"), notNull]);
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.equal(loaded, RECORDS);
  assert.deepEqual([checks.get("page: sent")?.passed, checks.get("page: sent")?.observed], [true, 0]);
  assert.equal(checks.get("page: not_null")?.passed, false);
});

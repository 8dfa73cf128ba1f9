/**
 * Arrays of objects in records: decoded to List(Struct) with per-field type checks, turned into a
 * child table with one helper call, and merged with the parent in one transaction (a Stripe-style
 * charge's refunds, including refunds added after the first run).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { z } from "zod";
import { batchesToFrame, decodeRecords, deriveColumns } from "../src/extract/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { listRows, runPartition } from "../src/pipeline/index.ts";
import stripeCharges from "../jobs/examples/stripe-charges.ts";
import { startStripeServer, type StripeHandle } from "./fixtures/apis/stripe.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const Order = z.object({ id: z.string(), lines: z.array(z.object({ sku: z.string(), qty: z.int(), at: z.iso.datetime({ offset: true }).nullish(), meta: z.object({ note: z.string() }).nullish() })) });

test("an array of objects decodes to List(Struct) with typed fields; a wrong-typed element field is the record's decode issue", () => {
  const { columns } = deriveColumns(Order);
  assert.deepEqual(columns.map((c) => [c.name, c.kind]), [["id", "utf8"], ["lines", "list"]]);
  const records = [
    { id: "o1", lines: [{ sku: "a", qty: 2, at: "2026-11-20T10:00:00.123456Z" }, { sku: "b", qty: 1, meta: { note: "gift" } }] },
    { id: "o2", lines: [] },
    { id: "o3", lines: null },
    { id: "o4", lines: [{ sku: "c", qty: 1 }, { sku: "d", qty: "three" }] },
    { id: "o5", lines: [1] },
  ];
  const frame = batchesToFrame([decodeRecords(records, columns, 1)], columns);
  const expected = pl.List(pl.Struct([new pl.Field("sku", pl.String), new pl.Field("qty", pl.Int64), new pl.Field("at", pl.Datetime("us", "UTC")), new pl.Field("meta", pl.String)]));
  assert.equal(String(frame.schema["lines"]), String(expected));
  assert.deepEqual(frame.getColumn("_error").toArray(), [null, null, null, 'lines[1].qty: expected integer, got string "three"', "lines[0]: expected object, got number 1"]);
  const rows = listRows(frame.filter(pl.col("_error").isNull()), { list: "lines", keep: { order_id: "id" } });
  assert.deepEqual(rows.columns, ["order_id", "position", "sku", "qty", "at", "meta"]);
  assert.deepEqual(
    rows.select("order_id", "position", "sku", "qty", "meta").toRecords(),
    [
      { order_id: "o1", position: 0, sku: "a", qty: 2, meta: null },
      { order_id: "o1", position: 1, sku: "b", qty: 1, meta: '{"note":"gift"}' },
    ],
  );
  assert.equal(String(rows.schema["qty"]), String(pl.Int64));
  assert.equal((rows.getColumn("at").toArray()[0] as unknown as Date).toISOString(), "2026-11-20T10:00:00.123Z");
});

const API_KEY = "sk_test_nested_4b8d2f";
const DT = "2024-07-02";

function refundsTruth(server: StripeHandle): unknown[][] {
  const start = Date.parse(`${DT}T00:00:00Z`) / 1000;
  return server
    .truth()
    .filter((c) => c.created >= start && c.created < start + 86_400)
    .flatMap((c) => c.refunds.data.map((r, i) => [c.id, i, r.id, r.amount]))
    .sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : Number(a[1]) - Number(b[1])));
}

async function refunds(dataDir: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, "select charge_id, position, id, amount from charge_refunds order by charge_id, position")).rows);
}

test("stripe-style refunds.data becomes a charge_refunds child table equal to the server, including refunds added later", async (t) => {
  const server = await startStripeServer({ apiKey: API_KEY, count: 300, faultRate: 0.2, seed: 61 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const settings = testRunSettings(dataDir, "http://unused.invalid", { STRIPE_API_URL: server.url, STRIPE_API_KEY: API_KEY });
  assert.equal((await runPartition(stripeCharges, DT, settings)).status, "succeeded");
  const first = refundsTruth(server);
  assert.ok(first.length > 5, `${first.length} refunds to load`);
  assert.deepEqual(await refunds(dataDir), first);

  const start = Date.parse(`${DT}T00:00:00Z`) / 1000;
  const dayCharges = server.truth().filter((c) => c.created >= start && c.created < start + 86_400);
  for (const c of dayCharges.slice(0, 6)) server.addRefund(c.id, { amount: 100 });
  const outcome = await runPartition(stripeCharges, DT, settings);
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");
  assert.deepEqual(await refunds(dataDir), refundsTruth(server), "refunds added later are loaded on the day's rerun");
  assert.ok(refundsTruth(server).length >= first.length + 6);
  const charges = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "select count(*), sum(amount_refunded) from charges")).rows);
  assert.deepEqual(charges[0], [dayCharges.length, server.truth().filter((c) => c.created >= start && c.created < start + 86_400).reduce((s, c) => s + c.amount_refunded, 0)]);
});

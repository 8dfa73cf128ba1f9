// jobs/orders.ts (this example compiles as jobs/examples/orders.ts)
import pl from "nodejs-polars";
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

// The record as the API sends it: decoding into Arrow columns follows these types, and the
// table's columns come from it too.
const Order = z.object({ id: z.string(), amount: z.number(), created_at: z.iso.datetime({ offset: true }) });

const orders = defineSource({
  name: "orders",
  baseUrl: { default: "https://api.example.com", env: "ORDERS_API_URL" },
  path: "/v2/orders",
  params: (w) => ({ since: w.startIso, until: w.endIso }), // bound to the partition's day
  records: "items",
  paginator: { kind: "link" }, // or cursor / record_cursor / next_url / header_cursor / offset / page / body_token / single
  schema: Order,
  auth: { kind: "header", header: "X-API-Key", env: "ORDERS_API_KEY" },
});

const ORDERS = tableFromRecord(Order, { name: "orders", key: ["id"], partitioned: true, extra: [{ name: "dt", type: "DATE" }] });

const ordersSuite = defineSuite({
  table: ORDERS,
  checks: [
    { name: "id: not_null", kind: "not_null", column: "id" },
    { name: "amount: >= 0", kind: "compare", column: "amount", op: "ge", value: 0 },
  ],
});

export default defineJob({
  name: "orders",
  description: "Orders of one UTC day",
  tables: [ORDERS],
  async run(ctx) {
    // 1. Extract
    const raw = await ctx.extract(orders);
    // 2. Validate: failing rows go to sluice.quarantine with the raw record; `onFail: "block"` checks stop the load
    const valid = await ctx.validate(raw, ordersSuite);
    // 3. Transform
    const day = await ctx.step("add dt", () => valid.withColumns(pl.lit(ctx.window.start).cast(pl.Date).alias("dt")));
    // 4. Materialize: atomic Parquet partition, then one MERGE in one transaction
    await ctx.materialize(ORDERS, day);
  },
});

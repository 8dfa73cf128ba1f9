/** An example job (not registered): the README's "Writing a job", kept compiling by the typecheck. */
import pl from "nodejs-polars";
import { z } from "zod";
import type { SourceSpec } from "../../src/extract/types.ts";
import type { TableSpec } from "../../src/load/types.ts";
import { defineJob } from "../../src/pipeline/job.ts";
import { defineSuite } from "../../src/validate/index.ts";

// The record as the API sends it: decoding into Arrow columns follows these types.
const Order = z.object({ id: z.string(), amount: z.number(), created_at: z.iso.datetime({ offset: true }) });

const ordersSource: SourceSpec<typeof Order> = {
  name: "orders",
  path: "/v2/orders",
  params: (w) => ({ since: w.startIso, until: w.endIso }),   // bound to the partition's day
  recordsPath: "items",
  paginator: { kind: "link" },                                 // or cursor / offset / page
  schema: Order,
  auth: { kind: "header", header: "X-API-Key", env: "ORDERS_API_KEY" },
};

const ORDERS: TableSpec = {
  name: "orders",
  partitioned: true,
  key: ["id"],
  columns: [
    { name: "id", type: "VARCHAR" },
    { name: "amount", type: "DOUBLE" },
    { name: "created_at", type: "TIMESTAMPTZ" },
    { name: "dt", type: "DATE" },
  ],
};

const ordersSuite = defineSuite({
  table: "orders",
  key: ["id"],
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
    const raw = await ctx.extract(ordersSource);
    // 2. Validate: failing rows go to sluice.quarantine; `onFail: "block"` checks stop the load
    const valid = await ctx.validate("orders", raw, ordersSuite);
    // 3. Transform
    const orders = await ctx.transform("add dt", () => valid.withColumns(pl.lit(new Date(ctx.window.start)).cast(pl.Date).alias("dt")));
    // 4. Materialize: atomic Parquet partition, then one MERGE in one transaction
    await ctx.materialize([{ table: ORDERS, partitions: new Map([[ctx.dt, orders]]) }]);
  },
});

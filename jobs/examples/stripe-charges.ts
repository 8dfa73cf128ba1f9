/**
 * Stripe-style: charges created on a UTC day, `starting_after` + `has_more`, newest first, a required
 * API version header; each charge's refunds (an array of objects in the record) become the rows of
 * a child table keyed by the charge and the refund's position.
 */
import pl from "nodejs-polars";
import { z } from "zod";
import { defineJob, defineSource, defineSuite, defineTable, listRows, tableFromRecord } from "../../src/index.ts";

const Refund = z.object({ id: z.string(), amount: z.int(), status: z.string(), created: z.int() });

const Charge = z.object({
  id: z.string(),
  amount: z.int(),
  amount_refunded: z.int(),
  currency: z.string(),
  created: z.int(),
  customer: z.string().nullable(),
  status: z.enum(["succeeded", "pending", "failed"]),
  metadata: z.record(z.string(), z.string()),
  refunds: z.looseObject({ data: z.array(Refund) }),
});

const charges = defineSource({
  name: "charges",
  baseUrl: { default: "https://api.stripe.com", env: "STRIPE_API_URL" },
  path: "/v1/charges",
  params: (w) => ({ "created[gte]": w.startEpoch, "created[lt]": w.endEpoch, limit: 100 }),
  headers: { "Stripe-Version": "2024-06-20" },
  auth: { kind: "bearer", env: "STRIPE_API_KEY" },
  records: "data",
  paginator: { kind: "record_cursor", field: "id", param: "starting_after", hasMorePath: "has_more" },
  schema: Charge,
});

const day = [{ name: "dt", type: "DATE" }];
/** The charges, without their refunds (refunds.data is the child table below). */
export const CHARGES = tableFromRecord(Charge, { name: "charges", key: ["id"], partitioned: true, omit: ["data"], extra: day });
/** One row per refund of a charge of the day: a refund gone from its charge is gone from the table. */
export const CHARGE_REFUNDS = defineTable({
  name: "charge_refunds",
  key: ["charge_id", "position"],
  partitioned: true,
  columns: [{ name: "charge_id", type: "VARCHAR" }, { name: "position", type: "INTEGER" }, { name: "id", type: "VARCHAR" }, { name: "amount", type: "BIGINT" }, { name: "status", type: "VARCHAR" }, { name: "created", type: "BIGINT" }, ...day],
});

const suite = defineSuite({
  table: CHARGES,
  checks: [
    { name: "id: not_null", kind: "not_null", column: "id" },
    { name: "amount: >= 0", kind: "compare", column: "amount", op: "ge", value: 0 },
  ],
});

export default defineJob({
  name: "stripe_charges",
  description: "Stripe charges created on one UTC day, and their refunds.",
  tables: [CHARGES, CHARGE_REFUNDS],
  async run(ctx) {
    const raw = await ctx.extract(charges);
    const valid = await ctx.validate(raw, suite);
    const dated = await ctx.step("day of created", () => valid.withColumns(pl.col("created").mul(1000).cast(pl.Datetime("ms")).cast(pl.Date).alias("dt")));
    const refunds = await ctx.step("refunds as rows", () => listRows(dated, { list: "data", keep: { charge_id: "id", dt: "dt" } }));
    await ctx.materialize([
      { table: CHARGES, frame: dated },
      { table: CHARGE_REFUNDS, frame: refunds },
    ]);
  },
});

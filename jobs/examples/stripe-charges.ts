/** Stripe-style: charges created on a UTC day, `starting_after` + `has_more`, newest first, a required API version header. */
import pl from "nodejs-polars";
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

const Charge = z.object({
  id: z.string(),
  amount: z.int(),
  amount_refunded: z.int(),
  currency: z.string(),
  created: z.int(),
  customer: z.string().nullable(),
  status: z.enum(["succeeded", "pending", "failed"]),
  metadata: z.record(z.string(), z.string()),
  refunds: z.looseObject({ data: z.array(z.looseObject({ id: z.string(), amount: z.int() })) }),
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

export const CHARGES = tableFromRecord(Charge, { name: "charges", key: ["id"], partitioned: true, extra: [{ name: "dt", type: "DATE" }] });

const suite = defineSuite({
  table: CHARGES,
  checks: [
    { name: "id: not_null", kind: "not_null", column: "id" },
    { name: "amount: >= 0", kind: "compare", column: "amount", op: "ge", value: 0 },
  ],
});

export default defineJob({
  name: "stripe_charges",
  description: "Stripe charges created on one UTC day.",
  tables: [CHARGES],
  async run(ctx) {
    const raw = await ctx.extract(charges);
    const valid = await ctx.validate(raw, suite);
    const day = await ctx.step("day of created", () => valid.withColumns(pl.col("created").mul(1000).cast(pl.Datetime("ms")).cast(pl.Date).alias("dt")));
    await ctx.materialize(CHARGES, day);
  },
});

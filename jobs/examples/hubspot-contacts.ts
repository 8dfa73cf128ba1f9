/**
 * HubSpot-style: contacts modified since the last run (lastmodifieddate, five minutes of lookback;
 * the first run starts at the partition's day) through the search endpoint, a POST whose body
 * carries the `after` token.
 */
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

const Contact = z.object({
  id: z.string(),
  properties: z.object({ email: z.string().nullable(), firstname: z.string().nullable(), lastname: z.string().nullable(), lastmodifieddate: z.iso.datetime({ offset: true }) }),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});

const contacts = defineSource({
  name: "contacts",
  baseUrl: { default: "https://api.hubapi.com", env: "HUBSPOT_API_URL" },
  path: "/crm/v3/objects/contacts/search",
  method: "POST",
  body: (w, from) => ({
    filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE", value: Date.parse(from.since ?? w.startIso) }] }],
    sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }],
    properties: ["email", "firstname", "lastname", "lastmodifieddate"],
    limit: 100,
  }),
  auth: { kind: "bearer", env: "HUBSPOT_TOKEN" },
  records: "results",
  paginator: { kind: "body_token", nextPath: "paging.next.after", bodyPath: "after", absentAtEnd: true },
  schema: Contact,
  incremental: { field: ["properties", "lastmodifieddate"], lookback: 5 * 60_000 },
});

/** The latest version of every contact. */
export const CONTACTS = tableFromRecord(Contact, { name: "hubspot_contacts", key: ["id"], partitioned: false, versionColumn: "updatedAt" });

const suite = defineSuite({ table: CONTACTS, checks: [{ name: "id: not_null", kind: "not_null", column: "id" }] });

export default defineJob({
  name: "hubspot_contacts",
  description: "HubSpot contacts modified since the last run, upserted by id.",
  tables: [CONTACTS],
  async run(ctx) {
    const raw = await ctx.extract(contacts);
    await ctx.materialize(CONTACTS, await ctx.validate(raw, suite));
  },
});

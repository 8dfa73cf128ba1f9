/** HubSpot-style: contacts modified on a UTC day through the search endpoint, a POST whose body carries the `after` token. */
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
  body: (w) => ({
    filterGroups: [{ filters: [{ propertyName: "lastmodifieddate", operator: "GTE", value: w.start.getTime() }, { propertyName: "lastmodifieddate", operator: "LT", value: w.end.getTime() }] }],
    sorts: [{ propertyName: "lastmodifieddate", direction: "ASCENDING" }],
    properties: ["email", "firstname", "lastname", "lastmodifieddate"],
    limit: 100,
  }),
  auth: { kind: "bearer", env: "HUBSPOT_TOKEN" },
  records: "results",
  paginator: { kind: "body_token", nextPath: "paging.next.after", bodyPath: "after", absentAtEnd: true },
  schema: Contact,
});

/** The latest version of every contact. */
export const CONTACTS = tableFromRecord(Contact, { name: "hubspot_contacts", key: ["id"], partitioned: false, versionColumn: "updatedAt" });

const suite = defineSuite({ table: CONTACTS, checks: [{ name: "id: not_null", kind: "not_null", column: "id" }] });

export default defineJob({
  name: "hubspot_contacts",
  description: "HubSpot contacts modified on one UTC day, upserted by id.",
  tables: [CONTACTS],
  async run(ctx) {
    const raw = await ctx.extract(contacts);
    await ctx.materialize(CONTACTS, await ctx.validate(raw, suite));
  },
});

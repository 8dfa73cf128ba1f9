/** Microsoft Graph-style: every user, `@odata.nextLink` pages, OAuth2 client credentials refreshed mid-listing. */
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

const User = z.object({
  id: z.string(),
  displayName: z.string(),
  mail: z.string().nullable(),
  userPrincipalName: z.string(),
  jobTitle: z.string().nullable(),
  businessPhones: z.array(z.string()),
});

const users = defineSource({
  name: "users",
  baseUrl: { default: "https://graph.microsoft.com", env: "GRAPH_API_URL" },
  path: "/v1.0/users",
  params: () => ({ $top: 100 }),
  auth: {
    kind: "oauth2_client_credentials",
    tokenUrl: { env: "GRAPH_TOKEN_URL" }, // https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
    clientId: { env: "GRAPH_CLIENT_ID" },
    clientSecret: { env: "GRAPH_CLIENT_SECRET" },
    scope: "https://graph.microsoft.com/.default",
  },
  records: "value",
  // a key with a dot in it: a list of keys (or the JSON Pointer "/@odata.nextLink")
  paginator: { kind: "next_url", nextPath: ["@odata.nextLink"], absentAtEnd: true },
  schema: User,
});

/** The directory as of each run; rows are upserted by id. */
export const DIRECTORY = tableFromRecord(User, { name: "graph_users", key: ["id"], partitioned: false });

const suite = defineSuite({ table: DIRECTORY, checks: [{ name: "userPrincipalName: not_null", kind: "not_null", column: "userPrincipalName" }] });

export default defineJob({
  name: "graph_users",
  description: "Microsoft Graph users (the whole directory each run), upserted by id.",
  tables: [DIRECTORY],
  async run(ctx) {
    const raw = await ctx.extract(users);
    await ctx.materialize(DIRECTORY, await ctx.validate(raw, suite));
  },
});

/** GitHub-style: a repository's issues updated since a day began, `Link` header pages, rate-limit 403s waited out. */
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

const Issue = z.object({
  id: z.int(),
  number: z.int(),
  title: z.string(),
  state: z.enum(["open", "closed"]),
  user: z.object({ login: z.string() }),
  labels: z.array(z.object({ name: z.string() })),
  comments: z.int(),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
  closed_at: z.iso.datetime({ offset: true }).nullable(),
});

const issues = defineSource({
  name: "issues",
  baseUrl: { default: "https://api.github.com", env: "GITHUB_API_URL" },
  path: "/repos/acme/api/issues",
  params: (w) => ({ state: "all", since: w.startIso, per_page: 100, sort: "updated", direction: "asc" }),
  headers: { "X-GitHub-Api-Version": "2022-11-28", accept: "application/vnd.github+json" },
  auth: { kind: "bearer", env: "GITHUB_TOKEN" },
  records: "",
  paginator: { kind: "link" },
  responses: { rateLimitStatuses: [403], rateLimitHeaders: { remaining: "x-ratelimit-remaining", reset: "x-ratelimit-reset", resetKind: "epoch" } },
  schema: Issue,
});

/** The latest version of every issue (a row only moves forward in updated_at). */
export const ISSUES = tableFromRecord(Issue, { name: "github_issues", key: ["id"], partitioned: false, versionColumn: "updated_at" });

const suite = defineSuite({ table: ISSUES, checks: [{ name: "title: not_null", kind: "not_null", column: "title" }] });

export default defineJob({
  name: "github_issues",
  description: "Issues of acme/api updated since the start of a UTC day, upserted by id.",
  tables: [ISSUES],
  async run(ctx) {
    const raw = await ctx.extract(issues);
    await ctx.materialize(ISSUES, await ctx.validate(raw, suite));
  },
});

/**
 * GitHub-style parent/child resources: an organisation's repos, each repo's issues (only those
 * updated since the last run), each changed issue's comments. A repo whose issues answer 404 (no
 * access, disabled) lists nothing instead of failing the run.
 */
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord, type SourceSpec } from "../../src/index.ts";

const timestamp = z.iso.datetime({ offset: true });
const Repo = z.object({ id: z.int(), name: z.string(), full_name: z.string(), private: z.boolean(), updated_at: timestamp });
const Issue = z.object({ id: z.int(), number: z.int(), title: z.string(), state: z.enum(["open", "closed"]), user: z.object({ login: z.string() }), comments: z.int(), updated_at: timestamp });
const Comment = z.object({ id: z.int(), body: z.string(), user: z.object({ login: z.string() }), created_at: timestamp, updated_at: timestamp });

/** What every GitHub listing shares: the API, its token, Link pages, its rate limits, 404 as "nothing here". */
const github = {
  baseUrl: { default: "https://api.github.com", env: "GITHUB_API_URL" },
  headers: { "X-GitHub-Api-Version": "2022-11-28" },
  auth: { kind: "bearer", env: "GITHUB_TOKEN" },
  records: "",
  paginator: { kind: "link" },
  responses: { empty: [404], rateLimitStatuses: [403] },
} satisfies Partial<SourceSpec>;

const repos = defineSource({ ...github, name: "repos", path: "/orgs/acme/repos", params: () => ({ per_page: 100 }), schema: Repo });

const issues = defineSource({
  ...github,
  name: "issues",
  path: "/repos/{full_name}/issues",
  parent: { copy: { repo: "full_name" } },
  params: (_w, from) => ({ state: "all", per_page: 100, ...(from.since === undefined ? {} : { since: from.since }) }),
  incremental: { field: "updated_at" },
  schema: Issue,
});

const comments = defineSource({
  ...github,
  name: "comments",
  path: "/repos/{repo}/issues/{number}/comments",
  parent: { copy: { repo: "repo", issue_id: "id" } },
  params: (_w, from) => ({ per_page: 100, ...(from.since === undefined ? {} : { since: from.since }) }),
  incremental: { field: "updated_at" },
  schema: Comment,
});

export const REPOS = tableFromRecord(Repo, { name: "github_repos", key: ["id"], partitioned: false, versionColumn: "updated_at" });
export const ISSUES = tableFromRecord(Issue, { name: "github_org_issues", key: ["id"], partitioned: false, versionColumn: "updated_at", extra: [{ name: "repo", type: "VARCHAR" }] });
export const COMMENTS = tableFromRecord(Comment, {
  name: "github_comments",
  key: ["id"],
  partitioned: false,
  versionColumn: "updated_at",
  extra: [
    { name: "repo", type: "VARCHAR" },
    { name: "issue_id", type: "BIGINT" },
  ],
});

const decodes = (table: typeof REPOS) => defineSuite({ table, checks: [{ name: "id: not_null", kind: "not_null", column: "id" }] });

export default defineJob({
  name: "github_org",
  description: "An organisation's repos, their issues changed since the last run, and those issues' comments.",
  tables: [REPOS, ISSUES, COMMENTS],
  async run(ctx) {
    const repoRows = await ctx.extract(repos);
    const issueRows = await ctx.extract(issues, { parents: repoRows });
    const commentRows = await ctx.extract(comments, { parents: issueRows });
    await ctx.materialize([
      { table: REPOS, frame: await ctx.validate(repoRows, decodes(REPOS)) },
      { table: ISSUES, frame: await ctx.validate(issueRows, decodes(ISSUES)) },
      { table: COMMENTS, frame: await ctx.validate(commentRows, decodes(COMMENTS)) },
    ]);
  },
});

/**
 * Parent/child resources against a GitHub-style imitation: org -> repos -> issues (Link pages,
 * `since`) -> comments, with one repo's issues answering 404. The warehouse equals the server after
 * a first run and after the server changes (only changed records fetched). The SIGKILL cases are
 * in incremental-github-crash.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { REPOS, kind, runInProcess, startServer, tables, truth } from "./fixtures/github-org.ts";
import { tempDataDir } from "./support/dirs.ts";

test("org -> repos -> issues -> comments equals the server after a first run, and a second run fetches only what changed", async (t) => {
  const server = await startServer(51);
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  await runInProcess(server, dataDir);
  assert.deepEqual(await tables(dataDir), truth(server));
  assert.ok(server.requests().some((r) => r.status === 404 && r.path.includes("/docs/issues")), "the missing repo answered 404 and listed nothing");
  const firstComments = server.requests().filter((r) => kind(r.path) === "comments" && r.status === 200).length;
  const mark = Date.parse((await withWarehouse(dataDir, "read", (c) => query(c, "select value from sluice.state where source = 'issues'"))).rows[0]?.[0] as string);

  // The server changes: an issue retitled, a comment added to another, a new issue.
  server.advance(60_000);
  const api = server.truth().issues["acme/api"] ?? [];
  server.updateIssue("api", api[0]!.number, { title: "renamed" });
  server.addComment("web", (server.truth().issues["acme/web"] ?? [])[2]!.number, "a new comment");
  server.addIssue("cli", { title: "a new issue" });
  server.clearRequests();
  await runInProcess(server, dataDir);
  assert.deepEqual(await tables(dataDir), truth(server));

  const ok = server.requests().filter((r) => r.status === 200 && r.fault === null);
  const count = (k: string) => ok.filter((r) => kind(r.path) === k).length;
  assert.equal(count("repos"), 1, "the repos listing is one page");
  assert.equal(count("issues"), REPOS.length - 1, "one page of changed issues per repo (the missing one answers 404)");
  // `since` is inclusive: the changed issues, and those updated at the very instant of the mark.
  const changed = Object.values(server.truth().issues).flat().filter((i) => Date.parse(i.updated_at) >= mark).length;
  assert.ok(changed >= 3 && changed <= 5, `${changed} issues changed or sat at the mark`);
  assert.equal(count("comments"), changed, `comments of the changed issues only (the first run read ${firstComments})`);
  assert.ok(ok.filter((r) => kind(r.path) === "issues").every((r) => typeof r.query["since"] === "string"), "issues are asked since the mark");
});


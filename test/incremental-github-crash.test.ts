/**
 * Parent/child resources survive a SIGKILL: a github_org run killed at extract, mid child listings,
 * in its load and after its commit is rerun to the server's tables, and the child listings that
 * had landed are not fetched again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { DT, REPOS, TOKEN, kind, runInProcess, startServer, tables, truth } from "./fixtures/github-org.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const EXAMPLES = path.resolve(import.meta.dirname, "..", "jobs", "examples");

test("a run killed at extract, mid child listings, at load or at commit is rerun to the server's tables; landed child listings are not fetched again", async (t) => {
  for (const point of ["extract.page-1", "extract.listing-5", "warehouse.merge", "warehouse.committed"]) {
    // fast faults only (no secondary-limit waits): this test runs four processes
    const server = await startServer(52, { faultRate: 0.1, faultKinds: ["500", "502", "reset", "truncated"] });
    t.after(() => server.close());
    const dataDir = await tempDataDir(t);
    const args = ["run", "github_org", "--date", DT, "--jobs-dir", EXAMPLES, "--data-dir", dataDir];
    const env = { GITHUB_API_URL: server.url, GITHUB_TOKEN: TOKEN };
    const killed = await runSluice(args, { ...env, SLUICE_FAILPOINT: point });
    assert.equal(killed.signal, "SIGKILL", `${point}: killed (${killed.code}: ${killed.stderr})`);
    const landed = point === "extract.listing-5" ? await completeListings(dataDir, "issues") : 0;
    server.clearRequests();
    await runInProcess(server, dataDir);
    assert.deepEqual(await tables(dataDir), truth(server), `${point}: the rerun ends with the server's tables`);
    if (point === "extract.listing-5") {
      assert.ok(landed >= 5, `${point}: at least five issue listings had landed (${landed})`);
      const refetched = new Set(server.requests().filter((r) => kind(r.path) === "issues" && r.query["page"] === undefined).map((r) => r.path)).size;
      assert.equal(refetched, REPOS.length - landed, `${point}: only the ${REPOS.length - landed} listings that had not landed are fetched again`);
    }
  }
});

/** How many child listings of a source landed completely in the data dir's raw landing. */
async function completeListings(dataDir: string, source: string): Promise<number> {
  const dir = path.join(dataDir, "raw", "github_org", `dt=${DT}`, source, "listings");
  let complete = 0;
  for (const listing of await readdir(dir).catch(() => [] as string[])) {
    const state = await readFile(path.join(dir, listing, "_state.json"), "utf8").catch(() => "{}");
    if ((JSON.parse(state) as { complete?: boolean }).complete) complete++;
  }
  return complete;
}

/** Job files prebuilt against the engine's bundle (bin/job-bundle.mjs), on a small source tree of their own. */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { engineBundle, type EngineBundle } from "../bin/engine-bundle.mjs";
import { jobBundle } from "../bin/job-bundle.mjs";
import { engineSourceTree, writeTree } from "./support/engine-tree.ts";

interface JobModule {
  default: { name: string; here: string; rule: string; error: unknown; counter: unknown };
  shared: object;
}

/** An engine tree, its bundle, and a jobs folder whose two jobs share a helper and import a transform and the engine. */
async function project(t: TestContext): Promise<{ root: string; engine: EngineBundle; jobs: string; files: string[] }> {
  const root = await engineSourceTree(t);
  const engine = await engineBundle(root);
  assert.ok(engine, "the engine bundle builds");
  const job = (name: string) =>
    [
      `import { EngineError } from "../src/index.ts";`,
      `import { rule } from "../transforms/rule.ts";`,
      `import { shared } from "./helper.ts";`,
      `import { counter } from "counter";`,
      `export { shared };`,
      `export default { name: ${JSON.stringify(name)}, here: import.meta.dirname, rule, error: EngineError, counter };`,
    ].join("\n");
  await writeTree(root, {
    "jobs/a.ts": job("a"),
    // b reaches the transform through a tsconfig path, as tsx would resolve it
    "jobs/b.ts": job("b").replace(`"../transforms/rule.ts"`, `"@rules/rule.ts"`),
    "tsconfig.json": `{ "compilerOptions": { "baseUrl": ".", "paths": { "@rules/*": ["transforms/*"] } } }\n`,
    "jobs/helper.ts": `export const shared = { created: Math.random() };\n`,
    "transforms/rule.ts": `export const rule = "r1";\n`,
    "node_modules/counter/package.json": `{ "name": "counter", "type": "module", "exports": "./index.js" }\n`,
    "node_modules/counter/index.js": `export const counter = { count: 0 };\n`,
    "node_modules/typed/package.json": `{ "name": "typed", "type": "module", "exports": "./index.ts" }\n`,
    "node_modules/typed/index.ts": `export const typed: number = 1;\n`,
  });
  const jobs = path.join(root, "jobs");
  return { root, engine, jobs, files: ["a.ts", "b.ts", "helper.ts"].map((f) => path.join(jobs, f)) };
}

async function importAll(urls: Map<string, string> | null, files: string[]): Promise<JobModule[]> {
  assert.ok(urls, "the jobs have a bundle");
  return Promise.all(files.map((file) => import(urls.get(file) ?? "") as Promise<JobModule>));
}

async function jobBuilds(root: string): Promise<string[]> {
  return (await readdir(path.join(root, "node_modules", ".cache", "sluice"))).filter((n) => n.startsWith("jobs-") && !n.endsWith(".json"));
}

test("job files are built once against the engine bundle: one engine, one copy of shared code, their own import.meta", async (t) => {
  const { root, engine, jobs, files } = await project(t);
  const urls = await jobBundle(engine, jobs, files);
  const [a, b] = await importAll(urls, files);
  assert.ok(a && b);
  // their import of src/index.ts is the engine bundle's module, the one the CLI runs
  const index = (await import(engine.redirects[pathToFileURL(path.join(root, "src", "index.ts")).href] ?? "")) as { EngineError: unknown };
  assert.equal(a.default.error, index.EngineError);
  assert.equal(a.shared, b.shared, "a helper both import is one module");
  assert.equal(a.default.here, jobs, "import.meta.dirname is the job file's directory");
  assert.equal(a.default.rule, "r1");
  assert.equal(b.default.rule, "r1", "a tsconfig path is job code, bundled like a relative import");
  // a package stays an import of node_modules: the module anyone else importing it gets
  const counter = (await import(pathToFileURL(path.join(root, "node_modules", "counter", "index.js")).href)) as { counter: unknown };
  assert.equal(a.default.counter, counter.counter);
  // the build sits with the jobs folder's packages, and a second start reuses it
  assert.ok([...(urls?.values() ?? [])].every((u) => u.startsWith(pathToFileURL(path.join(root, "node_modules", ".cache", "sluice")).href)));
  assert.deepEqual(await jobBundle(engine, jobs, files), urls);
  assert.equal((await jobBuilds(root)).length, 1);
  // a damaged index is not trusted, nor a reason to give up the bundle: the jobs are built again
  const cache = path.join(root, "node_modules", ".cache", "sluice");
  const [indexFile] = (await readdir(cache)).filter((n) => n.startsWith("jobs-") && n.endsWith(".json"));
  await writeFile(path.join(cache, indexFile ?? ""), "{ not json");
  const rebuilt = await jobBundle(engine, jobs, files);
  assert.ok(rebuilt, "a bundle despite the damaged index");
  assert.equal(((await import(rebuilt.get(files[0] ?? "") ?? "")) as JobModule).default.rule, "r1");
});

test("an edit of a file a job imports (not only of the job file) gives a new build that runs the new code", async (t) => {
  const { root, engine, jobs, files } = await project(t);
  const first = await jobBundle(engine, jobs, files);
  const rule = path.join(root, "transforms", "rule.ts");
  await writeFile(rule, `export const rule = "r2";\n`);
  // same size as before: the mtime alone tells the edit apart
  await utimes(rule, new Date(), new Date(Date.now() + 5000));
  const second = await jobBundle(engine, jobs, files);
  assert.notDeepEqual(second, first);
  const [a] = await importAll(second, files);
  assert.equal(a?.default.rule, "r2");
  assert.equal((await jobBuilds(root)).length, 2, "the first build stays for the commands that started from it");
});

test("job files a bundle would run differently get none, and leave no partial build: the CLI loads them through tsx", async (t) => {
  const { root, engine, jobs, files } = await project(t);
  const variants: Record<string, string> = {
    "a syntax error": `export default { name: 'a',, };\n`,
    "CommonJS": `const path = require("node:path");\nmodule.exports = { name: "a", here: path.resolve(".") };\n`,
    "__dirname": `export default { name: "a", here: __dirname };\n`,
    "an import() of a computed name": `const name = "./helper.ts";\nexport default { name: "a", load: () => import(name) };\n`,
    "a package that ships TypeScript": `import { typed } from "typed";\nexport default { name: "a", typed };\n`,
  };
  for (const [what, source] of Object.entries(variants)) {
    await writeFile(files[0] ?? "", source);
    assert.equal(await jobBundle(engine, jobs, files), null, what);
  }
  assert.deepEqual(await jobBuilds(root), []);
  // the verdict is kept with the inputs it read: the next start goes to tsx without building again
  const cache = path.join(root, "node_modules", ".cache", "sluice");
  const [indexFile] = (await readdir(cache)).filter((n) => n.startsWith("jobs-") && n.endsWith(".json"));
  const index = JSON.parse(await readFile(path.join(cache, indexFile ?? ""), "utf8")) as { build: unknown; inputs: Record<string, string> };
  assert.equal(index.build, null);
  assert.ok(Object.keys(index.inputs).includes(path.join(root, "node_modules", "typed", "index.ts")), "the package it read is among the inputs");
  const before = await stat(path.join(cache, indexFile ?? ""));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await jobBundle(engine, jobs, files), null);
  const after = await stat(path.join(cache, indexFile ?? ""));
  assert.equal(after.ino, before.ino, "not built again: a build replaces the index by a rename");
  assert.ok(after.mtimeMs > before.mtimeMs, "touched, so it is not pruned while in use");
  // an import() of a literal name is bundled
  await writeFile(files[0] ?? "", `export default { name: "a", load: () => import("./helper.ts") };\n`);
  const urls = await jobBundle(engine, jobs, files);
  const loaded = (await import(urls?.get(files[0] ?? "") ?? "")) as { default: { load(): Promise<{ shared: unknown }> } };
  const [, , helper] = await importAll(urls, files);
  assert.equal((await loaded.default.load()).shared, helper?.shared);
});

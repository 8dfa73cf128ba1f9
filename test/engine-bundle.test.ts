/** The engine's prebuilt bundle (bin/engine-bundle.mjs), built from a small source tree of its own. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { engineBundle, ENTRIES } from "../bin/engine-bundle.mjs";
import { engineSourceTree as sourceTree } from "./support/engine-tree.ts";

async function mainOf(url: string): Promise<string> {
  const module = (await import(url)) as { main(): Promise<string> };
  return module.main();
}

async function builds(root: string): Promise<string[]> {
  return (await readdir(path.join(root, "node_modules", ".cache", "sluice"))).sort();
}

test("the engine bundle is built once per source tree, and runs as its sources would", async (t) => {
  const root = await sourceTree(t);
  const bundle = await engineBundle(root);
  assert.ok(bundle, "a bundle of a tree that parses");
  // import.meta.dirname is the source file's directory, not the bundle's
  assert.equal(await mainOf(bundle.main), `v1 ${path.join(root, "src", "core")}`);
  // the entry point runs the same module the CLI's module is
  assert.equal(((await import(bundle.bin)) as { ran: string }).ran, `v1 ${path.join(root, "src", "core")}`);
  assert.deepEqual(Object.keys(bundle.redirects).sort(), ENTRIES.map((e) => pathToFileURL(path.join(root, "src", e)).href).sort());
  // entries share their modules: the class a job imports from errors.ts is the one index.ts exports
  const index = (await import(bundle.redirects[pathToFileURL(path.join(root, "src", "index.ts")).href] ?? "")) as { EngineError: unknown };
  const errors = (await import(bundle.redirects[pathToFileURL(path.join(root, "src", "core", "errors.ts")).href] ?? "")) as { EngineError: unknown };
  assert.equal(index.EngineError, errors.EngineError);
  const again = await engineBundle(root);
  assert.deepEqual(again, bundle, "the same sources reuse the build");
  assert.equal((await builds(root)).length, 1);
});

test("an edited engine source is rebuilt before it runs", async (t) => {
  const root = await sourceTree(t);
  const first = await engineBundle(root);
  assert.ok(first);
  const where = path.join(root, "src", "core", "where.ts");
  await writeFile(where, `export const here: string = import.meta.dirname;\nexport const version = "v2";\n`);
  // same size as before: the mtime alone tells the edit apart
  await utimes(where, new Date(), new Date(Date.now() + 5000));
  const second = await engineBundle(root);
  assert.ok(second);
  assert.notEqual(second.main, first.main);
  assert.match(await mainOf(second.main), /^v2 /);
  assert.equal((await builds(root)).length, 2);
});

test("an engine source that does not parse gives no bundle (the CLI then runs the sources) and leaves no partial build", async (t) => {
  const root = await sourceTree(t);
  await writeFile(path.join(root, "src", "core", "where.ts"), "export const = ;\n");
  assert.equal(await engineBundle(root), null);
  assert.deepEqual(await builds(root), []);
});

test("commands building the same sources at the same time all get the one build", async (t) => {
  const root = await sourceTree(t);
  const bundles = await Promise.all([engineBundle(root), engineBundle(root), engineBundle(root)]);
  assert.ok(bundles.every((b) => b !== null && b.main === bundles[0]?.main), JSON.stringify(bundles));
  assert.equal((await builds(root)).length, 1, "one build, no partial directories left");
  assert.match(await mainOf(bundles[0]?.main ?? ""), /^v1 /);
});

test("a new build removes the builds no command started from for a week, and keeps one in use", async (t) => {
  const root = await sourceTree(t);
  const cache = path.join(root, "node_modules", ".cache", "sluice");
  const weekAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
  await mkdir(path.join(cache, "engine-abandoned"), { recursive: true });
  await utimes(path.join(cache, "engine-abandoned"), weekAgo, weekAgo);
  const used = await engineBundle(root);
  assert.ok(used);
  const usedDir = (await builds(root)).find((d) => d !== "engine-abandoned") ?? "";
  // a week old, but a command starts from it again: touched, so it survives the next build
  await utimes(path.join(cache, usedDir), weekAgo, weekAgo);
  assert.deepEqual(await engineBundle(root), used);
  const where = path.join(root, "src", "core", "where.ts");
  await utimes(where, new Date(), new Date(Date.now() + 5000));
  assert.ok(await engineBundle(root));
  const left = await builds(root);
  assert.ok(!left.includes("engine-abandoned"), `the abandoned build is gone: ${left.join(", ")}`);
  assert.ok(left.includes(usedDir), "the build in use stays");
  assert.equal(left.length, 2);
});

test("an engine whose native addon the bundle could not import from where it lives gets no bundle; one that can gets one", async (t) => {
  const root = await sourceTree(t);
  // DuckDB's API is compiled in; the addon package behind it stays an import by name
  await writeFile(path.join(root, "src", "core", "where.ts"), `import "@duckdb/node-bindings";\nexport const here: string = import.meta.dirname;\nexport const version = "v1";\n`);
  assert.equal(await engineBundle(root), null, "nothing named @duckdb/node-bindings above the cache");
  assert.deepEqual(await builds(root), []);
  await mkdir(path.join(root, "node_modules", "@duckdb", "node-bindings"), { recursive: true });
  await writeFile(path.join(root, "node_modules", "@duckdb", "node-bindings", "package.json"), `{ "name": "@duckdb/node-bindings", "main": "index.js" }\n`);
  await writeFile(path.join(root, "node_modules", "@duckdb", "node-bindings", "index.js"), `module.exports = {};\n`);
  const bundle = await engineBundle(root);
  assert.ok(bundle, "the addon resolves from the bundle's directory");
  assert.match(await mainOf(bundle.main), /^v1 /);
});

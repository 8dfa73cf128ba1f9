/**
 * scripts/patch-dependencies.mjs (npm's postinstall): the fix for nodejs-polars' slow Expr and
 * Series wrappers is installed, keeps their behaviour, and is applied only where it was written for.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { test } from "node:test";
import pl from "nodejs-polars";
import { ROOT } from "./support/sluice.ts";
import { tempDataDir } from "./support/dirs.ts";

interface Edit {
  before: string;
  after: string;
}
interface Patch {
  pkg: string;
  version: string;
  file: string;
  edits: Edit[];
}
interface PatchScript {
  PATCH_MARK: string;
  PATCHES: Patch[];
  applyPatch(patch: Patch, nodeModules: string): string;
}

const script = (await import(pathToFileURL(path.join(ROOT, "scripts", "patch-dependencies.mjs")).href)) as PatchScript;
const [exprPatch, seriesPatch] = script.PATCHES;
assert.ok(exprPatch && seriesPatch);

/** A fake node_modules whose package holds every snippet the patch replaces, once, between other lines. */
async function fakeInstall(dir: string, patch: Patch, version = patch.version, edits = patch.edits): Promise<string> {
  const nodeModules = path.join(dir, "node_modules");
  const file = path.join(nodeModules, patch.pkg, patch.file);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(path.join(nodeModules, patch.pkg, "package.json"), JSON.stringify({ name: patch.pkg, version }));
  await writeFile(file, ["// head\n", ...edits.map((e) => `${e.before}// between\n`)].join(""));
  return nodeModules;
}

test("npm ci leaves the installed nodejs-polars Expr and Series files patched", async () => {
  for (const patch of [exprPatch, seriesPatch]) {
    const text = await readFile(path.join(ROOT, "node_modules", patch.pkg, patch.file), "utf8");
    assert.ok(text.includes(script.PATCH_MARK), `${patch.file} is not patched: run npm ci (or node scripts/patch-dependencies.mjs)`);
  }
});

test("a patched Expr keeps its type tag, its inspect output and its use in a query", () => {
  const expr = pl.col("a").mul(pl.lit(2)).alias("b");
  assert.equal(expr[Symbol.toStringTag](), "Expr");
  assert.equal(pl.Expr.isExpr(expr), true);
  assert.equal(inspect(expr), expr.toString());
  assert.match(inspect(expr), /col\("a"\)/);
  assert.deepEqual(pl.DataFrame({ a: [1, 2] }).select(expr).toRecords(), [{ b: 2 }, { b: 4 }]);
});

test("a patched Series keeps its type tag, iteration, element access and inspect output", () => {
  const series = pl.Series("s", [3, 1, 2]);
  assert.equal((series as unknown as { [Symbol.toStringTag](): string })[Symbol.toStringTag](), "Series");
  assert.equal(pl.Series.isSeries(series), true);
  assert.deepEqual([...series], [3, 1, 2]);
  assert.equal(series.get(1), 1);
  assert.equal(inspect(series), series.toString());
  assert.deepEqual([...series.sort()], [1, 2, 3]);
});

test("a patch applies once, then reports itself already applied and leaves the file alone", async (t) => {
  const nodeModules = await fakeInstall(await tempDataDir(t), exprPatch);
  const file = path.join(nodeModules, exprPatch.pkg, exprPatch.file);
  assert.equal(script.applyPatch(exprPatch, nodeModules), "applied");
  const patched = await readFile(file, "utf8");
  for (const edit of exprPatch.edits) {
    if (edit.before.trim() !== "") assert.ok(!patched.includes(edit.before), `still has ${JSON.stringify(edit.before.slice(0, 40))}`);
    assert.ok(patched.includes(edit.after));
  }
  assert.ok(patched.includes(script.PATCH_MARK));
  assert.equal(script.applyPatch(exprPatch, nodeModules), "already applied");
  assert.equal(await readFile(file, "utf8"), patched);
});

test("a patch leaves another version of the package as installed", async (t) => {
  const nodeModules = await fakeInstall(await tempDataDir(t), seriesPatch, "0.27.0");
  const file = path.join(nodeModules, seriesPatch.pkg, seriesPatch.file);
  const installed = await readFile(file, "utf8");
  assert.equal(script.applyPatch(seriesPatch, nodeModules), `skipped: written for nodejs-polars ${seriesPatch.version}, installed 0.27.0`);
  assert.equal(await readFile(file, "utf8"), installed);
});

test("a patch with one snippet missing changes nothing in the file", async (t) => {
  const nodeModules = await fakeInstall(await tempDataDir(t), seriesPatch, seriesPatch.version, seriesPatch.edits.slice(1));
  const file = path.join(nodeModules, seriesPatch.pkg, seriesPatch.file);
  const installed = await readFile(file, "utf8");
  assert.match(script.applyPatch(seriesPatch, nodeModules), /^skipped: bin\/series\/index\.js does not contain this snippet exactly once: "        \[inspect\]\(\) \{"$/);
  assert.equal(await readFile(file, "utf8"), installed);
});

test("a patch for a package that is not installed is skipped with the reason", async (t) => {
  const result = script.applyPatch(exprPatch, path.join(await tempDataDir(t), "node_modules"));
  assert.match(result, /^skipped: nodejs-polars\/bin\/lazy\/expr\/index\.js is not installed \(ENOENT\)$/);
});

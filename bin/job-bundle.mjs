// Job files prebuilt, like the engine (bin/engine-bundle.mjs): without them, a command starts tsx's
// loader thread (~0.15 s, the main thread blocked) and takes each job file, transform and
// validation through it (~0.1 s). esbuild bundles the top-level files of a jobs directory, one
// output module per file (shared code in shared chunks: one instance, as with separate imports),
// into <the jobs directory's node_modules>/.cache/sluice/, where packages resolve as they do from
// the jobs directory; their imports of the engine's entries become imports of the engine bundle.
// A build is reused while every file it read keeps its size and mtime. Null, and the caller loads
// the files through tsx as before, for anything a bundle would run differently: a file that does
// not build, CommonJS (require, __dirname, module.exports), an import() of a computed name,
// import.meta.resolve, or a package that ships TypeScript (see UNBUNDLABLE and TYPESCRIPT).
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { isDirectory, moveIntoPlace, prune, sourceLocation, touch } from "./engine-bundle.mjs";

/** Bumped when the way job bundles are built changes, so that older builds are not reused. */
const BUILD_FORMAT = 1;

/** Source text a bundle (an ES module elsewhere) would run differently than tsx runs the file. */
const UNBUNDLABLE = /\brequire\s*\(|\b__dirname\b|\b__filename\b|\bmodule\.exports\b|\bimport\s*\(\s*(?!["'])|\bimport\.meta\.resolve\b/;

/** A file esbuild would compile but Node cannot import without tsx (a package shipping TypeScript). */
const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * The module URL of each of `files` (absolute paths in `dir`) built against `engine` (an
 * engineBundle() result), reused when its inputs are unchanged; null when the files must load
 * through tsx instead.
 */
export async function jobBundle(engine, dir, files) {
  try {
    const cache = cacheDir(dir, engine.dir);
    const key = createHash("sha256").update(`${BUILD_FORMAT}\0${engine.dir}\0${dir}\0${[...files].sort().join("\0")}`).digest("hex").slice(0, 16);
    const indexFile = path.join(cache, `jobs-${key}.json`);
    const index = reusable(indexFile, cache) ?? (await build(engine, dir, files, cache, key, indexFile));
    if (index.build === null) return null;
    return new Map(files.map((file) => [file, pathToFileURL(path.join(cache, index.build, index.outputs[file])).href]));
  } catch {
    return null;
  }
}

/** The cache next to the jobs directory's packages: the nearest node_modules above it, else the engine's cache. */
function cacheDir(dir, engineDir) {
  for (let at = dir; ; at = path.dirname(at)) {
    if (isDirectory(path.join(at, "node_modules"))) return path.join(at, "node_modules", ".cache", "sluice");
    if (path.dirname(at) === at) return path.dirname(engineDir);
  }
}

/**
 * The index of the last build when every input is as it read them and its build is there (or it
 * found the files unbundlable: they go to tsx without another attempt until one changes).
 */
function reusable(indexFile, cache) {
  if (!existsSync(indexFile)) return null;
  const index = readIndex(indexFile);
  if (index === null || (index.build !== null && !isDirectory(path.join(cache, index.build)))) return null;
  for (const [file, stamp] of Object.entries(index.inputs)) if (stampOf(file) !== stamp) return null;
  if (index.build !== null) touch(path.join(cache, index.build));
  touch(indexFile);
  return index;
}

/** An index as written by build(); null for anything else (a damaged one is rebuilt, not trusted). */
function readIndex(indexFile) {
  try {
    const index = JSON.parse(readFileSync(indexFile, "utf8"));
    const build = index?.build === null || (typeof index?.build === "string" && index.build.startsWith("jobs-"));
    const valid = build && typeof index.outputs === "object" && typeof index.inputs === "object";
    return valid ? index : null;
  } catch {
    return null;
  }
}

/**
 * Builds into a private directory, renames it into place, then points the index at it; an index
 * whose build is null when the files are unbundlable. Throws when they do not build.
 */
async function build(engine, dir, files, cache, key, indexFile) {
  const { build: esbuild } = await import("esbuild");
  mkdirSync(cache, { recursive: true });
  const tmp = path.join(cache, `jobs-${key}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const seen = { unbundlable: false, packages: new Set() };
  try {
    const { metafile } = await esbuild({
      entryPoints: [...files],
      outdir: tmp,
      outbase: dir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      chunkNames: "chunks/[name]-[hash]",
      sourcemap: "linked",
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      plugins: [imports(engine.redirects, seen), sourceLocation(/\.[mc]?[jt]sx?$/, (_file, text) => (seen.unbundlable ||= UNBUNDLABLE.test(text)))],
    });
    const index = indexOf(metafile, files, tmp, seen.packages);
    if (seen.unbundlable || Object.values(metafile.inputs).some((input) => input.format === "cjs")) {
      writeAtomically(indexFile, JSON.stringify({ ...index, build: null, outputs: {} }));
      return { ...index, build: null };
    }
    index.build = `jobs-${key}-${createHash("sha256").update(JSON.stringify(index.inputs)).digest("hex").slice(0, 8)}`;
    moveIntoPlace(tmp, path.join(cache, index.build));
    writeAtomically(indexFile, JSON.stringify(index));
    prune(cache, path.join(cache, index.build), "jobs-");
    return index;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Each entry's output file (relative to the build) and the size and mtime of every file the build
 * read, and of the entry file of every package the jobs import (an upgrade may change the verdict).
 */
function indexOf(metafile, files, outdir, packages) {
  const cwd = process.cwd();
  const outputs = {};
  for (const [out, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint !== undefined) outputs[path.resolve(cwd, info.entryPoint)] = path.relative(outdir, path.resolve(cwd, out));
  }
  if (files.some((file) => outputs[file] === undefined)) throw new Error("an entry without an output");
  const inputs = {};
  for (const file of [...Object.keys(metafile.inputs).map((input) => path.resolve(cwd, input)), ...packages]) inputs[file] = stampOf(file);
  return { build: "", outputs, inputs };
}

/**
 * An esbuild plugin for what job files import. An import that resolves to one of the engine's
 * entries (src/index.ts, src/core/errors.ts) becomes an import of the engine bundle's copy, which
 * the CLI runs: job code and the CLI share one engine (its error classes, its registries). A
 * package in node_modules stays an import by name (it resolves as from the jobs directory); one
 * that ships TypeScript needs tsx (`seen.unbundlable`). Anything else is job code, bundled.
 */
function imports(redirects, seen) {
  return {
    name: "job-imports",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.jobImports || args.kind === "entry-point") return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { jobImports: true } });
        if (resolved.errors.length > 0) return undefined;
        if (resolved.external) return { path: args.path, external: true };
        const to = redirects[pathToFileURL(resolved.path).href];
        if (to !== undefined) return { path: to, external: true };
        if (!resolved.path.split(path.sep).includes("node_modules")) return undefined;
        seen.packages.add(resolved.path);
        seen.unbundlable ||= TYPESCRIPT.test(resolved.path);
        return { path: args.path, external: true };
      });
    },
  };
}

function writeAtomically(file, text) {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function stampOf(file) {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? "missing" : `${stat.size}:${stat.mtimeMs}`;
}

// The engine prebuilt into a few ES modules, so that a command starts without routing ~170 engine
// files one by one through tsx's loader thread (~0.3 s of every `sluice` command). esbuild (the one
// tsx runs on) builds it into node_modules/.cache/sluice/engine-<fingerprint>/ the first time a
// source tree is seen; the fingerprint covers every file under src/ (path, size, mtime), so an
// edited engine is rebuilt before it runs. Anything unexpected (a read-only node_modules, a source
// that does not parse) gives null, and the caller runs the TypeScript sources as before.
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The engine modules with a stable file in the bundle: the CLI (its entry point, and its modules
 * to load before tsx's hooks), and what job code imports (under
 * the CLI, an import of one of these from a job resolves to the bundle's copy, so both share one
 * engine: its error classes, its registries). Other engine modules live in shared chunks.
 */
export const ENTRIES = ["cli/bin.ts", "cli/main.ts", "index.ts", "core/errors.ts"];

/**
 * Packages compiled into the bundle: plain JavaScript that only the engine imports (never job
 * code, which would get another copy), and slow to load file by file (~0.1 s for the first four,
 * ~0.1 s for DuckDB's API alone). The others stay imports of node_modules: native addons, what
 * jobs import too (nodejs-polars, zod), pino (its transports load by package name), and undici
 * (measured slower to run when bundled).
 */
export const BUNDLED_PACKAGES = ["apache-arrow", "prom-client", "commander", "cli-progress", "@duckdb/node-api"];

/** What the bundled packages import that stays in node_modules: the native addon behind DuckDB's API. */
const NATIVE_DEPENDENCIES = ["@duckdb/node-bindings"];

/** Bumped when the way the bundle is built changes, so that older builds are not reused. */
const BUILD_FORMAT = 2;

/**
 * Builds no command has started from for this long are removed when a new one is made. Every start
 * touches its build; a process loads its lazy chunks (the demo API, the queue) from it later.
 */
const PRUNE_AFTER_MS = 7 * 24 * 3600 * 1000;

/**
 * The engine under `root` as a bundle: its directory, the URLs of the CLI's modules and of its
 * entry point (which runs the command when imported), and for each entry the bundle URL its
 * source URL should resolve to. Null when the bundle cannot be had.
 */
export async function engineBundle(root) {
  try {
    const src = path.join(root, "src");
    const cache = path.join(root, "node_modules", ".cache", "sluice");
    const dir = path.join(cache, `engine-${fingerprint(src)}`);
    if (isDirectory(dir)) touch(dir);
    else await build(src, cache, dir);
    const url = (file) => pathToFileURL(path.join(dir, file.replace(/\.ts$/, ".js"))).href;
    const redirects = Object.fromEntries(ENTRIES.map((entry) => [pathToFileURL(path.join(src, entry)).href, url(entry)]));
    return { dir, main: url("cli/main.ts"), bin: url("cli/bin.ts"), redirects };
  } catch {
    return null;
  }
}

/** A hash of the source tree: every file's path, size and mtime, and how the bundle is built. */
function fingerprint(src) {
  const hash = createHash("sha256").update(`${BUILD_FORMAT}\0${src}\0${esbuildVersion()}\0${bundledVersions()}`);
  const files = readdirSync(src, { recursive: true }).map(String).sort();
  for (const file of files) {
    const stat = statSync(path.join(src, file));
    if (stat.isFile()) hash.update(`\0${file}\0${stat.size}\0${stat.mtimeMs}`);
  }
  return hash.digest("hex").slice(0, 16);
}

/** Builds into a private directory, then renames it into place: a process sees a whole build or none. */
async function build(src, cache, dir) {
  const { build: esbuild } = await import("esbuild");
  mkdirSync(cache, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    const { metafile } = await esbuild({
      entryPoints: ENTRIES.map((entry) => path.join(src, entry)),
      outdir: tmp,
      outbase: src,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: externalPackages(),
      // the CommonJS packages inside call require()
      banner: { js: 'import { createRequire as __sluiceCreateRequire } from "node:module"; const require = __sluiceCreateRequire(import.meta.url);' },
      chunkNames: "chunks/[dir]/[name]-[hash]",
      sourcemap: "linked",
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      plugins: [sourceLocation(/\.ts$/)],
    });
    // the bundle imports them by name from where it lives: a layout where that fails gets no bundle
    const resolveHere = createRequire(path.join(tmp, "cli", "main.js")).resolve;
    for (const name of importedNativeDependencies(metafile)) resolveHere(name);
    moveIntoPlace(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(cache, dir, "engine-");
}

/** Renames a finished build into place; when another command put the same build there first, that one stays. */
export function moveIntoPlace(tmp, to) {
  try {
    renameSync(tmp, to);
  } catch (error) {
    if (!isDirectory(to)) throw error;
  }
}

/**
 * An esbuild plugin that gives the files matching `filter` their own import.meta.url, dirname and
 * filename: the engine finds files next to its sources (the built-in jobs, Chart.js), and a job
 * next to its own, wherever the bundle lives. `inspect(path, text)`, when given, sees each source.
 */
export function sourceLocation(filter, inspect = () => {}) {
  return {
    name: "source-location",
    setup(build) {
      build.onLoad({ filter }, (args) => {
        const text = readFileSync(args.path, "utf8");
        inspect(args.path, text);
        return {
          loader: LOADERS[path.extname(args.path)] ?? "default",
          contents: text
            .replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
            .replaceAll("import.meta.filename", JSON.stringify(args.path))
            .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
        };
      });
    },
  };
}

const LOADERS = { ".ts": "ts", ".mts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".jsx": "jsx" };

/** Removes the builds named `prefix`* (and abandoned partial ones) no command started from for a week. */
export function prune(cache, keep, prefix) {
  for (const name of readdirSync(cache)) {
    const full = path.join(cache, name);
    if (full === keep || !name.startsWith(prefix)) continue;
    try {
      if (Date.now() - statSync(full).mtimeMs > PRUNE_AFTER_MS) rmSync(full, { recursive: true, force: true });
    } catch {
      // another command pruned it
    }
  }
}

/** The NATIVE_DEPENDENCIES the built modules import. */
function importedNativeDependencies(metafile) {
  const imported = Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
  return NATIVE_DEPENDENCIES.filter((name) => imported.some((p) => p === name || p.startsWith(`${name}/`)));
}

/** The package's dependencies that stay imports of node_modules (with their subpaths). */
function externalPackages() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const { dependencies = {} } = JSON.parse(readFileSync(path.join(here, "..", "package.json"), "utf8"));
  return [...Object.keys(dependencies).filter((name) => !BUNDLED_PACKAGES.includes(name)), ...NATIVE_DEPENDENCIES].flatMap((name) => [name, `${name}/*`]);
}

/** Marks a build as used now (what prune() reads). */
export function touch(dir) {
  const now = new Date();
  try {
    utimesSync(dir, now, now);
  } catch {
    // a read-only cache still serves its build
  }
}

export function isDirectory(dir) {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function esbuildVersion() {
  return installedVersion("esbuild");
}

/** The installed versions of the packages compiled in: an upgrade rebuilds the bundle. */
function bundledVersions() {
  return BUNDLED_PACKAGES.map((name) => `${name}@${installedVersion(name)}`).join(",");
}

function installedVersion(name) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return JSON.parse(readFileSync(path.join(here, "..", "node_modules", name, "package.json"), "utf8")).version;
}

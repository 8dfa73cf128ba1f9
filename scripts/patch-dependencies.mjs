// Applies Sluice's fixes to installed dependencies (npm's postinstall; safe to run again).
// A patch names the exact version it was written for and replaces snippets that must each occur
// exactly once; on any other version, or if a snippet is missing, the file is left as installed
// and a warning says so: the patches change speed, never results.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Marks a patched file; a file that has it is not patched twice. */
export const PATCH_MARK = "sluice patch (scripts/patch-dependencies.mjs)";

// nodejs-polars builds every Expr and Series wrapper as an object literal of ~160 methods; the
// computed keys among them ([Symbol.toStringTag], the inspect symbol) put V8 on a slow path:
// ~1.1 ms and ~135 KB per Expr, ~0.6 ms per Series (upstream nodejs-polars#265). Assigned after
// the literal, the same methods cost ~0.05 ms and ~21 KB.
const exprComputedKeys = `        [Symbol.toStringTag]() {
            return "Expr";
        },
        [utils_1.INSPECT_SYMBOL]() {
            return _expr.toString();
        },
`;
const seriesInspect = `        [inspect]() {
            return _s.toString();
        },
`;
const seriesIterator = `        *[Symbol.iterator]() {
            let start = 0;
            const len = _s.len();
            while (start < len) {
                const v = _s.getIdx(start);
                start++;
                yield v;
            }
        },
`;
const seriesTag = `        [Symbol.toStringTag]() {
            return "Series";
        },
`;

/** The patches, by package and file. */
export const PATCHES = [
  {
    pkg: "nodejs-polars",
    version: "0.26.1",
    file: "bin/lazy/expr/index.js",
    edits: [
      { before: exprComputedKeys, after: "" },
      { before: "    return {\n        _expr,\n", after: "    const expr = {\n        _expr,\n" },
      {
        before: '        notEquals: wrapExprArg("neq"),\n    };\n};\n',
        after: `        notEquals: wrapExprArg("neq"),
    };
    // ${PATCH_MARK}: computed keys assigned after the literal (nodejs-polars#265).
    expr[Symbol.toStringTag] = function () {
        return "Expr";
    };
    expr[utils_1.INSPECT_SYMBOL] = function () {
        return _expr.toString();
    };
    return expr;
};
`,
      },
    ],
  },
  {
    pkg: "nodejs-polars",
    version: "0.26.1",
    file: "bin/series/index.js",
    edits: [
      { before: seriesInspect, after: "" },
      { before: seriesIterator, after: "" },
      { before: seriesTag, after: "" },
      {
        before: "    };\n    return new Proxy(series, {\n",
        after: `    };
    // ${PATCH_MARK}: computed keys assigned after the literal (nodejs-polars#265).
    series[inspect] = function () {
        return _s.toString();
    };
    series[Symbol.iterator] = function* () {
        let start = 0;
        const len = _s.len();
        while (start < len) {
            const v = _s.getIdx(start);
            start++;
            yield v;
        }
    };
    series[Symbol.toStringTag] = function () {
        return "Series";
    };
    return new Proxy(series, {
`,
      },
    ],
  },
];

function count(text, snippet) {
  let n = 0;
  for (let at = text.indexOf(snippet); at !== -1; at = text.indexOf(snippet, at + 1)) n++;
  return n;
}

/**
 * Applies one patch under `nodeModules`; returns "applied", "already applied" or why it was skipped.
 * Every edit is checked before any is made, and the file is replaced in one rename.
 */
export function applyPatch(patch, nodeModules) {
  const dir = path.join(nodeModules, patch.pkg);
  const file = path.join(dir, patch.file);
  let version;
  let text;
  try {
    version = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).version;
    text = readFileSync(file, "utf8");
  } catch (error) {
    return `skipped: ${patch.pkg}/${patch.file} is not installed (${error.code ?? error.message})`;
  }
  if (text.includes(PATCH_MARK)) return "already applied";
  if (version !== patch.version) return `skipped: written for ${patch.pkg} ${patch.version}, installed ${version}`;
  const missing = patch.edits.find((edit) => count(text, edit.before) !== 1);
  if (missing) return `skipped: ${patch.file} does not contain this snippet exactly once: ${JSON.stringify(missing.before.split("\n")[0])}`;
  for (const edit of patch.edits) text = text.replace(edit.before, () => edit.after);
  writeFileSync(`${file}.sluice-tmp`, text);
  renameSync(`${file}.sluice-tmp`, file);
  return "applied";
}

/** Applies every patch; prints one line per patch. */
export function applyPatches(nodeModules, log = (line) => console.log(line)) {
  const results = PATCHES.map((patch) => ({ patch, result: applyPatch(patch, nodeModules) }));
  for (const { patch, result } of results) log(`patch-dependencies: ${patch.pkg}/${patch.file}: ${result}`);
  return results.map((r) => r.result);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  applyPatches(path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "node_modules"));
}

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
const exprTag = `        [Symbol.toStringTag]() {
            return "Expr";
        },
`;
const exprInspect = `        [utils_1.INSPECT_SYMBOL]() {
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

/**
 * A method of an object literal (`        [key]() {` ... `        },`, 8 spaces in) as a statement that
 * assigns the same function to `object` after the literal (4 spaces in).
 */
function assigned(object, method) {
  const lines = method.trimEnd().split("\n");
  const head = /^ {8}(\*?)\[(.+)\]\(\) \{$/.exec(lines[0] ?? "");
  if (!head || lines.at(-1) !== "        },") throw new Error(`not a computed-key method: ${JSON.stringify(lines[0])}`);
  const body = lines.slice(1, -1).map((line) => line.slice(4));
  return [`    ${object}[${head[2]}] = function${head[1]} () {`, ...body, "    };"].join("\n") + "\n";
}

/** Edits that move `methods` out of an object literal, to be assigned to `object` where `anchor` (after the literal) is. */
function moveAfterLiteral(object, methods, anchor, anchorReplacement = anchor) {
  const moved = `    // ${PATCH_MARK}: computed keys assigned after the literal (nodejs-polars#265).\n${methods.map((m) => assigned(object, m)).join("")}`;
  const [closing, ...rest] = anchorReplacement.split(/(?<=^ {4}\};\n)/m);
  return [...methods.map((m) => ({ before: m, after: "" })), { before: anchor, after: `${closing}${moved}${rest.join("")}` }];
}

/** The patches, by package and file. */
export const PATCHES = [
  {
    pkg: "nodejs-polars",
    version: "0.26.1",
    file: "bin/lazy/expr/index.js",
    edits: [
      { before: "    return {\n        _expr,\n", after: "    const expr = {\n        _expr,\n" },
      ...moveAfterLiteral("expr", [exprTag, exprInspect], '        notEquals: wrapExprArg("neq"),\n    };\n};\n', '        notEquals: wrapExprArg("neq"),\n    };\n    return expr;\n};\n'),
    ],
  },
  {
    pkg: "nodejs-polars",
    version: "0.26.1",
    file: "bin/series/index.js",
    edits: moveAfterLiteral("series", [seriesInspect, seriesIterator, seriesTag], "    };\n    return new Proxy(series, {\n"),
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

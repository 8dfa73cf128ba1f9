/**
 * The codebase's shape rules (docs/architecture.md), checked on every `npm test` by parsing src/ with
 * the TypeScript compiler: the engine never imports user code, no function is longer than a screen,
 * and the environment is read at the edge only. Each rule is proven able to fail on a snippet first.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dirname, "..");
const SRC = path.join(ROOT, "src");
/** Folders of user code: jobs, their transforms and their checks. The engine finds jobs by file, it never imports them. */
const USER_CODE = ["jobs", "transforms", "validations"];
/** A function longer than this does not read at once. */
const MAX_FUNCTION_LINES = 80;
/**
 * The only files of src/ allowed to touch process.env. Today only the CLI's entry (cli/main.ts) does:
 * it hands process.env to the commands as the default of its `env` parameter (tests pass their own),
 * and every SLUICE_* variable is read from that map in core/config.ts. Sources read the variables they
 * declare (URL override, secrets) from the same map, handed down in RunSettings.env.
 */
const ENV_READERS = ["src/core/config.ts", "src/cli/main.ts"];

interface Source {
  /** Path from the repository root, with forward slashes. */
  rel: string;
  file: ts.SourceFile;
}

/** Parses TypeScript text; `rel` names it in findings. */
function parse(rel: string, text: string): Source {
  return { rel, file: ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true) };
}

/** Every .ts file under src/, parsed. */
function engineSources(): Source[] {
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  return files.map((f) => parse(path.posix.join("src", f.split(path.sep).join("/")), readFileSync(path.join(SRC, f), "utf8")));
}

/** Calls `visit` on every node of the file. */
function walk(source: Source, visit: (node: ts.Node) => void): void {
  const go = (node: ts.Node): void => {
    visit(node);
    ts.forEachChild(node, go);
  };
  go(source.file);
}

/** The module specifier of an import, re-export or import() with a literal path. */
function specifierOf(node: ts.Node): string | undefined {
  if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) return node.moduleSpecifier.text;
  if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) return node.arguments[0].text;
  return undefined;
}

/** Imports of the file that resolve into a user-code folder, as "<file> imports <target>". */
function userCodeImports(source: Source): string[] {
  const found: string[] = [];
  walk(source, (node) => {
    const spec = specifierOf(node);
    if (spec === undefined || !spec.startsWith(".")) return;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(source.rel), spec));
    if (USER_CODE.includes(target.split("/")[0] ?? "")) found.push(`${source.rel} imports ${target}`);
  });
  return found;
}

/** Functions, methods, accessors, constructors and arrow functions longer than `max` lines, as "<file>:<line> <name> (<n> lines)". */
function longFunctions(source: Source, max: number): string[] {
  const found: string[] = [];
  walk(source, (node) => {
    if (!ts.isFunctionLike(node) || !("body" in node) || node.body === undefined) return;
    const first = source.file.getLineAndCharacterOfPosition(node.getStart(source.file)).line;
    const last = source.file.getLineAndCharacterOfPosition(node.getEnd()).line;
    const lines = last - first + 1;
    if (lines <= max) return;
    const named = node.name ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined);
    found.push(`${source.rel}:${first + 1} ${named ? named.getText(source.file) : "(anonymous)"} (${lines} lines)`);
  });
  return found;
}

/** Reads of process.env (`process.env`, `process["env"]`), as "<file>:<line>". */
function envReads(source: Source): string[] {
  const found: string[] = [];
  walk(source, (node) => {
    const isProcess = (e: ts.Expression): boolean => ts.isIdentifier(e) && e.text === "process";
    const dotted = ts.isPropertyAccessExpression(node) && isProcess(node.expression) && node.name.text === "env";
    const indexed = ts.isElementAccessExpression(node) && isProcess(node.expression) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === "env";
    if (dotted || indexed) found.push(`${source.rel}:${source.file.getLineAndCharacterOfPosition(node.getStart(source.file)).line + 1}`);
  });
  return found;
}

const sources = engineSources();

test("no file in src/ imports from jobs/, transforms/ or validations/: the engine finds user code by file, never by import", () => {
  const bad = parse("src/pipeline/x.ts", 'import a from "../../jobs/events.ts";\nexport * from "../../transforms/sessions.ts";\nconst v = await import("../../validations/events.ts");\nimport b from "../core/dates.ts";');
  assert.deepEqual(userCodeImports(bad), ["src/pipeline/x.ts imports jobs/events.ts", "src/pipeline/x.ts imports transforms/sessions.ts", "src/pipeline/x.ts imports validations/events.ts"]);
  assert.ok(sources.length > 100, `read ${sources.length} files of src/`);
  assert.deepEqual(sources.flatMap(userCodeImports), []);
});

test(`no function, method or arrow function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const body = Array.from({ length: MAX_FUNCTION_LINES - 1 }, (_, i) => `  x += ${i};`).join("\n");
  const fits = body.split("\n").slice(1).join("\n");
  // The arrow function spans 82 lines; the method exactly 80, which is allowed.
  const bad = parse("src/x.ts", `export const long = (x: number) => {\n${body}\n  return x;\n};\nclass C {\n  m(x: number) {\n${fits}\n  }\n}`);
  assert.deepEqual(longFunctions(bad, MAX_FUNCTION_LINES), [`src/x.ts:1 long (${MAX_FUNCTION_LINES + 2} lines)`]);
  assert.deepEqual(
    sources.flatMap((s) => longFunctions(s, MAX_FUNCTION_LINES)),
    [],
    "split these into functions that each do one thing",
  );
});

test("process.env is touched in src/ only by the CLI's entry, which hands it on as a map (core/config.ts may too)", () => {
  const bad = parse("src/extract/x.ts", 'const a = process.env.SLUICE_X;\nconst b = process["env"];\nconst c = env.process;');
  assert.deepEqual(envReads(bad), ["src/extract/x.ts:1", "src/extract/x.ts:2"]);
  const readers = sources.filter((s) => envReads(s).length > 0).map((s) => s.rel);
  assert.deepEqual(readers.filter((r) => !ENV_READERS.includes(r)), [], "read environment variables in src/core/config.ts");
});

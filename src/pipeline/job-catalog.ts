/**
 * Jobs found by file: every module at the top of a jobs directory whose default export is a job
 * definition runs by its name, with no registry to edit. Files without a default export (shared
 * helpers) are skipped; a file that does not load is remembered with its error and never hides
 * the other jobs. The engine imports job files only here, by path, when the edge asks for them.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "../core/errors.ts";
import type { JobDefinition } from "./job.ts";

/** Anything that finds a job definition by name: the catalog, or a fixed map in a test. */
export interface JobLookup {
  /** The job named `name`; throws a UsageError naming the known jobs otherwise. */
  get(name: string): JobDefinition;
}

/** A job and the file that declares it (relative to the working directory when inside it). */
export interface CatalogEntry {
  job: JobDefinition;
  file: string;
}

/** A job file that could not be used, with its error on one line. */
export interface CatalogFailure {
  file: string;
  error: string;
}

/**
 * How the catalog turns a jobs directory's module files (absolute paths) into modules: Node's
 * import() of each by default; the CLI may hand in one that loads them prebuilt.
 */
export type JobImporter = (dir: string, files: readonly string[]) => Promise<(file: string) => Promise<Record<string, unknown>>>;

/** Each file as Node imports it. */
export const importEachFile: JobImporter = async () => async (file) => (await import(pathToFileURL(file).href)) as Record<string, unknown>;

/** Module files a jobs directory may hold; declaration files are not modules. */
const MODULE_FILE = /^(?!.*\.d\.m?ts$).+\.(?:ts|mts|js|mjs)$/;

/** True for a duck-typed job definition: name (string), description, tables (array) and run (function). */
export function isJobDefinition(value: unknown): value is JobDefinition {
  if (value === null || typeof value !== "object") return false;
  const job = value as Record<string, unknown>;
  return typeof job["name"] === "string" && job["name"].length > 0 && typeof job["description"] === "string" && Array.isArray(job["tables"]) && typeof job["run"] === "function";
}

/** The jobs of one directory, by name. */
export class JobCatalog implements JobLookup {
  private readonly byName: ReadonlyMap<string, CatalogEntry>;

  private constructor(
    /** The directory that was scanned (absolute). */
    readonly dir: string,
    /** The jobs, sorted by name. */
    readonly entries: readonly CatalogEntry[],
    /** Files that did not load or whose default export is not a job, sorted by file. */
    readonly failures: readonly CatalogFailure[],
  ) {
    this.byName = new Map(entries.map((e) => [e.job.name, e]));
  }

  /** Imports every top-level module file of `dir` (subfolders are not scanned). Throws UsageError when two files declare one name. */
  static async load(dir: string, importer: JobImporter = importEachFile): Promise<JobCatalog> {
    const absolute = path.resolve(dir);
    const listing = await readdir(absolute, { withFileTypes: true }).catch((error: unknown) => {
      throw new UsageError(`cannot read the jobs directory ${displayPath(absolute)}: ${oneLine(error)}`, { cause: error });
    });
    const files = listing.filter((d) => d.isFile() && MODULE_FILE.test(d.name)).map((d) => path.join(absolute, d.name)).sort();
    const importFile = await importer(absolute, files);
    const loaded = await Promise.all(files.map((file) => loadJobFile(file, importFile)));
    const entries: CatalogEntry[] = [];
    const failures: CatalogFailure[] = [];
    for (const result of loaded) {
      if (result.kind === "job") entries.push({ job: result.job, file: result.file });
      if (result.kind === "failed") failures.push({ file: result.file, error: result.error });
    }
    rejectDuplicates(entries);
    entries.sort((a, b) => a.job.name.localeCompare(b.job.name));
    return new JobCatalog(absolute, entries, failures);
  }

  /** Job names, sorted. */
  names(): string[] {
    return this.entries.map((e) => e.job.name);
  }

  /** The entry of `name`, if a file declares it. */
  find(name: string): CatalogEntry | undefined {
    return this.byName.get(name);
  }

  /** The job named `name` (bound: `const { get } = catalog` works); UsageError naming the known jobs and the files that did not load. */
  readonly get = (name: string): JobDefinition => {
    const entry = this.byName.get(name);
    if (entry) return entry.job;
    const known = this.entries.length > 0 ? this.names().join(", ") : `none in ${displayPath(this.dir)}`;
    const broken = this.failures.map((f) => `; ${f.file} did not load: ${f.error}`).join("");
    throw new UsageError(`unknown job "${name}"; known jobs: ${known}${broken}`);
  };
}

type LoadResult = { kind: "job"; job: JobDefinition; file: string } | { kind: "skipped" } | { kind: "failed"; file: string; error: string };

/** Imports one file and classifies its default export. */
async function loadJobFile(absolute: string, importFile: (file: string) => Promise<Record<string, unknown>>): Promise<LoadResult> {
  const file = displayPath(absolute);
  let module: Record<string, unknown>;
  try {
    module = await importFile(absolute);
  } catch (error) {
    return { kind: "failed", file, error: oneLine(error) };
  }
  const value = defaultExport(module);
  if (value === undefined) return { kind: "skipped" };
  if (isJobDefinition(value)) return { kind: "job", job: value, file };
  return { kind: "failed", file, error: "its default export is not a job definition (an object with name, description, tables and run; see defineJob)" };
}

/**
 * The module's default export. A file outside an ESM package is compiled to CommonJS: its
 * `export default` then arrives as `default.default` of a module marked `__esModule`.
 */
function defaultExport(module: Record<string, unknown>): unknown {
  const value = module["default"];
  if (value !== null && typeof value === "object" && (value as { __esModule?: unknown }).__esModule === true) {
    return (value as { default?: unknown }).default;
  }
  return value;
}

function rejectDuplicates(entries: readonly CatalogEntry[]): void {
  const seen = new Map<string, string>();
  for (const { job, file } of entries) {
    const first = seen.get(job.name);
    if (first !== undefined) {
      throw new UsageError(`two job files declare the job "${job.name}": ${first} and ${file}`, { hint: "rename one of them (the name of its default export)" });
    }
    seen.set(job.name, file);
  }
}

/** The path relative to the working directory when inside it, else absolute. */
function displayPath(absolute: string): string {
  const relative = path.relative(process.cwd(), absolute);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : absolute;
}

/** An error as one line: compiler errors span several lines, and a listing or usage error must not. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);
  const line = text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

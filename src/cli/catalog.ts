/** The job catalog as the commands that need jobs load it (the others never import a job file). */
import { resolveJobsDir, type Env } from "../core/config.ts";
import type { JobDefinition } from "../pipeline/job.ts";
import { JobCatalog, importEachFile, type JobImporter } from "../pipeline/job-catalog.ts";

/** How job files load: bin/sluice.mjs hands in its prebuilt loader; tests and other callers of the CLI import() each file. */
let importer: JobImporter = importEachFile;

/** Sets how every catalog after this call loads its job files. */
export function useJobImporter(jobImporter: JobImporter): void {
  importer = jobImporter;
}

/** The jobs of --jobs-dir, SLUICE_JOBS_DIR, ./jobs or the built-in jobs folder, in that order. */
export function loadCatalog(flags: { jobsDir?: string | undefined }, env: Env): Promise<JobCatalog> {
  return JobCatalog.load(resolveJobsDir({ flag: flags.jobsDir, env }), importer);
}

/** The job named `name`; UsageError naming the known jobs and the files that did not load otherwise. */
export async function findJob(name: string, flags: { jobsDir?: string | undefined }, env: Env): Promise<JobDefinition> {
  return (await loadCatalog(flags, env)).get(name);
}

/** The registry of built-in jobs, by name. */
import { UsageError } from "../src/core/errors.ts";
import type { JobDefinition } from "../src/pipeline/job.ts";
import events from "./events.ts";
import users from "./users.ts";

export const JOBS: ReadonlyMap<string, JobDefinition> = new Map([
  [events.name, events],
  [users.name, users],
]);

/** Looks a job up by name; UsageError listing the known jobs otherwise. */
export function getJob(name: string): JobDefinition {
  const job = JOBS.get(name);
  if (!job) throw new UsageError(`unknown job "${name}"; known jobs: ${[...JOBS.keys()].join(", ")}`);
  return job;
}

/** A job's own report charts: its charts hook, called with the partition and the lake's files. */
import { SluiceError } from "../core/errors.ts";
import { lakePartitionPath } from "../load/lake.ts";
import type { JobDefinition, LakeFiles, ReportChart } from "../pipeline/job.ts";
import { isFile } from "./paths.ts";

/** The lake's files under a data dir. */
export function lakeFiles(dataDir: string): LakeFiles {
  return {
    async partitionFile(table, dt) {
      const file = lakePartitionPath(dataDir, table, dt);
      return (await isFile(file)) ? file : null;
    },
  };
}

/** A job's charts for partition `dt` ([] without a hook); SluiceError naming job and partition when the hook fails. */
export async function jobCharts(job: Pick<JobDefinition, "name" | "charts">, dataDir: string, dt: string): Promise<ReportChart[]> {
  if (job.charts === undefined) return [];
  try {
    return await job.charts({ dt, lake: lakeFiles(dataDir) });
  } catch (error) {
    throw new SluiceError(`could not compute the report charts of ${job.name} ${dt} from the lake: ${(error as Error).message}`, {
      cause: error,
      context: { job: job.name, partition: dt, stage: "report" },
    });
  }
}

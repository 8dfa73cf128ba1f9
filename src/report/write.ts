/** Writing a partition's report: the shared Chart.js asset first, then the page, each atomically. */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { SluiceError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import { ensureChartAsset } from "./chart-asset.ts";
import type { ReportCharts } from "./charts.ts";
import { reportPath } from "./paths.ts";
import { renderRunReport } from "./render.ts";

export interface RunReportOptions {
  dataDir: string;
  /** The job's own charts (its charts hook); a time-per-step chart is always added. */
  charts?: ReportCharts;
  /** Clock of the "generated at" line (tests). */
  now?: Date;
}

/** Writes the HTML report of one partition run atomically (temp file + rename); returns its path. */
export async function writeRunReport(outcome: PartitionOutcome, options: RunReportOptions): Promise<string> {
  const target = reportPath(options.dataDir, outcome.job, outcome.dt);
  const html = renderRunReport(outcome, options.charts ?? [], options.now ?? new Date());
  // The asset first, so a report never points at a missing Chart.js; dot-prefixed temps: latestReport
  // and a browser refreshing the page never see half a file.
  try {
    await ensureChartAsset(options.dataDir);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, html, { durable: true });
  } catch (error) {
    throw new SluiceError(`could not write report ${target}: ${(error as Error).message}`, { cause: error, context: { job: outcome.job, partition: outcome.dt, stage: "report" } });
  }
  return target;
}

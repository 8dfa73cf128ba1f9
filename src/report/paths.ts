/** Where reports live: `<dataDir>/reports/<job>/<dt>.html`, and the latest one of a job. */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { SluiceError } from "../core/errors.ts";

const DT_RE = /^\d{4}-\d{2}-\d{2}$/;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;
/** The directory of the assets reports share (Chart.js), beside the jobs' report directories. */
export const ASSETS_DIR = "_assets";

/** `<dataDir>/reports`. */
export function reportsDir(dataDir: string): string {
  return path.join(dataDir, "reports");
}

/** Where the report of a partition lives: `<dataDir>/reports/<job>/<dt>.html`. */
export function reportPath(dataDir: string, job: string, dt: string): string {
  if (!NAME_RE.test(job) || job === ASSETS_DIR) throw new SluiceError(`job name "${job}" cannot be a report directory`, { context: { job } });
  if (!DT_RE.test(dt)) throw new SluiceError(`"${dt}" is not a YYYY-MM-DD partition`, { context: { job, partition: dt } });
  return path.join(reportsDir(dataDir), job, `${dt}.html`);
}

/** The path of a job's report for `dt`, or of its latest partition's report when dt is omitted; null when none exists. */
export async function latestReport(dataDir: string, job: string, dt?: string): Promise<string | null> {
  if (dt !== undefined) {
    const file = reportPath(dataDir, job, dt);
    return (await isFile(file)) ? file : null;
  }
  const dir = path.dirname(reportPath(dataDir, job, "2000-01-01"));
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const dts = names.filter((n) => /^\d{4}-\d{2}-\d{2}\.html$/.test(n)).sort();
  const last = dts.at(-1);
  return last === undefined ? null : path.join(dir, last);
}

/** True when `file` is a regular file. */
export async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

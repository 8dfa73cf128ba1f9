/**
 * Chart.js is written once per data dir, `<dataDir>/reports/_assets/chart.umd.js`, and every report
 * loads it by a relative `<script src>`: a report stays viewable offline from the data dir without
 * carrying its own 200 KB copy.
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import { ASSETS_DIR, reportsDir } from "./paths.ts";

const CHART_JS_FILE = "chart.umd.js";
/** The script src of Chart.js in a report at `reports/<job>/<dt>.html`. */
export const CHART_JS_SRC = `../${ASSETS_DIR}/${CHART_JS_FILE}`;

let chartJsSource: Buffer | undefined;

/** Chart.js's UMD build, read once, without its source-map comment (which would make devtools fetch a file). */
export function chartJs(): Buffer {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    const file = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.min.js");
    chartJsSource = Buffer.from(readFileSync(file, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"));
  }
  return chartJsSource;
}

/** The data dir's copy of Chart.js. */
export function chartAssetPath(dataDir: string): string {
  return path.join(reportsDir(dataDir), ASSETS_DIR, CHART_JS_FILE);
}

/** Writes Chart.js into the data dir's report assets, atomically, only when it is missing or different; returns its path. */
export async function ensureChartAsset(dataDir: string): Promise<string> {
  const target = chartAssetPath(dataDir);
  const wanted = chartJs();
  const present = await readFile(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (present === null || !present.equals(wanted)) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, wanted, { durable: true });
  }
  return target;
}

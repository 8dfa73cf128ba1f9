/**
 * Runs that ended while the warehouse was held elsewhere (a long query, a DuckDB session) and so
 * could not be written to sluice.runs. Their rows wait as small files in `<data-dir>/runs-pending/`
 * and are written by the next process that opens the warehouse for a run (or the loader), so a
 * failed run is never lost from the record only because the warehouse was busy when it failed.
 */
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/fs.ts";
import { recordRun, type DuckDBConnection } from "../load/warehouse.ts";
import type { RunRecord } from "../load/types.ts";

const DIR = "runs-pending";

/** Keeps `run` for sluice.runs until a later warehouse write can record it. */
export async function deferRunRecord(dataDir: string, run: RunRecord): Promise<void> {
  const dir = path.join(dataDir, DIR);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, `${encodeURIComponent(run.runId)}.json`), JSON.stringify(run), { durable: true });
}

/** Writes every deferred run row (on `conn`, a write session) and forgets it; returns the partitions recorded. */
export async function recordDeferredRuns(conn: DuckDBConnection, dataDir: string): Promise<Array<{ job: string; dt: string }>> {
  const dir = path.join(dataDir, DIR);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".json")).sort();
  const recorded: Array<{ job: string; dt: string }> = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const run = parseRunRecord(await readFile(file, "utf8").catch(() => ""));
    // A file that does not parse was cut short by a crash while being written: nothing to record.
    if (run) {
      await recordRun(conn, run);
      recorded.push({ job: run.job, dt: run.dt });
    }
    await rm(file, { force: true });
  }
  return recorded;
}

function parseRunRecord(text: string): RunRecord | undefined {
  try {
    const raw = JSON.parse(text) as Omit<RunRecord, "startedAt" | "finishedAt"> & { startedAt: string; finishedAt: string | null };
    if (typeof raw.runId !== "string" || typeof raw.dt !== "string") return undefined;
    return { ...raw, startedAt: new Date(raw.startedAt), finishedAt: raw.finishedAt === null ? null : new Date(raw.finishedAt) };
  } catch {
    return undefined;
  }
}

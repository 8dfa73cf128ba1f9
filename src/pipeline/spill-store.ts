/**
 * Where a run keeps the rows that do not fit in memory: `<dataDir>/spill/<job>/<dt>/<runId>/`,
 * one directory per output, Arrow IPC files inside. Spilled files are scratch: never read by
 * another run, removed when the run ends, and a killed run's leftovers are removed by the next run
 * of the partition (which holds the partition's lock, so no live run owns them).
 */
import { mkdir, readdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";

export class SpillStore {
  private prepared: Promise<void> | null = null;
  private outputs = 0;

  private constructor(
    private readonly partitionDir: string,
    readonly root: string,
  ) {}

  /** The spill store of one run of a partition. */
  static forRun(dataDir: string, job: string, dt: string, runId: string): SpillStore {
    // no key=value segment: Polars' readers take those for columns (a `dt` one would replace the rows' dt)
    const partitionDir = path.join(dataDir, "spill", job, dt);
    return new SpillStore(partitionDir, path.join(partitionDir, runId));
  }

  /** A fresh, empty directory for one output; `name` only helps a human reading the spill tree. */
  async dir(name: string): Promise<string> {
    this.prepared ??= this.prepare();
    await this.prepared;
    const dir = path.join(this.root, `${String(++this.outputs).padStart(4, "0")}-${name.replace(/[^A-Za-z0-9_-]+/g, "_")}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Removes everything this run spilled (idempotent). */
  async remove(): Promise<void> {
    if (this.prepared === null) return;
    await this.prepared.catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
    // the directories above it go too once nothing is left in them (another run may still use one: rmdir then fails)
    let dir = this.partitionDir;
    for (let up = 0; up < 3; up++, dir = path.dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
    }
  }

  /** First use: leftovers of killed runs of the partition go, then the run's own directory is made. */
  private async prepare(): Promise<void> {
    for (const name of await readdir(this.partitionDir).catch(() => [] as string[])) {
      if (path.join(this.partitionDir, name) !== this.root) await rm(path.join(this.partitionDir, name), { recursive: true, force: true });
    }
    await mkdir(this.root, { recursive: true });
  }
}

/** The file name of piece `index` of a spilled output in group `group`: names sort in group, then piece order. */
export function pieceName(group: number, index: number, format: "ipc" | "parquet" = "ipc"): string {
  return `g${String(group).padStart(5, "0")}-p${String(index).padStart(7, "0")}.${format}`;
}

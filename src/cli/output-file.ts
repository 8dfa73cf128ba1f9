/**
 * The file `sluice query --output FILE` writes: the one write a query may do, so it is guarded.
 * Never inside the data directory (a query must not be a way to overwrite the lake or the
 * warehouse), never over an existing file, and whole or not at all: the result goes to a temporary
 * file beside it, linked into place only when complete.
 */
import { randomUUID } from "node:crypto";
import { existsSync, lstatSync, realpathSync, statSync } from "node:fs";
import { link, rename, rm } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../core/errors.ts";

/** True when `child` is `parent` or inside it. */
function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export class OutputFile {
  private constructor(
    /** Where the result ends up. */
    readonly target: string,
    /** Where it is written first (same directory, so linking it into place is atomic). */
    readonly temp: string,
  ) {}

  /** Checks `output` before anything runs; UsageError naming the path when it cannot be written safely. */
  static check(output: string, dataDir: string): OutputFile {
    const target = path.resolve(output);
    const dir = path.dirname(target);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--output "${output}": the folder ${dir} does not exist`);
    if (lstatExists(target)) throw new UsageError(`--output "${output}" already exists; sluice query does not overwrite files`, { hint: "remove it first, or pick another path" });
    const realDir = realpathSync(dir);
    for (const data of new Set([path.resolve(dataDir), realpathOr(dataDir)])) {
      if (isInside(path.join(realDir, path.basename(target)), data) || isInside(target, data)) {
        throw new UsageError(`--output "${output}" is inside the data directory ${dataDir}; a query never writes there`, { hint: "write the extract somewhere else" });
      }
    }
    return new OutputFile(target, path.join(realDir, `.${path.basename(target)}.${randomUUID().slice(0, 8)}.tmp`));
  }

  /** Moves the complete temporary file into place, refusing to replace a file that appeared meanwhile. */
  async commit(): Promise<void> {
    try {
      await link(this.temp, this.target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw new UsageError(`--output "${this.target}" appeared while the query ran; it was left as it is`);
      // A file system without hard links: a rename, which replaces the target only in that race.
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw error;
      await rename(this.temp, this.target);
      return;
    }
    await rm(this.temp, { force: true });
  }

  /** Removes the temporary file (a failed or stopped query leaves nothing behind). */
  async discard(): Promise<void> {
    await rm(this.temp, { force: true });
  }
}

function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function realpathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/** System tools the tests drive (Chromium, Redis, Prometheus): whether they are installed. */
import { spawnSync } from "node:child_process";

/** True when `bin` is on PATH. */
export function hasCommand(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;
}

/** The `sluice` command as its own process, the way scripts and operators run it. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

/** The project root (where package.json and bin/ are). */
export const ROOT = path.resolve(import.meta.dirname, "..", "..");

/** A copy of `env` without SLUICE_* variables, so the caller's settings cannot leak into a child. */
export function cleanEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("SLUICE_")));
}

/** How a `sluice` child process ended. */
export interface SluiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `sluice <args>` as its own process with a clean SLUICE_* environment (log level warn) plus `env`. */
export function startSluice(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<SluiceExit> } {
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "sluice.mjs"), ...args], { cwd: ROOT, env: { ...cleanEnv(), SLUICE_LOG_LEVEL: "warn", ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<SluiceExit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `sluice <args>` to the end (see startSluice). */
export function runSluice(args: string[], env: Record<string, string> = {}): Promise<SluiceExit> {
  return startSluice(args, env).done;
}

/** Headless Chromium for rendering run reports (Debian package chromium): one set of flags for tests and scripts. */
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { tempDir } from "./dirs.ts";
import { hasCommand } from "./tools.ts";

/** The Chromium binary on PATH, or undefined when none is installed. */
export function chromiumBinary(): string | undefined {
  return ["chromium", "chromium-browser", "google-chrome"].find(hasCommand);
}

/** Headless, sandbox-free (root in CI), and quiet: no GPU, no network chatter, no first-run or sync. */
const HEADLESS_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** How a Chromium run ended. */
export interface ChromiumExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs headless Chromium with `args` on a throwaway profile; killed after `timeoutMs`. */
export async function runChromium(bin: string, args: string[], timeoutMs = 120_000): Promise<ChromiumExit> {
  const profile = await tempDir("sluice-chromium-");
  try {
    return await new Promise<ChromiumExit>((resolve, reject) => {
      const child = spawn(bin, [...HEADLESS_FLAGS, `--user-data-dir=${profile}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** Window size and extra flags of a dumpDom run. */
export interface DumpDomOptions {
  width?: number;
  height?: number;
  flags?: string[];
  timeoutMs?: number;
}

/** The DOM of an HTML file after its scripts ran (window 1280x2000 unless told). */
export async function dumpDom(bin: string, file: string, options: DumpDomOptions = {}): Promise<string> {
  const { width = 1280, height = 2000, flags = [], timeoutMs } = options;
  const res = await runChromium(bin, [...flags, `--window-size=${width},${height}`, "--dump-dom", `file://${file}`], timeoutMs);
  if (res.code !== 0 || !res.stdout.includes("</html>")) throw new Error(`chromium exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return res.stdout;
}

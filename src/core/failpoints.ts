/**
 * Named points where a test can kill the process (SIGKILL, no cleanup), to prove that a run
 * killed at any moment leaves nothing partial behind. Inert unless SLUICE_FAILPOINT names the point.
 */
const armed = process.env["SLUICE_FAILPOINT"];

/** Kills this process on the spot when SLUICE_FAILPOINT equals `name`. */
export function failpoint(name: string): void {
  if (armed !== undefined && armed === name) {
    process.kill(process.pid, "SIGKILL");
  }
}

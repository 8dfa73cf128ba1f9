/**
 * Named points where a test can kill the process (SIGKILL, no cleanup), to prove that a run
 * killed at any moment leaves nothing partial behind. Inert until the CLI arms one (SLUICE_FAILPOINT).
 */
let armed: string | undefined;

/** Arms the named failpoint for this process (undefined disarms); the CLI calls it with the configured name. */
export function armFailpoint(name: string | undefined): void {
  armed = name;
}

/** Kills this process on the spot when the armed failpoint equals `name`. */
export function failpoint(name: string): void {
  if (armed !== undefined && armed === name) {
    process.kill(process.pid, "SIGKILL");
  }
}

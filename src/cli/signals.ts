/** Ctrl-C for every command: the first SIGINT/SIGTERM asks the work to stop, a second one exits at once. */
import type { Io } from "./context.ts";

/** Runs `fn` with a signal that the first SIGINT/SIGTERM aborts (saying `message`); a second one exits 130. */
export async function untilSignal<T>(io: Pick<Io, "stderr">, message: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    io.stderr(`\n${signal}: ${message} (press again to exit now)\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

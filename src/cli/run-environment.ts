/** What `run` and `backfill` set up around their partitions: logging, Ctrl-C, and the demo API when no URL is given. */
import type { Settings } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { startDemoApi, type DemoApi } from "../demo-api/index.ts";
import type { RunSettings } from "../pipeline/run.ts";
import type { CliContext } from "./context.ts";
import { untilSignal } from "./signals.ts";

/** Everything of RunSettings but the preview switch, which only `run` has. */
export type RunEnvironment = Omit<RunSettings, "preview">;

/** Sets up logging, cancellation on SIGINT/SIGTERM, and the in-process demo API when no URL is given. */
export async function withRunEnvironment(
  settings: Settings,
  { io, env }: Pick<CliContext, "io" | "env">,
  fn: (run: RunEnvironment) => Promise<void>,
  options: { demoApi: boolean } = { demoApi: true },
): Promise<void> {
  const log = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [] });
  let demo: DemoApi | undefined;
  try {
    await untilSignal(io, "stopping; no new partitions start, running ones roll back", async (signal) => {
      let apiUrl = settings.apiUrl;
      if (apiUrl === undefined && options.demoApi) {
        demo = await startDemoApi(settings.apiToken ? { token: settings.apiToken } : {});
        apiUrl = demo.url;
        io.stderr(`no --api-url or SLUICE_API_URL given: using the built-in demo API at ${apiUrl}\n`);
      }
      await fn({
        dataDir: settings.dataDir,
        apiUrl: apiUrl ?? "",
        signal,
        log,
        env,
        refetch: settings.refetch,
        keepRaw: settings.keepRaw,
        onWait: (m) => io.stderr(`${m}\n`),
      });
    });
  } finally {
    await demo?.close();
    log.flush();
  }
}

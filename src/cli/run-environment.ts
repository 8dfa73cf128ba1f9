/** What `run`, `backfill` and `catch-up` set up around their partitions: logging, secrets, Ctrl-C, alerts, and the demo API when no URL is given. */
import type { Settings } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import type { DemoApi } from "../demo-api/index.ts";
import { Redactor } from "../extract/index.ts";
import type { AlertTarget } from "../operate/alert-webhook.ts";
import type { RunSettings } from "../pipeline/index.ts";
import type { CliContext } from "./context.ts";
import { untilSignal } from "./signals.ts";

/** Everything of RunSettings but the preview switch, which only `run` has. */
export type RunEnvironment = Omit<RunSettings, "preview">;

/** Sets up logging, the secrets' redactor, cancellation on SIGINT/SIGTERM, and the in-process demo API when no URL is given. */
export async function withRunEnvironment(
  settings: Settings,
  { io, env }: Pick<CliContext, "io" | "env">,
  fn: (run: RunEnvironment) => Promise<void>,
  options: { demoApi: boolean } = { demoApi: true },
): Promise<void> {
  // Every secret the sources use is registered here as they read it, so logs and alerts can redact it.
  const redactor = new Redactor(settings.apiToken ? [settings.apiToken] : []);
  const log = createLogger({ level: settings.logLevel, secrets: settings.apiToken ? [settings.apiToken] : [], redactor });
  // Sources read their base URL from the environment: --api-url is SLUICE_API_URL, the demo API's override.
  const sourceEnv = settings.apiUrl === undefined ? env : { ...env, SLUICE_API_URL: settings.apiUrl };
  // The demo API starts only when a source of the job needs it (no override given).
  let demo: Promise<DemoApi> | undefined;
  const demoApi = async (): Promise<string> => {
    // loaded only when used: a run given an API URL does not pay for the server's ~25 modules
    demo ??= import("../demo-api/index.ts").then(({ startDemoApi }) => startDemoApi(settings.apiToken ? { token: settings.apiToken } : {})).then((api) => {
      io.stderr(`no --api-url or SLUICE_API_URL given: using the built-in demo API at ${api.url}\n`);
      return api;
    });
    return (await demo).url;
  };
  try {
    await untilSignal(io, "stopping; no new partitions start, running ones roll back", async (signal) => {
      await fn({
        dataDir: settings.dataDir,
        signal,
        log,
        env: sourceEnv,
        redactor,
        ...(options.demoApi ? { demoApi } : {}),
        refetch: settings.refetch,
        keepRaw: settings.keepRaw,
        ...(settings.groupRows ? { groupRows: settings.groupRows } : {}),
        onWait: (m) => io.stderr(`${m}\n`),
      });
    });
  } finally {
    await (await demo?.catch(() => undefined))?.close();
    log.flush();
  }
}

/** Where a command's alert goes (SLUICE_ALERT_WEBHOOK), redacting every secret its runs used. */
export function alertTarget(settings: Settings, run: Pick<RunEnvironment, "log" | "redactor">): AlertTarget {
  const redactor = run.redactor;
  const secrets = (): string[] => [...(settings.apiToken ? [settings.apiToken] : []), ...(redactor?.list() ?? [])];
  return { url: settings.alertWebhook, secrets, log: run.log };
}

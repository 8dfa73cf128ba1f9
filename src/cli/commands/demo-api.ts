/** `sluice demo-api`: the built-in source API, served until interrupted. */
import { Option, type Command } from "commander";
import { resolveApiToken } from "../../core/config.ts";
import { parseDay } from "../../core/dates.ts";
import { UsageError } from "../../core/errors.ts";
import { DAY_ANOMALIES, type DayAnomaly } from "../../demo-api/anomalies.ts";
import type { CliContext } from "../context.ts";
import { fractionOption, intOption } from "../options.ts";
import { aborted, untilSignal } from "../signals.ts";

interface DemoApiFlags {
  port: number;
  seed: number;
  eventsPerDay: number;
  faultRate: number;
  anomaly: Record<string, DayAnomaly>;
  latencyMs: number;
}

/** Adds `sluice demo-api`. */
export function registerDemoApi(program: Command, { io, env }: CliContext): void {
  program
    .command("demo-api")
    .description("Serve the built-in demo source API (deterministic clickstream and users) until interrupted")
    .addOption(intOption("port", "port on 127.0.0.1 (0 = any free port)", 0, 65535, 8787))
    .addOption(intOption("seed", "seed of the generated data", 0, 2 ** 31 - 1, 42))
    .addOption(intOption("events-per-day", "events generated per UTC day", 0, 50_000_000, 20000))
    .addOption(fractionOption("fault-rate", "probability that a request misbehaves (429, 5xx, resets, stalls, bad bodies)", 0))
    .addOption(anomalyOption())
    .addOption(intOption("latency-ms", "every response is sent this many ms after its request (a slow API, not a fault)", 0, 600_000, 0))
    .action(async ({ port, seed, eventsPerDay, faultRate, anomaly, latencyMs }: DemoApiFlags) => {
      const token = resolveApiToken(env);
      // loaded here: every other command line would pay for the server's ~25 modules
      const { startDemoApi } = await import("../../demo-api/index.ts");
      const api = await startDemoApi({ port, seed, eventsPerDay, faultRate, anomalies: anomaly, latencyMs, ...(token ? { token } : {}) });
      const days = Object.entries(anomaly).map(([dt, kind]) => `${dt} ${kind}`);
      io.stderr(`demo API listening on ${api.url} (seed ${seed}, ${eventsPerDay} events/day, fault rate ${faultRate}${latencyMs > 0 ? `, latency ${latencyMs} ms` : ""}${days.length > 0 ? `, anomalies: ${days.join(", ")}` : ""}${token ? ", token required" : ""}); Ctrl-C to stop\n`);
      await untilSignal(io, "stopping the demo API", aborted);
      await api.close();
    });
}

/** --anomaly YYYY-MM-DD=KIND, repeatable: days whose events listing misbehaves silently. */
function anomalyOption(): Option {
  return new Option("--anomaly <YYYY-MM-DD=kind>", `a day the API serves wrongly without an error: ${DAY_ANOMALIES.join(" or ")} (repeatable)`)
    .argParser((value: string, previous: Record<string, DayAnomaly>) => ({ ...previous, ...parseAnomaly(value) }))
    .default({}, "none");
}

/** "2026-11-24=half_empty" as { "2026-11-24": "half_empty" }; UsageError naming the bad part. */
export function parseAnomaly(value: string): Record<string, DayAnomaly> {
  const m = /^([^=]+)=(.*)$/.exec(value);
  if (!m) throw new UsageError(`--anomaly "${value}" must be YYYY-MM-DD=kind, e.g. 2026-11-24=half_empty`);
  const dt = parseDay(m[1] as string, "anomaly");
  const kind = m[2] as string;
  if (!(DAY_ANOMALIES as readonly string[]).includes(kind)) throw new UsageError(`--anomaly "${value}": unknown kind "${kind}" (one of ${DAY_ANOMALIES.join(", ")})`);
  return { [dt]: kind as DayAnomaly };
}

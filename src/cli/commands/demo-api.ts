/** `sluice demo-api`: the built-in source API, served until interrupted. */
import type { Command } from "commander";
import { resolveApiToken } from "../../core/config.ts";
import { startDemoApi } from "../../demo-api/index.ts";
import type { CliContext } from "../context.ts";
import { fractionOption, intOption } from "../options.ts";
import { aborted, untilSignal } from "../signals.ts";

interface DemoApiFlags {
  port: number;
  seed: number;
  eventsPerDay: number;
  faultRate: number;
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
    .addOption(intOption("latency-ms", "answer every request this many ms after it arrives (a slow, realistic API)", 0, 60_000, 0))
    .action(async ({ port, seed, eventsPerDay, faultRate, latencyMs }: DemoApiFlags) => {
      const token = resolveApiToken(env);
      const api = await startDemoApi({ port, seed, eventsPerDay, faultRate, latencyMs, ...(token ? { token } : {}) });
      const latency = latencyMs > 0 ? `, ${latencyMs} ms latency` : "";
      io.stderr(`demo API listening on ${api.url} (seed ${seed}, ${eventsPerDay} events/day, fault rate ${faultRate}${latency}${token ? ", token required" : ""}); Ctrl-C to stop\n`);
      await untilSignal(io, "stopping the demo API", aborted);
      await api.close();
    });
}

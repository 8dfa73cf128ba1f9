/** Settings validated once at the edge (flags + environment) with zod; plain typed objects inside. */
import path from "node:path";
import { z } from "zod";
import { UsageError } from "./errors.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const SettingsSchema = z.object({
  dataDir: z.string().min(1).default("./data"),
  apiUrl: z
    .url({ protocol: /^https?$/, error: (issue) => `--api-url ${JSON.stringify(issue.input)} is not an http(s) URL` })
    .optional(),
  apiToken: z.string().min(1).optional(),
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Keep landed raw pages after a successful run (default: remove them). */
  keepRaw: z.boolean().default(false),
  refetch: z.boolean().default(false),
  pushgatewayUrl: z.url().optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** Raw inputs: CLI flags (already parsed by commander) and the environment. */
export interface SettingsInput {
  flags: { dataDir?: string | undefined; apiUrl?: string | undefined; logLevel?: string | undefined; keepRaw?: boolean | undefined; refetch?: boolean | undefined };
  env: Record<string, string | undefined>;
}

/** Flags win over the environment; defaults live in the schema. Throws UsageError on bad input. */
export function resolveSettings({ flags, env }: SettingsInput): Settings {
  const candidate = dropUndefined({
    dataDir: flags.dataDir ?? env["SLUICE_DATA_DIR"],
    apiUrl: flags.apiUrl ?? env["SLUICE_API_URL"],
    apiToken: env["SLUICE_API_TOKEN"] || undefined,
    logLevel: flags.logLevel ?? env["SLUICE_LOG_LEVEL"],
    keepRaw: flags.keepRaw,
    refetch: flags.refetch,
    pushgatewayUrl: env["SLUICE_PUSHGATEWAY_URL"] || undefined,
  });
  const parsed = SettingsSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") ?? "settings";
    throw new UsageError(issue?.message.includes("--") ? issue.message : `invalid ${where}: ${issue?.message ?? "unknown problem"}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
}

function dropUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Settings validated once at the edge (flags + environment) with zod; plain typed objects inside.
 * Every environment variable Sluice reads is named here and nowhere else (source secrets excepted:
 * a source declares the variable of its own secret).
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { UsageError } from "./errors.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The process environment as a plain record (process.env at the edge, a literal in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The jobs shipped with Sluice: used when neither --jobs-dir nor SLUICE_JOBS_DIR is given and ./jobs does not exist. */
export const BUILTIN_JOBS_DIR = path.resolve(import.meta.dirname, "..", "..", "jobs");

/** The SLUICE_* variables by setting; an empty value counts as unset. */
function fromEnv(env: Env) {
  const read = (name: string): string | undefined => env[name] || undefined;
  return {
    dataDir: read("SLUICE_DATA_DIR"),
    apiUrl: read("SLUICE_API_URL"),
    apiToken: read("SLUICE_API_TOKEN"),
    logLevel: read("SLUICE_LOG_LEVEL"),
    pushgatewayUrl: read("SLUICE_PUSHGATEWAY_URL"),
    queueUrl: read("SLUICE_QUEUE_URL"),
    queueTuning: read("SLUICE_QUEUE_TUNING"),
    jobsDir: read("SLUICE_JOBS_DIR"),
    failpoint: read("SLUICE_FAILPOINT"),
    alertWebhook: read("SLUICE_ALERT_WEBHOOK"),
    backfillMaxDays: read("SLUICE_BACKFILL_MAX_DAYS"),
    groupRows: read("SLUICE_GROUP_ROWS"),
  };
}

const SettingsSchema = z.object({
  dataDir: z.string().min(1).default("./data"),
  apiUrl: z
    .url({ protocol: /^https?$/, error: (issue) => `--api-url ${JSON.stringify(issue.input)} is not an http(s) URL` })
    // URL credentials would be dropped silently (fetch sends no userinfo) and leak into logs and ps.
    .refine((url) => !hasUserinfo(url), {
      error: (issue) => `--api-url ${JSON.stringify(withoutUserinfo(String(issue.input)))} carries credentials (user:password@), which Sluice does not send; give the demo API's token in SLUICE_API_TOKEN instead`,
    })
    .optional(),
  apiToken: z
    .string()
    .min(1)
    // A CR from a CRLF file is not a valid header value: refused here, before any request, never quoted.
    .refine((token) => controlCharacterIn(token) === undefined, {
      error: (issue) => {
        const bad = controlCharacterIn(String(issue.input));
        const fix = bad?.code === "000D" ? "it ends in a carriage return (a file saved with Windows line endings?): strip it, e.g. SLUICE_API_TOKEN=$(tr -d '\\r' < file)" : "remove the character";
        return `SLUICE_API_TOKEN holds a control character (U+${bad?.code ?? "?"}) at position ${bad?.position ?? "?"}; it cannot be sent in a request: ${fix}`;
      },
    })
    .optional(),
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Keep landed raw pages after a successful run (default: remove them). */
  keepRaw: z.boolean().default(false),
  refetch: z.boolean().default(false),
  pushgatewayUrl: z.url().optional(),
  /** Where run, backfill and catch-up post a summary when they end with failures (SLUICE_ALERT_WEBHOOK). */
  alertWebhook: z
    // The URL is a secret itself (Slack's carry their token in the path): never quoted back.
    .url({ protocol: /^https?$/, error: () => "SLUICE_ALERT_WEBHOOK is not an http(s) URL" })
    .optional(),
  /** Rows a chunked stage holds at once (its memory budget): a larger day is kept on disk in groups. */
  groupRows: z
    .string()
    .regex(/^[1-9]\d*$/, { error: (issue) => `SLUICE_GROUP_ROWS=${JSON.stringify(issue.input)} is not a whole number of rows above 0` })
    .transform(Number)
    .optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** Raw inputs: CLI flags (already parsed by commander) and the environment. */
export interface SettingsInput {
  flags: { dataDir?: string | undefined; apiUrl?: string | undefined; logLevel?: string | undefined; keepRaw?: boolean | undefined; refetch?: boolean | undefined };
  env: Env;
  /** The log level when neither --log-level nor SLUICE_LOG_LEVEL is given (default info). */
  defaultLogLevel?: LogLevel;
}

/** Flags win over the environment; defaults live in the schema. Throws UsageError on bad input. */
export function resolveSettings(input: SettingsInput): Settings {
  return resolveSettingsFor(SETTING_KEYS, input);
}

const SETTING_KEYS = Object.keys(SettingsSchema.shape) as Array<keyof Settings>;

/**
 * Only the settings a command uses, validated alone: `sluice query` reads the data directory, so a
 * malformed SLUICE_API_URL (which only sources use) is not its concern. Throws UsageError on bad input.
 */
export function resolveSettingsFor<K extends keyof Settings>(keys: readonly K[], { flags, env, defaultLogLevel }: SettingsInput): Pick<Settings, K> {
  const vars = fromEnv(env);
  const candidate = dropUndefined({
    dataDir: flags.dataDir ?? vars.dataDir,
    apiUrl: flags.apiUrl ?? vars.apiUrl,
    apiToken: vars.apiToken,
    logLevel: flags.logLevel ?? vars.logLevel ?? defaultLogLevel,
    keepRaw: flags.keepRaw,
    refetch: flags.refetch,
    pushgatewayUrl: vars.pushgatewayUrl,
    alertWebhook: vars.alertWebhook,
    groupRows: vars.groupRows,
  });
  // Settings the command does not use are left out before validation (they take their defaults).
  const used = Object.fromEntries(Object.entries(candidate).filter(([key]) => (keys as readonly string[]).includes(key)));
  const parsed = SettingsSchema.safeParse(used);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") ?? "settings";
    const own = issue !== undefined && /--|SLUICE_/.test(issue.message);
    throw new UsageError(own ? issue.message : `invalid ${where}: ${issue?.message ?? "unknown problem"}`);
  }
  const settings: Settings = { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
  return settings;
}

/** The bearer token of the demo API and the built-in jobs (SLUICE_API_TOKEN), if set. */
export function resolveApiToken(env: Env): string | undefined {
  return fromEnv(env).apiToken;
}

/** The queue of `sluice worker` and `sluice loader` when neither --queue nor SLUICE_QUEUE_URL is given. */
export const DEFAULT_QUEUE_URL = "redis://127.0.0.1:6379";

/** The queue URL from --queue or SLUICE_QUEUE_URL, unvalidated (the queue checks its form), or undefined: run locally. */
export function resolveQueueUrl(flag: string | undefined, env: Env): string | undefined {
  return flag ?? fromEnv(env).queueUrl;
}

const TuningSchema = z.record(z.string(), z.number({ error: (issue) => `must be a number, got ${JSON.stringify(issue.input)}` }), {
  error: "must be a JSON object",
});

/** Queue timings overridden by SLUICE_QUEUE_TUNING (a JSON object, for tests); the queue checks the ranges. */
export type QueueTuningOverrides = Readonly<Record<string, number>>;

/** Parses SLUICE_QUEUE_TUNING; empty when unset. Throws UsageError when it is not a JSON object of numbers. */
export function resolveQueueTuning(env: Env): QueueTuningOverrides {
  const raw = fromEnv(env).queueTuning;
  if (raw === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new UsageError(`SLUICE_QUEUE_TUNING is not JSON: ${raw}`);
  }
  const parsed = TuningSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UsageError(`SLUICE_QUEUE_TUNING${issue && issue.path.length > 0 ? ` ${issue.path.join(".")}` : ""} ${issue?.message ?? "is invalid"}: ${raw}`);
}

/**
 * The jobs directory: --jobs-dir, else SLUICE_JOBS_DIR (both must be directories), else ./jobs
 * under `cwd` when it exists, else the jobs shipped with Sluice.
 */
export function resolveJobsDir({ flag, env, cwd = process.cwd() }: { flag: string | undefined; env: Env; cwd?: string }): string {
  const given = flag ?? fromEnv(env).jobsDir;
  if (given !== undefined) {
    const dir = path.resolve(cwd, given);
    if (!isDirectory(dir)) {
      throw new UsageError(`jobs directory "${given}" ${existsSync(dir) ? "is not a directory" : "does not exist"}`, { hint: "pass --jobs-dir <dir> or set SLUICE_JOBS_DIR to the folder of your job files" });
    }
    return dir;
  }
  const local = path.resolve(cwd, "jobs");
  return isDirectory(local) ? local : BUILTIN_JOBS_DIR;
}

/** Backfills of more days than this ask for --yes (SLUICE_BACKFILL_MAX_DAYS), unless set otherwise: about ten years. */
export const DEFAULT_BACKFILL_MAX_DAYS = 3660;

/** The size above which a backfill range needs --yes; UsageError when SLUICE_BACKFILL_MAX_DAYS is not a whole number >= 1. */
export function resolveBackfillMaxDays(env: Env): number {
  const raw = fromEnv(env).backfillMaxDays;
  if (raw === undefined) return DEFAULT_BACKFILL_MAX_DAYS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`SLUICE_BACKFILL_MAX_DAYS "${raw}" must be a whole number of days, 1 or more`);
  return n;
}

/** The failpoint a test armed with SLUICE_FAILPOINT (see core/failpoints.ts), if any. */
export function resolveFailpoint(env: Env): string | undefined {
  return fromEnv(env).failpoint;
}

/** True when an http(s) URL carries a user name or password (`http://user:pw@host`). */
export function hasUserinfo(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.username !== "" || u.password !== "";
}

/** The URL with its user name and password replaced by `***`, for messages. */
export function withoutUserinfo(url: string): string {
  if (!URL.canParse(url)) return url;
  const u = new URL(url);
  if (u.username === "" && u.password === "") return url;
  u.username = "***";
  u.password = "";
  return u.toString();
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function dropUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The first control character of `value` (U+0000-U+001F, U+007F) as a hex code and 1-based position, if any. */
export function controlCharacterIn(value: string): { code: string; position: number } | undefined {
  const bad = /[\u0000-\u001f\u007f]/.exec(value);
  return bad ? { code: bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0"), position: bad.index + 1 } : undefined;
}

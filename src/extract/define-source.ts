/**
 * defineSource: a source's declaration checked once, when the job file loads, so a mistake fails
 * with a ConfigError naming the source and the field, not in the middle of a run.
 */
import { z } from "zod";
import { ConfigError } from "../core/errors.ts";
import { jsonPathSchema } from "./json-path.ts";
import { PAGINATOR_KINDS, paginatorSchema } from "./paginators/index.ts";
import { continueFrom, laterMark } from "./source-mark.ts";
import { pathPlaceholders } from "./source-request.ts";
import type { SourceSpec } from "./types.ts";

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: "expected a function" });
const envRef = z.strictObject({ env: z.string().min(1) });
const endpoint = z.strictObject({ default: z.url().optional(), env: z.string().min(1).optional(), demo: z.literal(true).optional() }).refine((e) => e.default !== undefined || e.env !== undefined || e.demo, "declare a default URL, an env variable, or both");
const status = z.number().int().min(100).max(599);

const AUTH = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("bearer"), env: z.string().min(1), optional: z.boolean().optional() }),
  z.strictObject({ kind: z.literal("header"), header: z.string().min(1), env: z.string().min(1), optional: z.boolean().optional() }),
  z.strictObject({ kind: z.literal("query"), param: z.string().min(1), env: z.string().min(1) }),
  z.strictObject({ kind: z.literal("basic"), username: envRef.extend({ suffix: z.string().optional() }), password: envRef.optional() }),
  z.strictObject({
    kind: z.literal("oauth2_client_credentials"),
    tokenUrl: endpoint,
    clientId: envRef,
    clientSecret: envRef,
    scope: z.string().optional(),
    refreshMarginMs: z.number().min(0).optional(),
  }),
]);

const RESPONSES = z.strictObject({
  empty: z.array(status).optional(),
  retry: z.array(status).optional(),
  rateLimitStatuses: z.array(status).optional(),
  rateLimitHeaders: z.strictObject({ remaining: z.string().optional(), reset: z.string().optional(), resetKind: z.enum(["epoch", "seconds"]).optional() }).optional(),
  maxWaitMs: z.number().min(0).optional(),
  slowDownBelow: z.number().int().min(0).optional(),
});

const SOURCE = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "letters, digits, _ and - only (it names a landing directory)"),
  baseUrl: endpoint.optional(),
  path: z.string(),
  method: z.enum(["GET", "POST"]).optional(),
  params: fn.optional(),
  body: fn.optional(),
  headers: z.record(z.string(), z.string()).optional(),
  records: jsonPathSchema,
  single: z.boolean().optional(),
  paginator: z.looseObject({ kind: z.enum(PAGINATOR_KINDS as [string, ...string[]]) }),
  schema: z.custom((v) => v !== null && typeof v === "object" && "_zod" in (v as object), { message: "expected a zod object schema" }),
  auth: AUTH.optional(),
  responses: RESPONSES.optional(),
  unknownFields: z.enum(["keep", "warn", "block"]).optional(),
  parent: z
    .strictObject({ copy: z.record(z.string(), z.string()).optional(), concurrency: z.number().int().min(1).optional(), marks: z.enum(["parent", "source"]).optional() })
    .optional(),
  incremental: z
    .strictObject({ field: jsonPathSchema.optional(), cursorPath: jsonPathSchema.optional(), initial: z.string().optional(), lookback: z.number().min(0).optional() })
    .refine((i) => (i.field === undefined) !== (i.cursorPath === undefined), "declare either field (a record field) or cursorPath (a server cursor)")
    .optional(),
  policy: z.record(z.string(), z.unknown()).optional(),
});

const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key"]);

/** Checks a source declaration and returns it, typed; ConfigError naming the source and the problem. */
export function defineSource<S extends SourceSpec>(spec: S): S {
  const name = typeof spec?.name === "string" ? spec.name : "?";
  const fail = (message: string): never => {
    throw new ConfigError(`source "${name}": ${message}`, { context: { source: name, stage: "extract" } });
  };
  const parsed = SOURCE.safeParse(spec);
  if (!parsed.success) fail(issues(parsed.error));
  const paginator = paginatorSchema(spec.paginator.kind)?.safeParse(spec.paginator);
  if (paginator && !paginator.success) fail(`paginator (${spec.paginator.kind}): ${issues(paginator.error)}`);
  for (const header of Object.keys(spec.headers ?? {})) {
    if (SECRET_HEADERS.has(header.toLowerCase())) fail(`headers: "${header}" carries a secret; declare it as auth (its value then comes from the environment and is redacted)`);
  }
  if (spec.paginator.kind === "body_token" && spec.method === "GET") fail(`a body_token paginator sends its token in a request body: the method must be POST`);
  if (pathPlaceholders(spec.path).length > 0 && !spec.parent) fail(`its path ${spec.path} has placeholders: declare parent (a child source fills them from its parents' records)`);
  if (spec.incremental?.field !== undefined) {
    try {
      continueFrom(spec, undefined);
      laterMark(spec, "0", "0");
    } catch (error) {
      fail(error instanceof Error ? error.message.replace(/^source "[^"]*": /, "") : String(error));
    }
  }
  return spec;
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

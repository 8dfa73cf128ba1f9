/** Base URLs and token URLs as declared: a default, an environment override, or the demo API. */
import { hasUserinfo, withoutUserinfo } from "../core/config.ts";
import { ConfigError } from "../core/errors.ts";
import type { EndpointSpec } from "./types.ts";

/** The endpoint every source gets when it declares none: the built-in demo API, overridden by SLUICE_API_URL. */
export const DEMO_ENDPOINT: EndpointSpec = Object.freeze({ demo: true, env: "SLUICE_API_URL" });

/** Where a declared endpoint points in this environment. `demo` when the built-in demo API is wanted. */
export type ResolvedEndpoint = { kind: "url"; url: string } | { kind: "demo" };

/** Resolves an endpoint: the env override when set, else the default (or the demo API). */
export function resolveEndpoint(spec: EndpointSpec, env: Record<string, string | undefined>, what: string): ResolvedEndpoint {
  const fromEnv = spec.env ? env[spec.env] : undefined;
  if (fromEnv !== undefined && fromEnv !== "") return { kind: "url", url: checkHttpUrl(fromEnv, `${spec.env} (${what})`) };
  if (spec.default !== undefined) return { kind: "url", url: checkHttpUrl(spec.default, what) };
  if (spec.demo) return { kind: "demo" };
  throw new ConfigError(`${what} has no URL: ${spec.env ?? "its environment variable"} is not set and it declares no default`, {
    hint: spec.env ? `set ${spec.env}, e.g. export ${spec.env}=https://api.example.com` : "declare baseUrl: { default: \"https://...\" }",
  });
}

/**
 * The URL when it is an http(s) URL without credentials; ConfigError (exit 2) naming where it came
 * from otherwise. Credentials in a URL (`http://user:pw@host`) are refused rather than dropped or
 * guessed into an auth scheme: a source declares its auth, and secrets live in env vars.
 */
export function checkHttpUrl(url: string, where: string): string {
  const ok = URL.canParse(url) && /^https?:$/.test(new URL(url).protocol);
  if (!ok) throw new ConfigError(`${where}: "${withoutUserinfo(url)}" is not an http(s) URL`, { hint: "pass an http(s) URL, e.g. http://127.0.0.1:8787" });
  if (hasUserinfo(url)) {
    throw new ConfigError(`${where}: "${withoutUserinfo(url)}" carries credentials (user:password@), which Sluice does not send`, {
      hint: "remove them from the URL and declare the source's auth (basic: username and password from env vars)",
    });
  }
  return url;
}

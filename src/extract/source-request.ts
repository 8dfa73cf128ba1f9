/**
 * A source's request for one partition, resolved: base URL, query params, body, headers and the
 * identity a landing is checked against (secrets redacted, so a landing never stores one).
 */
import type { PartitionWindow } from "../core/dates.ts";
import { checkHttpUrl } from "./endpoint.ts";
import { requestFingerprint, type RequestIdentity } from "./landing.ts";
import { joinUrl, type RequestTemplate } from "./paginators/index.ts";
import type { Redactor } from "./redact.ts";
import { ConfigError } from "../core/errors.ts";
import type { IncrementalFrom, ParentRecord, SourceSpec } from "./types.ts";

/** The parent of a top-level source: none. */
export const NO_PARENT: ParentRecord = Object.freeze({});

/** Placeholder names in a source's path: `/repos/{full_name}/issues` -> ["full_name"]. */
export function pathPlaceholders(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
}

/**
 * The path with its `{name}` placeholders filled from the parent record, each value URL-encoded
 * except for "/" (a GitHub full_name "acme/api" stays two path segments).
 */
export function fillPath(spec: SourceSpec, parent: ParentRecord): string {
  return spec.path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = parent[name];
    if (v === undefined || v === null || v === "") {
      throw new ConfigError(`source "${spec.name}": its path ${spec.path} needs {${name}}, which its parent record does not have`, { hint: "a child source's placeholders name columns of the parent's records" });
    }
    return encodeURIComponent(String(v)).replaceAll("%2F", "/");
  });
}

/** Where a source without a mark starts: from the beginning. */
export const NO_MARK: IncrementalFrom = Object.freeze({ since: undefined, cursor: undefined });

/** The template every page shares, and the identity of the request. */
export interface SourceRequest {
  template: RequestTemplate;
  identity: RequestIdentity;
  fingerprint: string;
}

/** Resolves a source's request for a partition against its base URL. */
export function sourceRequest(
  spec: SourceSpec,
  baseUrl: string,
  window: PartitionWindow,
  redactor: Redactor,
  secretParams: readonly string[],
  from: IncrementalFrom = NO_MARK,
  parent: ParentRecord = NO_PARENT,
): SourceRequest {
  const path = fillPath(spec, parent);
  const base = checkHttpUrl(joinUrl(baseUrl, path), `base URL of source "${spec.name}"`);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.params?.(window, from, parent) ?? {})) params[k] = String(v);
  const body = spec.body?.(window, from, parent);
  const method = spec.method ?? (spec.paginator.kind === "body_token" ? "POST" : "GET");
  const template: RequestTemplate = { method, base, params, ...(body === undefined ? {} : { body }), secretParams };
  const identity: RequestIdentity = {
    baseUrl: redactor.url(baseUrl),
    path,
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, redactor.text(v)])),
    paginator: spec.paginator,
    recordsPath: spec.records,
    ...(method === "GET" ? {} : { method }),
    ...(body === undefined ? {} : { body: JSON.parse(redactor.text(JSON.stringify(body))) as unknown }),
  };
  return { template, identity, fingerprint: requestFingerprint(identity) };
}

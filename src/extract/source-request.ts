/**
 * A source's request for one partition, resolved: base URL, query params, body, headers and the
 * identity a landing is checked against (secrets redacted, so a landing never stores one).
 */
import type { PartitionWindow } from "../core/dates.ts";
import { checkHttpUrl } from "./endpoint.ts";
import { requestFingerprint, type RequestIdentity } from "./landing.ts";
import { joinUrl, type RequestTemplate } from "./paginators/index.ts";
import type { Redactor } from "./redact.ts";
import type { IncrementalFrom, SourceSpec } from "./types.ts";

/** Where a source without a mark starts: from the beginning. */
export const NO_MARK: IncrementalFrom = Object.freeze({ since: undefined, cursor: undefined });

/** The template every page shares, and the identity of the request. */
export interface SourceRequest {
  template: RequestTemplate;
  identity: RequestIdentity;
  fingerprint: string;
}

/** Resolves a source's request for a partition against its base URL. */
export function sourceRequest(spec: SourceSpec, baseUrl: string, window: PartitionWindow, redactor: Redactor, secretParams: readonly string[], from: IncrementalFrom = NO_MARK): SourceRequest {
  const base = checkHttpUrl(joinUrl(baseUrl, spec.path), `base URL of source "${spec.name}"`);
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.params?.(window, from) ?? {})) params[k] = String(v);
  const body = spec.body?.(window, from);
  const method = spec.method ?? (spec.paginator.kind === "body_token" ? "POST" : "GET");
  const template: RequestTemplate = { method, base, params, ...(body === undefined ? {} : { body }), secretParams };
  const identity: RequestIdentity = {
    baseUrl: redactor.url(baseUrl),
    path: spec.path,
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, redactor.text(v)])),
    paginator: spec.paginator,
    recordsPath: spec.records,
    ...(method === "GET" ? {} : { method }),
    ...(body === undefined ? {} : { body: JSON.parse(redactor.text(JSON.stringify(body))) as unknown }),
  };
  return { template, identity, fingerprint: requestFingerprint(identity) };
}

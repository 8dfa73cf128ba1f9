/** A source's declared auth, turned into a provider with its secrets read and registered for redaction. */
import type { Clock } from "../clock.ts";
import { resolveEndpoint } from "../endpoint.ts";
import type { Redactor } from "../redact.ts";
import type { AuthSpec } from "../types.ts";
import { NO_AUTH, type AuthProvider } from "./auth-provider.ts";
import { ClientCredentialsAuth } from "./oauth2-client-credentials.ts";
import { readSecret } from "./secrets.ts";
import { HeaderAuth, QueryParamAuth, basicValue } from "./static-auth.ts";

export { NO_AUTH, type AuthProvider, type OutgoingRequest } from "./auth-provider.ts";
export { clearTokenCache } from "./oauth2-client-credentials.ts";
export { readSecret } from "./secrets.ts";

/** What building a provider needs. */
export interface AuthContext {
  source: string;
  env: Record<string, string | undefined>;
  redactor: Redactor;
  clock: Clock;
}

/** The provider for a declared auth; reads (and checks) every secret now, before any request. */
export function createAuth(spec: AuthSpec | undefined, ctx: AuthContext): AuthProvider {
  if (!spec) return NO_AUTH;
  const what = `source "${ctx.source}" (${spec.kind} auth)`;
  const secret = (name: string, optional = false) => {
    const value = readSecret(ctx.env, name, what, optional);
    if (value !== undefined) ctx.redactor.add(value);
    return value;
  };
  switch (spec.kind) {
    case "bearer": {
      const token = secret(spec.env, spec.optional);
      return token === undefined ? NO_AUTH : new HeaderAuth("authorization", `Bearer ${token}`);
    }
    case "header": {
      const key = secret(spec.env, spec.optional);
      return key === undefined ? NO_AUTH : new HeaderAuth(spec.header, key);
    }
    case "query":
      return new QueryParamAuth(spec.param, secret(spec.env) as string);
    case "basic": {
      const username = `${secret(spec.username.env) as string}${spec.username.suffix ?? ""}`;
      const password = spec.password ? (secret(spec.password.env) as string) : "";
      const value = basicValue(username, password);
      ctx.redactor.add(value.slice("Basic ".length));
      return new HeaderAuth("authorization", value);
    }
    case "oauth2_client_credentials": {
      const tokenUrl = resolveEndpoint(spec.tokenUrl, ctx.env, `token URL of ${what}`);
      if (tokenUrl.kind !== "url") throw new Error("unreachable: a token URL is never the demo API");
      const creds = { tokenUrl: tokenUrl.url, clientId: secret(spec.clientId.env) as string, clientSecret: secret(spec.clientSecret.env) as string };
      return new ClientCredentialsAuth({ ...creds, ...(spec.scope ? { scope: spec.scope } : {}), ...(spec.refreshMarginMs === undefined ? {} : { refreshMarginMs: spec.refreshMarginMs }) }, ctx.redactor, ctx.clock);
    }
  }
}

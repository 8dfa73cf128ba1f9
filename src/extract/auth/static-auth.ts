/** Credentials that do not change during a run: bearer token, API-key header or query parameter, HTTP Basic. */
import type { AuthProvider, OutgoingRequest } from "./auth-provider.ts";

/** A fixed header value (Authorization: Bearer ..., X-API-Key: ..., Authorization: Basic ...). */
export class HeaderAuth implements AuthProvider {
  readonly secretParams: readonly string[] = [];

  constructor(
    private readonly header: string,
    private readonly value: string,
  ) {}

  async apply(request: OutgoingRequest): Promise<void> {
    request.headers[this.header.toLowerCase()] = this.value;
  }

  async renew(): Promise<boolean> {
    return false;
  }
}

/** An API key in a query parameter; the parameter is set on every request and never stored. */
export class QueryParamAuth implements AuthProvider {
  readonly secretParams: readonly string[];

  constructor(
    private readonly param: string,
    private readonly value: string,
  ) {
    this.secretParams = [param];
  }

  async apply(request: OutgoingRequest): Promise<void> {
    request.url.searchParams.set(this.param, this.value);
  }

  async renew(): Promise<boolean> {
    return false;
  }
}

/** The Authorization value of HTTP Basic credentials. */
export function basicValue(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/** Routing: a request's method, path, auth and query to an answer (never a fault). */
import type { IncomingMessage } from "node:http";
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "node:crypto";
import { Cursors } from "./cursors.ts";
import { EventsEndpoint } from "./events-endpoint.ts";
import { ClientError, errorBody, type Answer } from "./params.ts";
import type { ServerConfig } from "./server-options.ts";
import { UsersEndpoint } from "./users-endpoint.ts";

/** Answers requests of the contract's two endpoints; an answer is 200 exactly when the request succeeds. */
export class Router {
  private readonly events: EventsEndpoint;
  private readonly users: UsersEndpoint;

  private readonly expectedAuth: Buffer | null;

  constructor(config: ServerConfig, usersAsOfS: () => number) {
    this.expectedAuth = config.expectedAuth;
    this.events = new EventsEndpoint(config.ds, new Cursors(config.ds), config.maxPageSize);
    this.users = new UsersEndpoint(config.ds, { maxPageSize: config.maxPageSize, ignoreUpdatedSince: config.ignoreUpdatedSince, asOfS: usersAsOfS });
  }

  /** The answer to `req`: the page it asks for, or the client error it deserves. */
  answer(req: IncomingMessage): Answer {
    try {
      if (req.method !== "GET") throw new ClientError(405, "method_not_allowed", `${req.method ?? "?"} is not allowed; use GET`);
      const url = new URL(req.url ?? "/", "http://demo.invalid");
      const endpoint = url.pathname === "/v1/events" ? this.events : url.pathname === "/v1/users" ? this.users : null;
      if (endpoint === null) throw new ClientError(404, "not_found", `no route ${url.pathname}`);
      if (!this.authorized(req)) {
        return { status: 401, body: errorBody("unauthorized", "missing or wrong bearer token"), headers: { "www-authenticate": 'Bearer realm="sluice-demo"' } };
      }
      return endpoint.page(url.searchParams);
    } catch (error) {
      if (error instanceof ClientError) {
        const headers: Record<string, string> = error.status === 405 ? { allow: "GET" } : {};
        return { status: error.status, body: errorBody(error.code, error.message), headers };
      }
      return { status: 500, body: errorBody("internal", error instanceof Error ? error.message : String(error)) };
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.expectedAuth === null) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === this.expectedAuth.length && timingSafeEqual(given, this.expectedAuth);
  }
}

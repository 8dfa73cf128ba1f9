/**
 * The built-in demo server of the source API contract (docs/source-api-contract.md): deterministic
 * data, cursor-paginated events, offset-paginated users, optional bearer auth, optional latency,
 * and injectable transient faults (429, 5xx, resets, stalls, truncated or HTML bodies).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { rngFrom, type Rng } from "./prng.ts";
import { S_FAULTS } from "./dataset.ts";
import { misbehave, type FaultKind, type FaultResponder } from "./faults.ts";
import type { Answer } from "./params.ts";
import { Router } from "./router.ts";
import { resolveServerOptions, usersAsOfSeconds, type DemoApiOptions, type ServerConfig } from "./server-options.ts";

export interface DemoApiStats {
  requests: number;
  /** Injected faults by kind (see FAULT_KINDS). */
  faults: Record<string, number>;
  /** Responses sent, by HTTP status. */
  byStatus: Record<string, number>;
}

export interface DemoApi {
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): DemoApiStats;
  /** Moves the users clock: requests without `as_of` now see the snapshot as of this RFC 3339 instant. */
  setUsersAsOf(instant: string): void;
}

const JSON_TYPE = "application/json; charset=utf-8";

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** One listening demo server: its counters, its pending timers (latency, stalls) and its users clock. */
class DemoApiServer implements FaultResponder {
  readonly stats: DemoApiStats = { requests: 0, faults: {}, byStatus: {} };
  usersAsOfS: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly faultRng: Rng;
  private readonly router: Router;
  private readonly server: Server;
  private closed = false;

  constructor(private readonly config: ServerConfig) {
    this.usersAsOfS = config.usersAsOfS;
    this.faultRng = rngFrom(config.ds.seed, S_FAULTS);
    this.router = new Router(config, () => this.usersAsOfS);
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on the configured host and port; resolves to the port. */
  async listen(): Promise<number> {
    const { server } = this;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("demo-api: server has no TCP address");
    return address.port;
  }

  send(res: ServerResponse, answer: Answer, contentType = JSON_TYPE): void {
    if (res.destroyed || res.writableEnded) return;
    count(this.stats.byStatus, String(answer.status));
    res.writeHead(answer.status, { "content-type": contentType, "content-length": String(answer.body.length), ...answer.headers });
    res.end(answer.body);
  }

  later(res: ServerResponse, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    res.on("close", () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    const answer = this.router.answer(req);
    const fault = answer.status === 200 ? this.drawFault() : null;
    const respond = (): void => {
      if (fault === null) this.send(res, answer);
      else misbehave(fault, req, res, answer, this, this.config);
    };
    if (this.config.latencyMs > 0) this.later(res, this.config.latencyMs, respond);
    else respond();
  }

  /** Faults only hit requests that would succeed: "the same request later succeeds". */
  private drawFault(): FaultKind | null {
    const { faultRate, faultKinds } = this.config;
    if (!(faultRate > 0 && this.faultRng() < faultRate)) return null;
    const kind = faultKinds[Math.floor(this.faultRng() * faultKinds.length)]!;
    count(this.stats.faults, kind);
    return kind;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // Ends keep-alive and stalled sockets now instead of waiting for them.
      this.server.closeAllConnections();
    });
  }
}

/** Starts the demo API in-process; resolves once it listens (port 0 picks a free port). */
export async function startDemoApi(options: DemoApiOptions = {}): Promise<DemoApi> {
  const config = resolveServerOptions(options);
  const server = new DemoApiServer(config);
  const port = await server.listen();
  const urlHost = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: () => ({ requests: server.stats.requests, faults: { ...server.stats.faults }, byStatus: { ...server.stats.byStatus } }),
    setUsersAsOf: (instant) => {
      server.usersAsOfS = usersAsOfSeconds(instant);
    },
    close: () => server.close(),
  };
}

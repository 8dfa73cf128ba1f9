/** Loopback networking for tests and benchmarks: free ports and throwaway HTTP servers. */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer, type AddressInfo, type Socket } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (bound, then released: a tiny race, so retry on EADDRINUSE). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An HTTP server on a loopback port of its own. */
export interface LoopbackServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/**
 * Starts `server` listening on 127.0.0.1, port 0 (ephemeral). Its close() destroys every open socket
 * first, upgraded or stalled ones included, so a test never waits on a connection it left hanging.
 */
export async function listenOnLoopback(server: Server): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Serves `handler` on 127.0.0.1, port 0 (ephemeral). */
export function serveHttp(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
  return listenOnLoopback(createHttpServer(handler));
}

/** A webhook receiver on loopback: answers 200 and keeps every body. */
export interface WebhookReceiver {
  /** Its URL, with a token in the path as Slack's carry (`hook-path-secret`): it must show up nowhere. */
  url: string;
  bodies: string[];
}

/** Starts a WebhookReceiver, closed after the test. */
export async function webhookReceiver(t: { after: (fn: () => Promise<void>) => unknown }): Promise<WebhookReceiver> {
  const bodies: string[] = [];
  const server = await serveHttp((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      bodies.push(body);
      res.writeHead(200).end("ok");
    });
  });
  t.after(() => server.close());
  return { url: `${server.url}/services/T0/B0/hook-path-secret`, bodies };
}

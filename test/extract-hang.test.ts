/**
 * No request outlives its timeout (issue 18, finding 4): a server that accepts and never answers,
 * an HTTP pool that never settles a request, requests rejected before they are sent (which must
 * not use up the pool), a `sluice run` stuck on such an API ending on one SIGTERM, and a token
 * with a carriage return refused by the CLI before any request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, Dispatcher } from "undici";
import { z } from "zod";
import { dayWindow } from "../src/core/dates.ts";
import { RequestTimeoutError, isTransient } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { defineSource, extractPartition, type SourceSpec } from "../src/extract/index.ts";
import { fetchPage } from "../src/extract/http-client.ts";
import { exchange, type ExchangeOptions } from "../src/extract/http-exchange.ts";
import { resolvePolicy } from "../src/extract/policy.ts";
import { Redactor } from "../src/extract/redact.ts";
import { NO_AUTH } from "../src/extract/auth/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { serveHttp, type LoopbackServer } from "./support/net.ts";
import { runSluice, startSluice } from "./support/sluice.ts";

// Generous bounds: the theoretical times are 1-2 s, the machine is shared and loaded.
const BOUND_MS = 15_000;

/** A loopback server that reads each request and never answers it; `requests` counts them. */
async function silentServer(t: { after: (fn: () => Promise<void>) => unknown }): Promise<LoopbackServer & { requests: () => number; firstRequest: Promise<void> }> {
  let count = 0;
  let first: () => void = () => {};
  const firstRequest = new Promise<void>((resolve) => (first = resolve));
  const server = await serveHttp((req) => {
    count++;
    first();
    req.resume();
  });
  t.after(() => server.close());
  return { ...server, requests: () => count, firstRequest };
}

/** A dispatcher whose requests never settle: it neither answers nor fails, and ignores aborts. */
class BlackHole extends Dispatcher {
  override dispatch(): boolean {
    return true;
  }
}

const Item = z.object({ id: z.int() });

test("a server that accepts and never answers fails the extraction after timeout x attempts, naming the URL", async (t) => {
  const server = await silentServer(t);
  const spec = defineSource({ name: "items", path: "/items", records: "data", paginator: { kind: "single" }, schema: Item, policy: { timeoutMs: 300, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } } } as SourceSpec);
  const options = { baseUrl: server.url, window: dayWindow("2026-11-20"), dataDir: await tempDataDir(t), job: "hang", signal: new AbortController().signal, log: silentLogger() };
  const started = performance.now();
  await assert.rejects(extractPartition(spec, options), (e: unknown) => {
    assert.ok(e instanceof RequestTimeoutError && isTransient(e), `a transient timeout: ${String(e)}`);
    assert.match(e.message, new RegExp(`request timed out after 300 ms: GET ${server.url}/items.*gave up after 3 attempts`));
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 3 * 300 - 50, `each attempt waited its timeout (${Math.round(elapsed)} ms)`);
  assert.ok(elapsed < BOUND_MS, `it did not hang (${Math.round(elapsed)} ms)`);
  assert.equal(server.requests(), 3);
});

test("a request the HTTP pool never settles still ends at its timeout, even though the pool ignores the abort", async () => {
  const policy = resolvePolicy({ timeoutMs: 200, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } });
  const started = performance.now();
  const request = fetchPage("http://127.0.0.1:9/items", { policy, signal: new AbortController().signal, log: silentLogger(), dispatcher: new BlackHole() }, (body) => body.length);
  await assert.rejects(request, (e: unknown) => e instanceof RequestTimeoutError && /request timed out after 200 ms: GET http:\/\/127\.0\.0\.1:9\/items/.test(e.message));
  assert.ok(performance.now() - started < BOUND_MS, `it did not hang (${Math.round(performance.now() - started)} ms)`);
});

test("requests rejected before they are sent do not use up the HTTP pool: a valid request on the same pool still completes", async (t) => {
  const server = await serveHttp((_req, res) => res.setHeader("content-type", "application/json").end('{"data":[{"id":1}]}'));
  t.after(() => server.close());
  // One connection: a single leaked slot would make the valid request wait forever.
  const agent = new Agent({ connections: 1 });
  t.after(() => agent.close());
  const base: Omit<ExchangeOptions, "headers"> = { dispatcher: agent, timeoutMs: 5_000, maxBodyBytes: 2 ** 20, auth: NO_AUTH, authOrigin: server.url, redactor: new Redactor(["tok"]), context: {}, count: () => {} };
  const signal = new AbortController().signal;
  const valid = () => exchange({ method: "GET", url: `${server.url}/items` }, signal, { ...base, headers: { "x-token": "tok" } });
  assert.equal((await valid()).status, 200, "a kept-alive connection is in the pool before the rejections");
  for (let i = 0; i < 20; i++) {
    // A header value with a carriage return (a token read from a CRLF file) is refused by undici before sending.
    await assert.rejects(exchange({ method: "GET", url: `${server.url}/items` }, signal, { ...base, headers: { "x-token": "tok\r" } }), (e: unknown) => e instanceof Error && /invalid request GET/.test(e.message) && !isTransient(e));
  }
  const started = performance.now();
  const ok = await valid();
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), '{"data":[{"id":1}]}');
  assert.ok(performance.now() - started < BOUND_MS);
});

test("a sluice run stuck on an API that never answers ends on one SIGTERM, recorded as cancelled, exit 1", async (t) => {
  const server = await silentServer(t);
  const dataDir = await tempDataDir(t);
  const { child, done } = startSluice(["run", "events", "--date", "2026-11-20", "--api-url", server.url, "--data-dir", dataDir]);
  await server.firstRequest;
  const signalled = performance.now();
  child.kill("SIGTERM");
  const exit = await done;
  const elapsed = performance.now() - signalled;
  assert.ok(elapsed < BOUND_MS, `ended ${Math.round(elapsed)} ms after SIGTERM`);
  assert.equal(exit.code, 1, `${exit.stdout}\n${exit.stderr}`);
  assert.match(exit.stderr, /SIGTERM: /);
  assert.match(exit.stdout, /2026-11-20\s+cancelled/);
});

test("SLUICE_API_TOKEN ending in a carriage return is a one-line usage error, exit 2, that never echoes the token", async (t) => {
  const server = await silentServer(t);
  const token = "tok-9f8e7d6c";
  const exit = await runSluice(["run", "events", "--date", "2026-11-20", "--api-url", server.url, "--data-dir", await tempDataDir(t)], { SLUICE_API_TOKEN: `${token}\r` });
  assert.equal(exit.code, 2, `${exit.stdout}\n${exit.stderr}`);
  const lines = exit.stderr.trim().split("\n");
  assert.equal(lines.length, 1, exit.stderr);
  assert.match(lines[0] ?? "", /SLUICE_API_TOKEN .*carriage return|SLUICE_API_TOKEN .*U\+000D/);
  assert.ok(!`${exit.stdout}${exit.stderr}`.includes(token), "the token is not echoed");
  assert.equal(server.requests(), 0, "no request was sent");
});

/**
 * What a source declares beyond its paginator: response rules (empty statuses, rate limits, waits),
 * auth edge cases, next pointers that are absent, caps on endless listings, compressed bodies, and
 * declarations that are wrong. A scripted loopback server answers what each test needs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync, brotliCompressSync } from "node:zlib";
import { z } from "zod";
import { dayWindow } from "../src/core/dates.ts";
import { ConfigError, PaginationError, UsageError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { defineSource, extractPartition, type ExtractOptions, type SourceSpec } from "../src/extract/index.ts";
import { DEFAULT_POLICY, resolvePolicy } from "../src/extract/policy.ts";
import { FakeClock } from "./fixtures/fault-server.ts";
import { assertNoSecrets } from "./fixtures/secret-scan.ts";
import { tempDataDir } from "./support/dirs.ts";

const Item = z.object({ id: z.int(), name: z.string() });
const items = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: from + i, name: `item ${from + i}` }));

type Handler = (req: IncomingMessage, url: URL, body: string) => { status?: number; headers?: Record<string, string>; body?: unknown; raw?: Buffer };

/** A loopback server answering `handler`; `seen` logs each request's path, query and auth. */
async function scripted(handler: Handler): Promise<{ url: string; seen: Array<{ url: URL; auth: string | undefined; body: string }>; close: () => Promise<void> }> {
  const seen: Array<{ url: URL; auth: string | undefined; body: string }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      seen.push({ url, auth: req.headers["authorization"], body });
      const answer = handler(req, url, body);
      res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers });
      res.end(answer.raw ?? (answer.body === undefined ? "" : JSON.stringify(answer.body)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function source(over: Partial<SourceSpec> = {}): SourceSpec {
  return defineSource({ name: "items", path: "/items", records: "data", paginator: { kind: "single" }, schema: Item, ...over } as SourceSpec);
}

async function options(t: { after: (fn: () => unknown) => void }, baseUrl: string, over: Partial<ExtractOptions> = {}): Promise<ExtractOptions> {
  return { baseUrl, window: dayWindow("2026-11-20"), dataDir: await tempDataDir(t), job: "rules", signal: new AbortController().signal, log: silentLogger(), clock: new FakeClock(), ...over };
}

test("a declared 404 or 204 is an empty listing: no records, no failure, and an undeclared 404 still fails", async (t) => {
  for (const status of [404, 204]) {
    const server = await scripted(() => ({ status, body: status === 404 ? { message: "Not Found" } : undefined }));
    t.after(() => server.close());
    const result = await extractPartition(source({ responses: { empty: [404] } }), await options(t, server.url));
    assert.equal(result.records, 0, `${status}: no records`);
    assert.equal(result.frame.height, 0);
    assert.deepEqual(result.frame.columns.slice(0, 2), ["id", "name"], "typed empty columns");
  }
  const missing = await scripted(() => ({ status: 404, body: { message: "Not Found" } }));
  t.after(() => missing.close());
  await assert.rejects(extractPartition(source(), await options(t, missing.url)), /HTTP 404/);
});

test("a Retry-After of 60 s is waited in full without using up attempts; a wait past maxWaitMs fails naming both", async (t) => {
  let calls = 0;
  const server = await scripted(() => (++calls <= 7 ? { status: 429, headers: { "retry-after": "60" } } : { body: { data: items(1, 3) } }));
  t.after(() => server.close());
  const clock = new FakeClock();
  const result = await extractPartition(source({ policy: { retry: { maxAttempts: 2 } } }), await options(t, server.url, { clock }));
  assert.equal(result.records, 3);
  assert.deepEqual(clock.sleeps, Array(7).fill(60_000), "seven rate-limit waits of 60 s, more than maxAttempts allows for failures");

  const slow = await scripted(() => ({ status: 503, headers: { "retry-after": "3600" } }));
  t.after(() => slow.close());
  await assert.rejects(extractPartition(source({ responses: { maxWaitMs: 120_000 } }), await options(t, slow.url)), (e: unknown) => e instanceof Error && /asked to wait 3600 s, more than the source's maxWaitMs of 120 s/.test(e.message));
});

test("Cloudflare 520-524 and 408 are retried by default; a 403 is retried only when the rate-limit header says 0 remain", async (t) => {
  let calls = 0;
  const statuses = [520, 522, 524, 408];
  const server = await scripted(() => (calls < statuses.length ? { status: statuses[calls++] as number } : { body: { data: items(1, 2) } }));
  t.after(() => server.close());
  assert.equal((await extractPartition(source(), await options(t, server.url))).records, 2);

  let gh = 0;
  const github = await scripted(() => (++gh === 1 ? { status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 30) } } : { body: { data: items(1, 1) } }));
  t.after(() => github.close());
  const clock = new FakeClock();
  const declared = source({ responses: { rateLimitStatuses: [403] } });
  assert.equal((await extractPartition(declared, await options(t, github.url, { clock }))).records, 1);
  assert.ok((clock.sleeps[0] ?? 0) > 25_000, `waited for the reset (${clock.sleeps.join(", ")} ms)`);
  const forbidden = await scripted(() => ({ status: 403, headers: { "x-ratelimit-remaining": "4999" }, body: { message: "Resource not accessible by integration" } }));
  t.after(() => forbidden.close());
  await assert.rejects(extractPartition(declared, await options(t, forbidden.url)), /HTTP 403/);
});

test("few requests left in the window: the governor spreads the rest until the reset instead of meeting a 429", async (t) => {
  let remaining = 6;
  const server = await scripted((_req, url) => {
    const page = Number(url.searchParams.get("page") ?? 1);
    remaining--;
    return { headers: { "ratelimit-remaining": String(remaining), "ratelimit-reset": "10" }, body: { data: page <= 4 ? items(page * 10, 2) : [] } };
  });
  t.after(() => server.close());
  const clock = new FakeClock();
  const spec = source({ paginator: { kind: "page", pageParam: "page", firstPage: 1 }, responses: { slowDownBelow: 10 }, policy: { concurrency: 1 } });
  const result = await extractPartition(spec, await options(t, server.url, { clock }));
  assert.equal(result.records, 8);
  assert.ok(clock.sleeps.length >= 3 && clock.sleeps.every((ms) => ms >= 1000), `spread: ${clock.sleeps.join(", ")} ms`);
});

test("a next path absent from a full page is an error naming the path and the keys the body has; a literal dotted key is read", async (t) => {
  const server = await scripted((_req, url) => {
    const next = url.searchParams.get("n");
    return { body: { value: items(next ? 4 : 1, 3), ...(next ? {} : { "@odata.nextLink": `/items?n=2&$top=3` }) } };
  });
  t.after(() => server.close());
  const wrong = source({ records: "value", paginator: { kind: "next_url", nextPath: "odata.nextLink" }, params: () => ({ $top: 3 }) });
  await assert.rejects(extractPartition(wrong, await options(t, server.url)), (e: unknown) => e instanceof PaginationError && /"odata\.nextLink" is absent from page 1, which is full \(3 records\); the body has the keys "value", "@odata\.nextLink"/.test(e.message));
  // The trap of dlt issue 2505: "@odata.nextLink" written as a dotted path still reads the literal key.
  for (const nextPath of ["@odata.nextLink", ["@odata.nextLink"]] as const) {
    const right = source({ records: "value", paginator: { kind: "next_url", nextPath, absentAtEnd: true }, params: () => ({ $top: 3 }) });
    assert.equal((await extractPartition(right, await options(t, server.url))).records, 6, `path ${JSON.stringify(nextPath)}`);
  }
});

test("an API key in the query string is sent on every request, never stored in the landing, and redacted from errors", async (t) => {
  const key = "qk-7f2e9d4c1b8a";
  const server = await scripted((_req, url) => {
    if (url.searchParams.get("api_key") !== key) return { status: 401, body: { error: `bad key ${url.searchParams.get("api_key")}` } };
    const page = url.searchParams.get("cursor");
    // the next link echoes the key, as some APIs do
    return { body: { data: items(page ? 5 : 1, 2), next: page ? null : `/items?cursor=2&api_key=${key}` } };
  });
  t.after(() => server.close());
  const spec = source({ paginator: { kind: "next_url", nextPath: "next" }, auth: { kind: "query", param: "api_key", env: "ITEMS_KEY" } });
  const opts = await options(t, server.url, { env: { ITEMS_KEY: key } });
  const result = await extractPartition(spec, opts);
  assert.equal(result.records, 4);
  assert.ok(server.seen.every((s) => s.url.searchParams.get("api_key") === key), "every request carried the key");
  const state = await readFile(path.join(result.landingDir, "_state.json"), "utf8");
  assert.ok(!state.includes(key) && !state.includes("api_key"), `the landing state holds no key: ${state}`);
  await assertNoSecrets(opts.dataDir, [key], { result: JSON.stringify({ ...result, frame: undefined }) });
  await assert.rejects(extractPartition(spec, await options(t, server.url, { env: { ITEMS_KEY: `${key}-wrong` } })), (e: unknown) => e instanceof Error && !e.message.includes(key) && /\[redacted\]/.test(e.message));
});

test("a secret with a carriage return is a usage error naming the variable before any request", async (t) => {
  const server = await scripted(() => ({ body: { data: [] } }));
  t.after(() => server.close());
  const spec = source({ auth: { kind: "bearer", env: "ITEMS_TOKEN" } });
  await assert.rejects(
    extractPartition(spec, await options(t, server.url, { env: { ITEMS_TOKEN: "tok-abc\r" } })),
    (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /ITEMS_TOKEN .* holds a control character \(U\+000D\)/.test(e.message) && !e.message.includes("tok-abc"),
  );
  assert.equal(server.seen.length, 0);
});

test("a listing that never ends fails at its page cap and removes what it landed", async (t) => {
  let n = 0;
  const server = await scripted(() => ({ body: { data: items(++n, 1), next: `c${n}` } }));
  t.after(() => server.close());
  const spec = source({ paginator: { kind: "cursor", nextPath: "next", param: "c" }, policy: { maxPages: 25 } });
  const opts = await options(t, server.url);
  await assert.rejects(extractPartition(spec, opts), (e: unknown) => e instanceof PaginationError && /reached 26 pages, more than its cap of 25; what it landed is removed/.test(e.message));
  assert.equal(existsSync(path.join(opts.dataDir, "raw", "rules", "dt=2026-11-20", "items")), false, "no landing left behind");
  assert.ok(server.seen.length <= 27, `stopped at the cap (${server.seen.length} requests)`);
});

test("a listing past its record cap fails, names the cap and how to raise it, and removes what it landed", async (t) => {
  let n = 0;
  const server = await scripted(() => ({ body: { data: items(n * 10 + 1, 10), next: `c${++n}` } }));
  t.after(() => server.close());
  const spec = source({ paginator: { kind: "cursor", nextPath: "next", param: "c" }, policy: { maxRecords: 45, concurrency: 1 } });
  const opts = await options(t, server.url);
  await assert.rejects(extractPartition(spec, opts), (e: unknown) => {
    assert.ok(e instanceof PaginationError, String(e));
    assert.match(e.message, /the listing of items reached 50 records, more than its cap of 45; what it landed is removed/);
    assert.match(e.hint ?? "", /raise the source's policy\.maxPages \/ policy\.maxRecords/);
    return true;
  });
  assert.equal(existsSync(path.join(opts.dataDir, "raw", "rules", "dt=2026-11-20", "items")), false, "no landing left behind");
  assert.ok(server.seen.length <= 7, `stopped at the cap (${server.seen.length} requests)`);
});

test("the default caps on a listing are the ones the README states", async () => {
  const readme = await readFile(path.join(import.meta.dirname, "..", "README.md"), "utf8");
  const row = readme.split("\n").find((line) => line.startsWith("| `policy` |")) ?? "";
  const stated = /`maxPages`\/`maxRecords` \(defaults ([\d,]+) pages and ([\d,]+) records;/.exec(row);
  assert.ok(stated, `the README's policy row states the defaults: ${row}`);
  const number = (s: string | undefined) => Number((s ?? "").replaceAll(",", ""));
  assert.deepEqual({ maxPages: number(stated[1]), maxRecords: number(stated[2]) }, { maxPages: DEFAULT_POLICY.maxPages, maxRecords: DEFAULT_POLICY.maxRecords });
  const resolved = resolvePolicy(undefined);
  assert.deepEqual([resolved.maxPages, resolved.maxRecords], [DEFAULT_POLICY.maxPages, DEFAULT_POLICY.maxRecords]);
});

test("gzip and brotli bodies are decoded; a header cursor and a one-object record are declarable", async (t) => {
  const server = await scripted((req, url) => {
    const body = Buffer.from(JSON.stringify(url.pathname === "/one" ? { item: { id: 7, name: "seven" } } : { data: items(url.searchParams.get("c") ? 3 : 1, 2) }));
    const enc = String(req.headers["accept-encoding"] ?? "");
    const next = url.searchParams.get("c") ? {} : { "x-next-cursor": "abc" };
    if (url.searchParams.get("c")) return { raw: brotliCompressSync(body), headers: { "content-encoding": "br", ...next } };
    return enc.includes("gzip") ? { raw: gzipSync(body), headers: { "content-encoding": "gzip", ...next } } : { status: 406 };
  });
  t.after(() => server.close());
  const headerCursor = source({ paginator: { kind: "header_cursor", header: "X-Next-Cursor", param: "c" } });
  const result = await extractPartition(headerCursor, await options(t, server.url));
  assert.deepEqual(result.frame.getColumn("id").toArray(), [1, 2, 3, 4]);
  const one = source({ name: "one", path: "/one", records: "item", single: true });
  assert.deepEqual((await extractPartition(one, await options(t, server.url))).frame.getColumn("name").toArray(), ["seven"]);
});

test("a wrong source declaration fails when the job loads, naming the source and the field", () => {
  const bad = (over: Record<string, unknown>) => () => defineSource({ name: "items", path: "/items", records: "data", paginator: { kind: "single" }, schema: Item, ...over } as unknown as SourceSpec);
  assert.throws(bad({ paginator: { kind: "cursor", param: "c" } }), (e: unknown) => e instanceof ConfigError && /source "items": paginator \(cursor\): nextPath/.test(e.message));
  assert.throws(bad({ paginator: { kind: "scroll" } }), (e: unknown) => e instanceof ConfigError && /paginator\.kind/.test(e.message));
  assert.throws(bad({ headers: { Authorization: "Bearer x" } }), (e: unknown) => e instanceof ConfigError && /"Authorization" carries a secret; declare it as auth/.test(e.message));
  assert.throws(bad({ auth: { kind: "basic", username: "me" } }), (e: unknown) => e instanceof ConfigError && /auth/.test(e.message));
  assert.throws(bad({ name: "no spaces please" }), (e: unknown) => e instanceof ConfigError && /name/.test(e.message));
});

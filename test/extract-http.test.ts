/** The extract stage's HTTP layer: retries, backoff, Retry-After, fail-fast, rate limit, auth, redirects, cancellation. */
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { test } from "node:test";
import { dayWindow } from "../src/core/dates.ts";
import { CancelledError, ConfigError, DeadlineExceededError, HttpError, SluiceError, SourceFormatError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import {
  DEFAULT_POLICY,
  HttpClient,
  TokenBucket,
  backoffDelay,
  createPaginator,
  extractPartition,
  fetchPage,
  parseLinkHeader,
  parseRetryAfter,
  recordsOf,
  scanLastKeyValue,
  redactUrl,
  Redactor,
  judge,
  resolveResponseRules,
  type ExtractOptions,
} from "../src/extract/index.ts";
import type { RequestPolicy } from "../src/extract/types.ts";
import { HeaderAuth } from "../src/extract/auth/static-auth.ts";
import { serveHttp } from "./support/net.ts";
import { FAST_FAULTS, FakeClock, capturingLogger, makeEvents, specFor, startFaultServer } from "./fixtures/fault-server.ts";
import { tempDataDir } from "./support/dirs.ts";

const policy = (over: Partial<RequestPolicy> = {}): RequestPolicy => ({
  ...DEFAULT_POLICY,
  timeoutMs: 2000,
  retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRateLimitWaits: 20 },
  ...over,
});
const parseJson = (body: Buffer) => JSON.parse(body.toString()) as unknown;
const SECRET = "tok-7f3a9c2e-very-secret";

/** Extraction options on a fake clock (retries do not sleep), unless `realClock`. */
function extractOptions(baseUrl: string, dataDir: string, over: Partial<ExtractOptions> = {}, realClock = false): ExtractOptions {
  const options: ExtractOptions = { baseUrl, window: dayWindow("2026-11-20"), dataDir, job: "events", signal: new AbortController().signal, log: silentLogger(), ...over };
  if (!realClock && !over.clock) options.clock = new FakeClock();
  return options;
}

test("backoff draws full-jitter delays from [0, min(cap, base * 2^(attempt-1)))", () => {
  const retry = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  const top = () => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, () => 0)), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, top)), [99, 199, 399, 799, 999, 999]);
  assert.deepEqual([1, 2, 3].map((a) => backoffDelay(a, retry, () => 0.5)), [50, 100, 200]);
  // accepts a whole request policy too
  assert.equal(backoffDelay(2, policy(), () => 0.5), 100);
});

test("the response judge reads the wait a server asks for from Retry-After or a rate-limit reset header, never from the backoff cap", () => {
  const now = Date.parse("2026-11-20T10:00:00Z");
  const rules = resolveResponseRules({ rateLimitStatuses: [403] });
  assert.deepEqual(judge(429, { "retry-after": "3" }, rules, now), { kind: "rate_limited", waitMs: 3000 });
  assert.deepEqual(judge(429, { "retry-after": "120" }, rules, now), { kind: "rate_limited", waitMs: 120_000 });
  assert.deepEqual(judge(429, {}, rules, now), { kind: "rate_limited", waitMs: undefined });
  // GitHub's primary limit: 403 with remaining 0 and the reset as epoch seconds
  assert.deepEqual(judge(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 42) }, rules, now), { kind: "rate_limited", waitMs: 42_000 });
  // a 403 that is not about the rate limit stays a failure
  assert.deepEqual(judge(403, { "x-ratelimit-remaining": "17" }, rules, now), { kind: "fail" });
  assert.deepEqual(judge(503, { "retry-after": "0" }, rules, now), { kind: "retry", waitMs: 0 });
  assert.deepEqual(judge(522, {}, rules, now), { kind: "retry", waitMs: undefined });
  assert.deepEqual(judge(204, {}, rules, now), { kind: "empty" });
  assert.deepEqual(judge(404, {}, resolveResponseRules({ empty: [404] }), now), { kind: "empty" });
  assert.deepEqual(judge(404, {}, rules, now), { kind: "fail" });
});

test("Retry-After parses as delta-seconds or an HTTP date relative to now", () => {
  const now = Date.parse("2026-11-20T10:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter(" 120 ", now), 120_000);
  assert.equal(parseRetryAfter("Fri, 20 Nov 2026 10:00:07 GMT", now), 7000);
  assert.equal(parseRetryAfter("Fri, 20 Nov 2026 09:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter(["2", "9"], now), 2000);
  for (const bad of [undefined, null, "", "-1", "1.5", "soon", "3 seconds"]) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
});

test("a fetch retries a server that keeps failing with jittered, capped backoff and gives up after maxAttempts with the count in the message", async (t) => {
  const server = await startFaultServer({ faultRate: 1, faults: ["503"], maxConsecutiveFaults: 1000 });
  t.after(() => server.close());
  const clock = new FakeClock();
  const p = policy({ retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 700, maxRateLimitWaits: 20 } });
  const err = await fetchPage(`${server.url}/v1/events?limit=5`, { policy: p, signal: new AbortController().signal, log: silentLogger(), clock, random: () => 0.999 }, parseJson).then(
    () => assert.fail("should have failed"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 503);
  assert.equal(err.transient, true);
  assert.match(err.message, /HTTP 503/);
  assert.match(err.message, /gave up after 6 attempts/);
  assert.equal(server.dataRequests(), 6);
  assert.deepEqual(clock.sleeps, [99, 199, 399, 699, 699]);
});

test("a fetch waits what Retry-After says, in seconds or as an HTTP date, without using up attempts", async (t) => {
  const seconds = await startFaultServer({ faultRate: 1, faults: ["429-seconds"], maxConsecutiveFaults: 2, retryAfterSeconds: 120 });
  const dated = await startFaultServer({ faultRate: 1, faults: ["429-date"], maxConsecutiveFaults: 2 });
  t.after(() => Promise.all([seconds.close(), dated.close()]));
  const p = policy({ retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 5000, maxRateLimitWaits: 20 } });
  const c1 = new FakeClock();
  const r1 = await fetchPage(`${seconds.url}/v1/events`, { policy: p, signal: new AbortController().signal, log: silentLogger(), clock: c1, random: () => 0.5 }, parseJson);
  assert.equal(r1.attempts, 1); // waiting out a rate limit is not a failed attempt
  assert.deepEqual(c1.sleeps, [120_000, 120_000]); // what the server asked, not the 5 s backoff cap
  // sleeps return at once but time is real: the HTTP date is compared with the server's clock
  const c2 = Object.assign(new FakeClock(), { now: () => Date.now() });
  const r2 = await fetchPage(`${dated.url}/v1/events`, { policy: p, signal: new AbortController().signal, log: silentLogger(), clock: c2, random: () => 0.5 }, parseJson);
  assert.equal(r2.attempts, 1);
  assert.equal(c2.sleeps.length, 2);
  // the date is 2 s ahead of the server's clock, floored to the second by the HTTP date format
  for (const s of c2.sleeps) assert.ok(s > 500 && s <= 2000, `slept ${s}`);
  assert.deepEqual(r2.stats.statusCounts, { "200": 1, "429": 2 });
});

test("a fetch retries resets, stalls, truncated JSON, HTML 200s and 5xx, and counts each kind", async (t) => {
  const server = await startFaultServer({ faultRate: 1, faults: ["reset", "stall", "truncated", "html", "500", "502", "504", "wrong-shape"], maxConsecutiveFaults: 1 });
  t.after(() => server.close());
  const client = new HttpClient({ policy: policy({ timeoutMs: 150, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, maxRateLimitWaits: 20 } }), signal: new AbortController().signal, log: silentLogger(), clock: new FakeClock() });
  t.after(() => client.close());
  const parse = (body: Buffer) => {
    const parsed = recordsOf(body, "data");
    if (!parsed) throw new SourceFormatError("not JSON with a data array");
    return parsed.records;
  };
  for (let i = 0; i < 24; i++) {
    const page = await client.fetchPage(`${server.url}/v1/events?limit=3&i=${i}`, parse);
    assert.equal(page.attempts, 2);
    assert.equal(page.value?.length, 3);
  }
  const counts = client.stats.statusCounts;
  assert.equal(client.stats.requests, 48);
  assert.equal(client.stats.retries, 24);
  assert.equal(counts["200"], 24);
  for (const kind of ["network", "timeout", "bad_body"]) assert.ok((counts[kind] ?? 0) > 0, `${kind} in ${JSON.stringify(counts)}`);
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 48);
});

for (const status of [400, 401, 403, 404]) {
  test(`a fetch fails at once on ${status}: one request, status, redacted URL and a body snippet in the message`, async (t) => {
    const server = await startFaultServer({ fixedStatus: status });
    t.after(() => server.close());
    const url = `${server.url}/v1/events?api_key=${SECRET}&limit=5`;
    const err = await fetchPage(url, { policy: policy(), signal: new AbortController().signal, log: silentLogger(), clock: new FakeClock(), auth: new HeaderAuth("authorization", `Bearer ${SECRET}`), authOrigin: server.origin, redactor: new Redactor([SECRET]) }, parseJson).then(
      () => assert.fail("should have failed"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HttpError);
    assert.equal(err.transient, false);
    assert.equal(err.status, status);
    assert.equal(server.dataRequests(), 1);
    assert.match(err.message, new RegExp(`^HTTP ${status} `));
    assert.ok(err.message.includes(`${server.url}/v1/events?api_key=[redacted]&limit=5`), err.message);
    // the body echoes the Authorization header: the snippet keeps its start, not the secret
    assert.ok(err.message.includes("request rejected; you sent authorization=Bearer [redacted]"), err.message);
    assert.ok(err.bodySnippet !== undefined && err.bodySnippet.length <= 220);
    assert.ok(!err.message.includes(SECRET) && !JSON.stringify(err.context).includes(SECRET));
  });
}

test("a fetch gives up on a redirect loop after 5 hops without retrying", async (t) => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(302, { location: `/loop?n=${hits}` });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await assert.rejects(
    fetchPage(`http://127.0.0.1:${port}/start`, { policy: policy(), signal: new AbortController().signal, log: silentLogger(), clock: new FakeClock() }, parseJson),
    (e: unknown) => e instanceof HttpError && !e.transient && /too many redirects/.test(e.message),
  );
  assert.equal(hits, 6);
});

test("a token bucket lets a burst through, then one request per 1/rps", async () => {
  const clock = new FakeClock(0);
  const bucket = new TokenBucket(10, 3, clock);
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    await bucket.acquire();
    times.push(clock.now());
  }
  assert.deepEqual(times, [0, 0, 0, 100, 200, 300, 400, 500]);
});

test("the rate limit holds against the server: no window sees more than burst + rps * window requests", async (t) => {
  const server = await startFaultServer({ records: makeEvents(120) });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const rps = 40;
  const burst = 4;
  const spec = specFor("offset", { pageSize: 5, policy: { concurrency: 4, rateLimit: { rps, burst } } });
  // The server shares this process' event loop: a stall of the loop (a busy machine) holds requests
  // the bucket admitted on time, and the server then sees them arrive together. Each window's bound
  // grows by what the bucket admits during the longest stall (0 on an idle machine).
  const stalls = monitorEventLoopDelay({ resolution: 5 });
  stalls.enable();
  const started = Date.now();
  const result = await extractPartition(spec, extractOptions(server.url, dataDir, {}, true));
  const elapsed = Date.now() - started;
  stalls.disable();
  assert.equal(result.records, 120);
  assert.equal(result.requests, 24);
  const at = server.requests.map((r) => r.at).sort((a, b) => a - b);
  // the whole run cannot be faster than the bucket allows
  assert.ok(elapsed >= ((24 - burst) / rps) * 1000 - 50, `took ${elapsed} ms`);
  const stallMs = stalls.max / 1e6;
  for (let i = 0; i < at.length; i++) {
    for (const windowMs of [100, 250, 500]) {
      const inWindow = at.filter((x) => x >= at[i]! && x < at[i]! + windowMs).length;
      const bound = burst + Math.ceil((rps * (windowMs + stallMs)) / 1000) + 1;
      assert.ok(inWindow <= bound, `${inWindow} requests within ${windowMs} ms (bound ${bound}; longest event-loop stall ${stallMs.toFixed(0)} ms)`);
    }
  }
  assert.ok(server.maxInFlight() <= 4);
});

test("the rate limit is shared by partitions of the same source extracted at once in one process", async (t) => {
  const server = await startFaultServer({ records: makeEvents(60) });
  t.after(() => server.close());
  const rps = 20;
  const burst = 2;
  const spec = specFor("offset", { pageSize: 5, policy: { concurrency: 2, rateLimit: { rps, burst } } });
  const days = ["2026-11-18", "2026-11-19", "2026-11-20"];
  const started = Date.now();
  const results = await Promise.all(
    days.map(async (day) => extractPartition(spec, { ...extractOptions(server.url, await tempDataDir(t), {}, true), window: dayWindow(day) })),
  );
  const elapsed = Date.now() - started;
  const requests = results.reduce((n, r) => n + r.requests, 0);
  assert.equal(requests, 36);
  // One bucket for all three: 36 requests at 20/s after a burst of 2 need at least 1.7 s.
  assert.ok(elapsed >= ((requests - burst) / rps) * 1000 - 100, `three partitions took only ${elapsed} ms: each had its own bucket`);
});

test("an extraction never lets the token out: not in logs, errors, landed pages, the state file or the result", async (t) => {
  const server = await startFaultServer({ records: makeEvents(90), token: SECRET, faultRate: 0.4, faults: FAST_FAULTS, seed: 3 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const { log, lines } = capturingLogger();
  const spec = specFor("cursor", { pageSize: 10, auth: { kind: "bearer", env: "SLUICE_API_TOKEN" }, policy: { retry: { maxAttempts: 8 } } });
  const result = await extractPartition(spec, extractOptions(server.url, dataDir, { log, env: { SLUICE_API_TOKEN: SECRET } }));
  assert.equal(result.records, 90);
  assert.ok(result.retries > 0);
  // every request carried the token to the source
  assert.ok(server.requests.every((r) => r.headers["authorization"] === `Bearer ${SECRET}`));

  // a failing run: 401 with a body that echoes what it got
  const rejecting = await startFaultServer({ fixedStatus: 401 });
  t.after(() => rejecting.close());
  const failure = await extractPartition(spec, extractOptions(rejecting.url, dataDir, { log, env: { SLUICE_API_TOKEN: SECRET }, job: "other" })).then(
    () => assert.fail("should fail"),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof SluiceError);
  assert.ok(failure.message.includes("[redacted]"), failure.message);

  const haystacks: string[] = [...lines, failure.message, JSON.stringify(failure.context), String(failure.stack)];
  haystacks.push(JSON.stringify({ ...result, frame: undefined }), result.frame.toString(), JSON.stringify(result.frame.toRecords()));
  for (const job of ["events", "other"]) {
    const dir = path.join(dataDir, "raw", job, "dt=2026-11-20", spec.name);
    for (const f of await readdir(dir).catch(() => [] as string[])) haystacks.push(await readFile(path.join(dir, f), "utf8"));
  }
  assert.ok(lines.length > 5, "the logger captured lines");
  assert.ok(haystacks.some((h) => h.includes('"next"') || h.includes("fingerprint")), "the state file was read");
  for (const h of haystacks) assert.ok(!h.includes(SECRET), `secret leaked into: ${h.slice(0, 300)}`);
});

test("an extraction fails before any request when a declared secret's env var is unset, naming the variable", async (t) => {
  const server = await startFaultServer({ records: makeEvents(20), token: SECRET });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { auth: { kind: "bearer", env: "SLUICE_API_TOKEN" } });
  await assert.rejects(
    extractPartition(spec, extractOptions(server.url, dataDir, { env: {} })),
    (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && /needs the environment variable SLUICE_API_TOKEN, and it is not set/.test(e.message),
  );
  assert.equal(server.requests.length, 0);
});

test("an extraction goes without an optional token when its env var is unset, and fails fast on the 401 that follows", async (t) => {
  const server = await startFaultServer({ records: makeEvents(20), token: SECRET });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { auth: { kind: "bearer", env: "SLUICE_API_TOKEN", optional: true } });
  await assert.rejects(
    extractPartition(spec, extractOptions(server.url, dataDir, { env: {} })),
    (e: unknown) => e instanceof HttpError && e.status === 401 && !e.transient && /missing or invalid token/.test(e.message),
  );
  assert.equal(server.dataRequests(), 1);
  assert.equal(server.requests[0]!.headers["authorization"], undefined);
});

test("an extraction rejects a base URL that is not http(s) before any request", async (t) => {
  const dataDir = await tempDataDir(t);
  await assert.rejects(extractPartition(specFor("cursor"), extractOptions("ftp://example.com", dataDir)), ConfigError);
  await assert.rejects(extractPartition(specFor("cursor"), extractOptions("not a url", dataDir)), ConfigError);
});

test("an extraction sends an API-key header when the source declares one", async (t) => {
  const server = await startFaultServer({ records: makeEvents(20), token: SECRET, apiKeyHeader: "X-Api-Key" });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("page", { pageSize: 10, auth: { kind: "header", header: "X-Api-Key", env: "KEY" } });
  const result = await extractPartition(spec, extractOptions(server.url, dataDir, { env: { KEY: SECRET } }));
  assert.equal(result.records, 20);
  assert.ok(server.requests.every((r) => r.headers["x-api-key"] === SECRET && r.headers["authorization"] === undefined));
});

test("an extraction carries the token across a same-origin redirect", async (t) => {
  const server = await startFaultServer({ records: makeEvents(30), token: SECRET, redirect: "same-origin" });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { pageSize: 10, auth: { kind: "bearer", env: "T" } });
  const result = await extractPartition(spec, extractOptions(server.url, dataDir, { env: { T: SECRET } }));
  assert.equal(result.records, 30);
  const redirected = server.requests.filter((r) => r.path.startsWith("/r/"));
  assert.equal(redirected.length, 3);
  assert.ok(redirected.every((r) => r.headers["authorization"] === `Bearer ${SECRET}`));
  assert.equal(result.requests, 6);
  assert.equal(result.statusCounts["307"], 3);
});

test("an extraction does not carry the token across a cross-origin redirect", async (t) => {
  const records = makeEvents(30);
  const other = await startFaultServer({ records });
  const server = await startFaultServer({ records, token: SECRET, redirect: "cross-origin", redirectTo: other.url });
  t.after(() => Promise.all([server.close(), other.close()]));
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { pageSize: 10, auth: { kind: "bearer", env: "T" } });
  const result = await extractPartition(spec, extractOptions(server.url, dataDir, { env: { T: SECRET } }));
  assert.equal(result.records, 30);
  assert.equal(other.requests.length, 3);
  for (const r of other.requests) {
    assert.equal(r.headers["authorization"], undefined);
    assert.ok(!JSON.stringify(r.headers).includes(SECRET));
  }
  assert.ok(server.requests.every((r) => r.headers["authorization"] === `Bearer ${SECRET}`));
});

test("redactUrl removes secrets from URLs, raw and URL-encoded, and URL passwords", () => {
  const secret = "a b/c?d";
  assert.equal(redactUrl(`http://h/x?k=${encodeURIComponent(secret)}&z=1`, [secret]), "http://h/x?k=[redacted]&z=1");
  assert.equal(redactUrl(`http://h/x?k=a+b%2Fc%3Fd`, [secret]), "http://h/x?k=[redacted]");
  assert.equal(redactUrl("http://user:pw@h/x", []), "http://user:redacted@h/x");
  assert.equal(redactUrl("no url at all tok", ["tok"]), "no url at all [redacted]");
});

test("an extraction aborts a stalled request promptly when the caller's signal fires", async (t) => {
  const server = await startFaultServer({ faultRate: 1, faults: ["stall"], maxConsecutiveFaults: 1000 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 150);
  const started = Date.now();
  await assert.rejects(
    extractPartition(specFor("cursor", { policy: { timeoutMs: 30_000 } }), extractOptions(server.url, dataDir, { signal: controller.signal })),
    (e: unknown) => e instanceof CancelledError && /cancelled/.test(e.message) && e.context.partition === "2026-11-20",
  );
  assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
});

test("an extraction aborts while waiting out a backoff when the caller's signal fires", async (t) => {
  const server = await startFaultServer({ faultRate: 1, faults: ["503"], maxConsecutiveFaults: 1000 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  // real clock, backoff of 20-60 s: only the abort can end this quickly
  await assert.rejects(
    extractPartition(specFor("cursor", { policy: { retry: { maxAttempts: 5, baseDelayMs: 20_000, maxDelayMs: 60_000 } } }), extractOptions(server.url, dataDir, { signal: controller.signal, random: () => 1 }, true)),
    CancelledError,
  );
  assert.ok(Date.now() - started < 1500);
});

test("an extraction stuck past the partition deadline fails with DeadlineExceededError", async (t) => {
  const server = await startFaultServer({ faultRate: 1, faults: ["stall-body"], maxConsecutiveFaults: 1000 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const started = Date.now();
  await assert.rejects(
    extractPartition(specFor("offset", { policy: { timeoutMs: 30_000, partitionDeadlineMs: 300 } }), extractOptions(server.url, dataDir)),
    (e: unknown) => e instanceof DeadlineExceededError && !(e instanceof CancelledError) && e.transient && /deadline of 300 ms/.test(e.message),
  );
  const took = Date.now() - started;
  assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
});

test("an extraction times out a single stalled request and retries it", async (t) => {
  const server = await startFaultServer({ records: makeEvents(10), faultRate: 1, faults: ["stall"], maxConsecutiveFaults: 2 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const result = await extractPartition(specFor("cursor", { pageSize: 10, policy: { timeoutMs: 100 } }), extractOptions(server.url, dataDir));
  assert.equal(result.records, 10);
  assert.equal(result.statusCounts["timeout"], 2);
  assert.equal(result.retries, 2);
});

test("the cursor scan finds the last key's string, number or null value without parsing the document", () => {
  assert.equal(scanLastKeyValue(Buffer.from('{"data":[{"a":1}],"next_cursor":"abc\\"d"}'), "next_cursor"), 'abc"d');
  assert.equal(scanLastKeyValue(Buffer.from('{"data":[], "next_cursor" :  null }'), "next_cursor"), null);
  assert.equal(scanLastKeyValue(Buffer.from('{"next": 42}'), "next"), "42");
  assert.equal(scanLastKeyValue(Buffer.from('{"data":[]}'), "next_cursor"), undefined);
  assert.equal(scanLastKeyValue(Buffer.from('{"next_cursor": {"x":1}}'), "next_cursor"), undefined);
  // a value equal to the key is skipped: the key before it wins
  assert.equal(scanLastKeyValue(Buffer.from('{"next_cursor":"n1","data":["next_cursor"]}'), "next_cursor"), "n1");
  // truncated mid-string
  assert.equal(scanLastKeyValue(Buffer.from('{"data":[],"next_cursor":"ab'), "next_cursor"), undefined);
});

test("paginators guess the next cursor and next link from the raw response, and not a position already seen", () => {
  const cursor = createPaginator({ kind: "cursor", nextPath: "meta.next", param: "c" }, "http://h/v1/e", { limit: 5 });
  const body = Buffer.from('{"data":[1,2],"meta":{"next":"abc"}}');
  assert.deepEqual(cursor.speculate({ body, headers: {}, url: "http://h/v1/e" }), { kind: "cursor", cursor: "abc" });
  assert.equal(cursor.speculate({ body: Buffer.from('{"data":[],"meta":{"next":null}}'), headers: {}, url: "" }), undefined);
  cursor.visited({ kind: "cursor", cursor: "abc" });
  assert.equal(cursor.speculate({ body, headers: {}, url: "http://h/v1/e" }), undefined);
  assert.equal(cursor.urlFor({ kind: "cursor", cursor: "a b" }), "http://h/v1/e?limit=5&c=a+b");

  const link = createPaginator({ kind: "link" }, "http://h/v1/l", { page: 1 });
  assert.deepEqual(link.speculate({ body: Buffer.from("not even json"), headers: { link: '<?page=2>; rel="next"' }, url: "http://h/v1/l?page=1" }), { kind: "link", url: "http://h/v1/l?page=2" });
  assert.equal(link.speculate({ body: Buffer.alloc(0), headers: { link: '<?page=1>; rel="next"' }, url: "http://h/v1/l?page=1" }), undefined);

  const offset = createPaginator({ kind: "offset", offsetParam: "o", limitParam: "l", limit: 10 }, "http://h/u", {});
  assert.equal(offset.speculate({ body: Buffer.from("{}"), headers: {}, url: "" }), undefined);
});

test("the Link header parser reads several links, quoted params with separators inside, rel lists and relative targets", () => {
  const header = '</items?page=1>; rel=first; title="a, b; c", <?page=3&size=10>; title="next; page, 3"; rel="next last", <https://other.example/x>; rel="prev" ; foo=bar';
  const links = parseLinkHeader(header, "http://api.example/v1/items?page=2");
  assert.deepEqual(
    links.map((l) => [l.url, l.rel]),
    [
      ["http://api.example/items?page=1", ["first"]],
      ["http://api.example/v1/items?page=3&size=10", ["next", "last"]],
      ["https://other.example/x", ["prev"]],
    ],
  );
  assert.equal(links[0]!.params["title"], "a, b; c");
  assert.equal(links[2]!.params["foo"], "bar");
});

test("the Link header parser reads every header line, lowercases rel and skips garbage", () => {
  const links = parseLinkHeader(["garbage, <a>; REL=Next", '<b>; rel="prev"; title="say \\"hi\\""'], "http://h/");
  assert.deepEqual(
    links.map((l) => [l.url, l.rel, l.params["title"]]),
    [
      ["http://h/a", ["next"], undefined],
      ["http://h/b", ["prev"], 'say "hi"'],
    ],
  );
  assert.deepEqual(parseLinkHeader(undefined), []);
  assert.deepEqual(parseLinkHeader(""), []);
});

test("a request dispatched from onBody (the speculated next page) is on the wire before the page is parsed", async (t) => {
  // a kept-alive connection: each page is answered after 5 ms, like a slow API
  const server = await serveHttp((req, res) => void setTimeout(() => res.end(JSON.stringify({ data: [{ page: req.url }], next: "x" })), 5));
  t.after(() => server.close());
  const client = new HttpClient({ policy: policy({ timeoutMs: 5000 }), signal: new AbortController().signal, log: silentLogger() });
  t.after(() => client.close());
  // undici reports each request it writes to a socket
  const written: string[] = [];
  const onSend = (message: unknown) => written.push(String((message as { request: { path: string } }).request.path));
  diagnostics.subscribe("undici:client:sendHeaders", onSend);
  t.after(() => diagnostics.unsubscribe("undici:client:sendHeaders", onSend));
  for (let page = 1; page <= 5; page++) {
    let next: Promise<unknown> | undefined;
    let writtenAtParse: string[] = [];
    await client.fetchPage(`${server.url}/p?n=${page}`, (body) => ((writtenAtParse = [...written]), JSON.parse(body.toString())), {
      onBody: () => ((next = client.fetchPage(`${server.url}/p?n=${page}-next`, (b) => b.length)), true),
    });
    assert.ok(writtenAtParse.includes(`/p?n=${page}-next`), `page ${page}: the next request was not written when the page was parsed (written: ${writtenAtParse.join(", ")})`);
    await next;
  }
});

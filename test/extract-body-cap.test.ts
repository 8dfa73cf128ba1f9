/** A page over the body cap fails naming its URL, plain or compressed (issue 18, #16: "a page over 512 MB fails without naming the URL"). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { HttpError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { DEFAULT_POLICY, HttpClient } from "../src/extract/index.ts";

test("a response over the body cap fails with an error naming the method and URL, also when only its decoded size is over", async (t) => {
  const big = Buffer.from(JSON.stringify({ data: "x".repeat(64 * 1024) }));
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/v1/zipped")) res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipSync(big));
    else res.writeHead(200, { "content-type": "application/json" }).end(big);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policy = { ...DEFAULT_POLICY, timeoutMs: 5000, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRateLimitWaits: 0 } };
  const client = new HttpClient({ policy, signal: new AbortController().signal, log: silentLogger(), maxBodyBytes: 16 * 1024 });
  t.after(() => client.close());
  for (const url of [`${base}/v1/plain?page=2`, `${base}/v1/zipped?page=3`]) {
    assert.ok(gzipSync(big).length < 16 * 1024, "the compressed body itself is under the cap");
    await assert.rejects(client.fetchPage(url, (b) => b.length), (e: unknown) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.ok(e.message.includes(`GET ${url}`), e.message);
      assert.match(e.message, /is larger than/);
      return true;
    });
  }
});

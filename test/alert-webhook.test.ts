/** The alert webhook against a real loopback receiver: one summary, no secret, retries, bounded give-up. */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { resolveSettings } from "../src/core/config.ts";
import { createLogger } from "../src/core/log.ts";
import { Redactor } from "../src/extract/index.ts";
import { alertOnFailures, hasFailures, postAlertWebhook, summarizeOutcomes, webhookPayload, type AlertSummary, type WebhookPayload } from "../src/operate/alert-webhook.ts";
import { alertTarget } from "../src/cli/run-environment.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";

const TOKEN = "tok-3f9a7c1e-secret/with+chars";

function outcome(dt: string, status: PartitionOutcome["status"], error: string | null = null): PartitionOutcome {
  return { job: "events", dt, runId: `r-${dt}`, status, rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error };
}

/** A backfill of five days: two failed (their errors quote the token, raw and URL-encoded), one cancelled, one skipped. */
function failedBackfill(): AlertSummary {
  return summarizeOutcomes("events", "backfill", [
    outcome("2026-11-01", "succeeded"),
    outcome("2026-11-02", "failed", `HTTP 503 from https://api.example/v1/events?token=${encodeURIComponent(TOKEN)}`),
    outcome("2026-11-03", "failed", `source said: invalid bearer ${TOKEN}`),
    outcome("2026-11-04", "cancelled", "cancelled before it finished"),
    outcome("2026-11-05", "skipped"),
  ]);
}

interface Received {
  method: string;
  contentType: string | undefined;
  body: string;
}

/** A loopback receiver answering each request with the next status of `statuses` (the last one repeats); errors may echo the path. */
async function receiver(t: TestContext, statuses: number[], echoPath = false): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ method: req.method ?? "", contentType: req.headers["content-type"], body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : echoPath ? `no such hook ${req.url ?? ""}` : `status ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/services/T000/B000/hook-secret-path`, received, server };
}

test("a command with failures posts one Slack-compatible summary with job, command, failed partitions and counts", async (t) => {
  const hook = await receiver(t, [200]);
  const summary = failedBackfill();
  assert.equal(hasFailures(summary), true);
  const result = await postAlertWebhook(summary, { url: hook.url, secrets: [TOKEN] });
  assert.deepEqual(result, { delivered: true, attempts: 1, status: 200 });
  assert.equal(hook.received.length, 1);
  const [got] = hook.received;
  assert.equal(got?.method, "POST");
  assert.equal(got?.contentType, "application/json");
  const payload = JSON.parse(got?.body ?? "") as WebhookPayload;
  assert.match(payload.text, /^sluice backfill events: 2 of 5 partition\(s\) failed \(2026-11-02: HTTP 503 .*; 2026-11-03: source said: .*\)\. See `sluice status events`, then rerun with `sluice catch-up events`\.$/);
  assert.equal(payload.job, "events");
  assert.equal(payload.command, "backfill");
  assert.deepEqual(payload.counts, { succeeded: 1, failed: 2, cancelled: 1, skipped: 1, total: 5 });
  assert.deepEqual(payload.failed.map((f) => f.partition), ["2026-11-02", "2026-11-03"]);
  assert.equal(payload.failed[1]?.error, "source said: invalid bearer [redacted]");
  assert.equal(payload.failedOmitted, 0);
});

test("no secret reaches the receiver, neither as written nor URL-encoded", async (t) => {
  const hook = await receiver(t, [200]);
  await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [TOKEN, ""] });
  const body = hook.received[0]?.body ?? "";
  assert.ok(body.length > 0);
  assert.ok(!body.includes(TOKEN), body);
  assert.ok(!body.includes(encodeURIComponent(TOKEN)), body);
  assert.ok(!body.includes("3f9a7c1e"), body);
  assert.equal(body.split("[redacted]").length - 1, 4, "both errors, in the list and in the text");
});

test("a secret that contains another is redacted whole", () => {
  const summary = summarizeOutcomes("events", "run", [outcome("2026-11-02", "failed", "key abcd-efgh-ijkl rejected")]);
  const payload = webhookPayload(summary, ["efgh", "abcd-efgh-ijkl"]);
  assert.equal(payload.failed[0]?.error, "key [redacted] rejected");
});

test("a long list of failures is capped, and the rest counted", () => {
  const outcomes = Array.from({ length: 30 }, (_, i) => outcome(`2026-10-${String(i + 1).padStart(2, "0")}`, "failed", `boom ${"x".repeat(1000)}`));
  const payload = webhookPayload(summarizeOutcomes("events", "catch-up", outcomes), []);
  assert.equal(payload.failed.length, 20);
  assert.equal(payload.failedOmitted, 10);
  assert.ok((payload.failed[0]?.error.length ?? 0) <= 300);
  assert.match(payload.text, /2026-10-05: boom x+…; and 25 more\)\. See/);
  assert.ok(payload.text.length < 1000, `text of ${payload.text.length} chars`);
});

test("a 500 is retried with backoff and the next attempt delivers", async (t) => {
  const hook = await receiver(t, [500, 503, 200]);
  const result = await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [TOKEN], firstDelayMs: 50 });
  assert.deepEqual(result, { delivered: true, attempts: 3, status: 200 });
  assert.equal(hook.received.length, 3);
  assert.equal(hook.received[0]?.body, hook.received[2]?.body, "every attempt posts the same summary");
});

test("a 400 is not retried: the receiver refused the alert", async (t) => {
  const hook = await receiver(t, [400], true);
  const result = await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [TOKEN], firstDelayMs: 10 });
  assert.equal(result.delivered, false);
  assert.equal(result.attempts, 1);
  assert.equal(hook.received.length, 1);
  if (!result.delivered) assert.match(result.reason, /^the webhook answered 400: no such hook \[redacted\]$/, "the echoed path is redacted");
});

test("a receiver that keeps failing is given up after maxAttempts, quietly", async (t) => {
  const hook = await receiver(t, [503]);
  const result = await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [TOKEN], firstDelayMs: 10, maxAttempts: 3 });
  assert.equal(result.delivered, false);
  assert.equal(hook.received.length, 3);
  if (!result.delivered) assert.match(result.reason, /^gave up after 3 attempt\(s\): the webhook answered 503/);
});

test("a receiver that is down is given up quietly, and the reason does not show the webhook URL", async (t) => {
  const hook = await receiver(t, [200]);
  await new Promise<void>((resolve) => hook.server.close(() => resolve()));
  const started = Date.now();
  const result = await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [TOKEN], firstDelayMs: 20, totalTimeoutMs: 2_000 });
  assert.equal(result.delivered, false);
  assert.ok(result.attempts >= 2, `retried network errors (${result.attempts} attempts)`);
  if (!result.delivered) {
    assert.match(result.reason, /could not reach the webhook/);
    assert.ok(!result.reason.includes("hook-secret-path"), result.reason);
  }
  assert.ok(Date.now() - started < 10_000);
});

test("a receiver that never answers is given up within the total time bound", async (t) => {
  const server = createServer(() => undefined); // accepts, reads, never answers
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  const started = Date.now();
  const result = await postAlertWebhook(failedBackfill(), { url: `http://127.0.0.1:${port}/hook`, secrets: [], totalTimeoutMs: 800 });
  const elapsed = Date.now() - started;
  assert.equal(result.delivered, false);
  if (!result.delivered) assert.match(result.reason, /no answer within \d+ ms/);
  // 800 ms of budget; the slack is for a loaded machine, the point is that it does not wait 4 x 5 s.
  assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
});

test("aborting the signal stops the retries at once", async (t) => {
  const hook = await receiver(t, [503]);
  const controller = new AbortController();
  const watching = setInterval(() => {
    if (hook.received.length >= 1) controller.abort();
  }, 5);
  t.after(() => clearInterval(watching));
  const result = await postAlertWebhook(failedBackfill(), { url: hook.url, secrets: [], signal: controller.signal, firstDelayMs: 60_000, totalTimeoutMs: 120_000 });
  assert.equal(result.delivered, false);
  if (!result.delivered) assert.match(result.reason, /cancelled/);
  assert.equal(hook.received.length, 1);
});

test("a malformed webhook URL is reported, not thrown, and not echoed", async () => {
  const result = await postAlertWebhook(failedBackfill(), { url: "hooks.example/secret-part", secrets: [] });
  assert.equal(result.delivered, false);
  if (!result.delivered) {
    assert.match(result.reason, /SLUICE_ALERT_WEBHOOK/);
    assert.ok(!result.reason.includes("secret-part"));
  }
});

test("a command without failures is not worth an alert", () => {
  const summary = summarizeOutcomes("users", "run", [outcome("2026-11-01", "succeeded"), outcome("2026-11-02", "skipped"), outcome("2026-11-03", "cancelled")]);
  assert.equal(hasFailures(summary), false);
  assert.deepEqual(summary.counts, { succeeded: 1, failed: 0, cancelled: 1, skipped: 1 });
});

test("a command's alert redacts the API token and every secret its sources registered with the run's redactor, and a command without failures posts nothing", async (t) => {
  const hook = await receiver(t, [200]);
  const sourceKey = "sk_live_1c8e5f0a9b2d7e43";
  const settings = resolveSettings({ flags: {}, env: { SLUICE_API_TOKEN: TOKEN, SLUICE_ALERT_WEBHOOK: hook.url } });
  const redactor = new Redactor();
  const target = alertTarget(settings, { log: createLogger({ level: "silent", pretty: false }), redactor });
  // The source registers its key when it reads it, after the command's alert target was made.
  redactor.add(sourceKey);
  const failed = outcome("2026-11-02", "failed", `upstream refused ${sourceKey} (token ${TOKEN})`);
  assert.equal(await alertOnFailures("events", "run", [outcome("2026-11-01", "succeeded")], target), undefined);
  const result = await alertOnFailures("events", "run", [failed], target);
  assert.deepEqual(result, { delivered: true, attempts: 1, status: 200 });
  assert.equal(hook.received.length, 1);
  const body = hook.received[0]?.body ?? "";
  assert.ok(!body.includes(sourceKey) && !body.includes(TOKEN), body);
  assert.match(body, /upstream refused \[redacted\] \(token \[redacted\]\)/);
});

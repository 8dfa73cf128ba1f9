/**
 * SLUICE_ALERT_WEBHOOK: when a command ends with failed partitions, POST a short JSON summary to a
 * webhook (Slack-compatible: a `text` field, plus structured fields for other receivers). Secrets
 * are redacted by value, transient failures are retried with backoff within a bounded total time,
 * and it never throws: an alert that cannot be delivered must not fail the run it reports on, so
 * the caller gets what happened and logs a warning.
 */
import { request } from "undici";
import { scrub, type Logger } from "../core/log.ts";
import { systemClock } from "../extract/clock.ts";
import type { PartitionOutcome, PartitionStatus } from "../pipeline/index.ts";

/** Failed partitions listed in a summary; the rest are counted in failedOmitted. */
const MAX_FAILED_LISTED = 20;
/** Failed partitions named in the one-line `text` (Slack messages should stay short). */
const MAX_FAILED_IN_TEXT = 5;
/** Characters kept of each partition's error. */
const MAX_ERROR_CHARS = 300;
const MAX_ATTEMPT_MS = 5_000;

/** A partition that failed, with its error (already one line). */
export interface PartitionFailure {
  partition: string;
  error: string;
}

/** What a command did, for the alert. */
export interface AlertSummary {
  job: string;
  /** The CLI command, e.g. "backfill" or "catch-up". */
  command: string;
  counts: Record<PartitionStatus, number>;
  failed: PartitionFailure[];
}

/** The JSON body posted to the webhook. */
export interface WebhookPayload {
  /** One message for Slack and compatible receivers. */
  text: string;
  job: string;
  command: string;
  counts: Record<PartitionStatus, number> & { total: number };
  failed: PartitionFailure[];
  /** Failed partitions not listed in `failed` (the list is capped). */
  failedOmitted: number;
}

export interface WebhookOptions {
  /** The webhook URL; treated as a secret itself (Slack's carry their token in the path). */
  url: string;
  /** Secret values (API tokens, passwords) to replace by "[redacted]" wherever they appear. */
  secrets: readonly string[];
  signal?: AbortSignal;
  /** Attempts in all, the first included; default 4. */
  maxAttempts?: number;
  /** Upper bound on the whole delivery, retries and waits included; default 15 s. */
  totalTimeoutMs?: number;
  /** Wait before the first retry; doubles each retry (with jitter); default 500 ms. */
  firstDelayMs?: number;
}

/** What happened to the alert: never an exception. */
export type WebhookResult = { delivered: true; attempts: number; status: number } | { delivered: false; attempts: number; reason: string };

/** Counts and failed partitions of a command's outcomes. */
export function summarizeOutcomes(job: string, command: string, outcomes: readonly PartitionOutcome[]): AlertSummary {
  const counts: Record<PartitionStatus, number> = { succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };
  const failed: PartitionFailure[] = [];
  for (const outcome of outcomes) {
    counts[outcome.status] += 1;
    if (outcome.status === "failed") failed.push({ partition: outcome.dt, error: outcome.error ?? "failed (no error recorded)" });
  }
  return { job, command, counts, failed };
}

/** True when a command's summary is worth an alert: at least one partition failed. */
export function hasFailures(summary: AlertSummary): boolean {
  return summary.counts.failed > 0;
}

/** The body to post: short, capped, and with every secret replaced by "[redacted]". */
export function webhookPayload(summary: AlertSummary, secrets: readonly string[]): WebhookPayload {
  const failed = summary.failed.slice(0, MAX_FAILED_LISTED).map((f) => ({ partition: f.partition, error: oneLine(f.error, MAX_ERROR_CHARS) }));
  const total = Object.values(summary.counts).reduce((a, b) => a + b, 0);
  const inText = failed.slice(0, MAX_FAILED_IN_TEXT);
  const listed = inText.map((f) => `${f.partition}: ${oneLine(f.error, 120)}`).join("; ");
  const more = summary.failed.length > inText.length ? `; and ${summary.failed.length - inText.length} more` : "";
  const text =
    `sluice ${summary.command} ${summary.job}: ${summary.counts.failed} of ${total} partition(s) failed` +
    `${listed ? ` (${listed}${more})` : ""}. ` +
    `See \`sluice status ${summary.job}\`, then rerun with \`sluice catch-up ${summary.job}\`.`;
  const payload: WebhookPayload = {
    text,
    job: summary.job,
    command: summary.command,
    counts: { ...summary.counts, total },
    failed,
    failedOmitted: summary.failed.length - failed.length,
  };
  return scrub(payload, secretVariants(secrets));
}

/** Posts the summary; retries 5xx, 429 and network errors with backoff until delivered, refused, aborted or out of time. */
export async function postAlertWebhook(summary: AlertSummary, options: WebhookOptions): Promise<WebhookResult> {
  const secrets = secretVariants([...options.secrets, ...urlSecrets(options.url)]);
  try {
    return await deliver(summary, options, secrets);
  } catch (error) {
    // Belt and braces: nothing above should throw, but an alert must never fail its command.
    return { delivered: false, attempts: 0, reason: scrub(`could not post the alert: ${message(error)}`, secrets) };
  }
}

/** Where and how a command's alert goes. */
export interface AlertTarget {
  /** SLUICE_ALERT_WEBHOOK; nothing is posted when unset. */
  url: string | undefined;
  /** Every secret the command used: the API token and the source secrets its Redactor saw. */
  secrets: () => readonly string[];
  log: Logger;
  /** Overrides of the delivery's retries and time limit (tests). */
  delivery?: Pick<WebhookOptions, "maxAttempts" | "totalTimeoutMs" | "firstDelayMs">;
}

/**
 * The end of a command that ran partitions: when some failed and a webhook is set, posts the
 * summary; an alert that cannot be delivered is a logged warning, never the command's failure.
 */
export async function alertOnFailures(job: string, command: string, outcomes: readonly PartitionOutcome[], target: AlertTarget): Promise<WebhookResult | undefined> {
  const summary = summarizeOutcomes(job, command, outcomes);
  if (target.url === undefined || !hasFailures(summary)) return undefined;
  const result = await postAlertWebhook(summary, { url: target.url, secrets: target.secrets(), ...target.delivery });
  if (result.delivered) target.log.info({ attempts: result.attempts, status: result.status }, "alert posted to the webhook");
  else target.log.warn({ attempts: result.attempts, reason: result.reason }, "could not post the alert to SLUICE_ALERT_WEBHOOK");
  return result;
}

async function deliver(summary: AlertSummary, options: WebhookOptions, secrets: string[]): Promise<WebhookResult> {
  let url: URL;
  try {
    url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("not http(s)");
  } catch {
    return { delivered: false, attempts: 0, reason: "the alert webhook is not an http(s) URL (check SLUICE_ALERT_WEBHOOK)" };
  }
  const body = JSON.stringify(webhookPayload(summary, options.secrets));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const deadline = Date.now() + (options.totalTimeoutMs ?? 15_000);
  let delay = options.firstDelayMs ?? 500;
  let reason = "no attempt was made";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (options.signal?.aborted) return { delivered: false, attempts: attempt - 1, reason: "cancelled before the alert was delivered" };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { delivered: false, attempts: attempt - 1, reason: `gave up after ${attempt - 1} attempt(s) within the time limit: ${reason}` };
    const result = await attemptOnce(url, body, Math.min(remaining, MAX_ATTEMPT_MS), options.signal);
    if (result.kind === "delivered") return { delivered: true, attempts: attempt, status: result.status };
    reason = scrub(result.reason, secrets);
    if (result.kind === "refused") return { delivered: false, attempts: attempt, reason };
    if (attempt === maxAttempts) break;
    const wait = Math.min(Math.max(result.retryAfterMs ?? 0, jitter(delay)), deadline - Date.now());
    delay *= 2;
    if (wait > 0 && !(await sleep(wait, options.signal))) return { delivered: false, attempts: attempt, reason: "cancelled before the alert was delivered" };
  }
  return { delivered: false, attempts: maxAttempts, reason: `gave up after ${maxAttempts} attempt(s): ${reason}` };
}

type Attempt = { kind: "delivered"; status: number } | { kind: "refused"; reason: string } | { kind: "retry"; reason: string; retryAfterMs?: number };

/** One POST: delivered (2xx), refused (other 4xx: retrying will not help) or worth a retry. */
async function attemptOnce(url: URL, body: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Attempt> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const snippet = oneLine(await response.body.text().catch(() => ""), 200);
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { kind: "delivered", status };
    const said = `the webhook answered ${status}${snippet ? `: ${snippet}` : ""}`;
    if (status >= 500 || status === 429 || status === 408) {
      const retryAfterMs = retryAfter(response.headers["retry-after"]);
      return retryAfterMs === undefined ? { kind: "retry", reason: said } : { kind: "retry", reason: said, retryAfterMs };
    }
    return { kind: "refused", reason: said };
  } catch (error) {
    if (signal?.aborted) return { kind: "refused", reason: "cancelled before the alert was delivered" };
    const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : message(error);
    return { kind: "retry", reason: `could not reach the webhook: ${why}` };
  }
}

/** Each secret as written and URL-encoded, longest first so a secret inside another is not half-replaced. */
function secretVariants(secrets: readonly string[]): string[] {
  const all = new Set<string>();
  for (const s of secrets) {
    if (s.length === 0) continue;
    all.add(s);
    all.add(encodeURIComponent(s));
  }
  return [...all].sort((a, b) => b.length - a.length);
}

/** The webhook URL, and its path and password alone: a receiver's error page may echo either. */
function urlSecrets(url: string): string[] {
  try {
    const parsed = new URL(url);
    return [url, parsed.password, parsed.pathname.length > 1 ? parsed.pathname : "", parsed.search];
  } catch {
    return [url];
  }
}

function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Resolves true after ms, or false as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return systemClock.sleep(ms, signal).then(() => true, () => false);
}

/** Between half and all of `ms`: receivers that failed together are not retried in lockstep. */
function jitter(ms: number): number {
  return ms / 2 + Math.random() * (ms / 2);
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

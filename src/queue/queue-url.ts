/**
 * The queue's Redis URL, checked and redacted without loading a Redis client: every command line
 * takes `--queue`, and only the queue commands need ioredis (~0.1 s to load).
 */
import { UsageError } from "../core/errors.ts";

/** Validates a queue URL (redis:// or rediss://, host, optional port/db/password); throws UsageError. */
export function parseQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--queue "${url}" is not a URL`, { hint: "use redis://host:port, e.g. redis://127.0.0.1:6379" });
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new UsageError(`--queue "${redact(url)}" must start with redis:// or rediss://`, { hint: "use redis://host:port, e.g. redis://127.0.0.1:6379" });
  }
  if (!parsed.hostname) throw new UsageError(`--queue "${redact(url)}" names no host`);
  if (parsed.pathname && parsed.pathname !== "/" && !/^\/\d+$/.test(parsed.pathname)) {
    throw new UsageError(`--queue "${redact(url)}": the path may only be a database number, like /0`);
  }
  return url;
}

/** The URL with any password replaced, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

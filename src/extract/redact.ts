/**
 * Secrets redacted by value: every secret a source uses (tokens, keys, passwords, OAuth access
 * tokens as they are issued) is registered here, and every message, URL and log line that could
 * carry one passes through `text`/`url` before it leaves the extract stage.
 */

const REDACTED = "[redacted]";

/** The forms a secret takes in text: raw, URL-encoded, form-encoded. */
function formsOf(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])];
}

/** Replaces every occurrence of each secret, raw and in its URL-encoded forms. */
export function redactText(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of formsOf(secret)) if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}

/** Replaces any URL password and every secret in a URL with a marker. */
export function redactUrl(url: string, secrets: Iterable<string>): string {
  let out = url;
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = "redacted";
      out = u.href;
    }
  } catch {
    // not a URL: scrub the text as is
  }
  return redactText(out, secrets);
}

/** The secrets of one extraction; grows as credentials are issued (OAuth tokens). */
export class Redactor {
  private readonly secrets = new Set<string>();
  private readonly listeners: Array<(secret: string) => void> = [];

  constructor(initial: Iterable<string> = []) {
    for (const s of initial) this.add(s);
  }

  /** Registers a secret value (too short values are refused: they would redact ordinary text). */
  add(secret: string): void {
    if (secret.length < 4 || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    for (const l of this.listeners) l(secret);
  }

  /** Calls `listener` for every secret, now and as they are added (e.g. the process logger's scrubber). */
  onSecret(listener: (secret: string) => void): void {
    this.listeners.push(listener);
    for (const s of this.secrets) listener(s);
  }

  list(): string[] {
    return [...this.secrets];
  }

  text(s: string): string {
    return redactText(s, this.secrets);
  }

  /**
   * A response body to land: as received, unless it echoes a secret (an API key in its next
   * links): then with every secret redacted, so no secret is ever written to disk.
   */
  body(bytes: Buffer): Buffer {
    for (const secret of this.secrets) {
      for (const form of formsOf(secret)) if (bytes.includes(form)) return Buffer.from(redactText(bytes.toString("utf8"), this.secrets), "utf8");
    }
    return bytes;
  }

  url(u: string): string {
    return redactUrl(u, this.secrets);
  }
}

/**
 * OAuth2 client credentials (RFC 6749 4.4): a token from the token endpoint, cached for the
 * process, refreshed before it expires and after a 401, with its own retries. The client secret
 * goes only to the token endpoint; the access token only to the source's origin.
 */
import { request } from "undici";
import { HttpError, NetworkError, SluiceError, TransientHttpError, isTransient } from "../../core/errors.ts";
import { abortReason, type Clock } from "../clock.ts";
import type { Redactor } from "../redact.ts";
import { backoffDelay, parseRetryAfter } from "../retry.ts";
import type { AuthProvider, OutgoingRequest } from "./auth-provider.ts";

/** What the provider needs to know; the secrets are already read from the environment. */
export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  refreshMarginMs?: number;
}

interface Token {
  value: string;
  expiresAt: number;
}

const TOKEN_ATTEMPTS = 4;
const TOKEN_TIMEOUT_MS = 30_000;

/** Tokens by endpoint, client and scope, shared by every source and partition of the process. */
const cache = new Map<string, { token: Token | null; inFlight: Promise<Token> | null }>();

export class ClientCredentialsAuth implements AuthProvider {
  readonly secretParams: readonly string[] = [];
  private readonly slot: { token: Token | null; inFlight: Promise<Token> | null };

  constructor(
    private readonly creds: ClientCredentials,
    private readonly redactor: Redactor,
    private readonly clock: Clock,
  ) {
    const key = `${creds.tokenUrl}|${creds.clientId}|${creds.scope ?? ""}`;
    let slot = cache.get(key);
    if (!slot) cache.set(key, (slot = { token: null, inFlight: null }));
    this.slot = slot;
    if (slot.token) redactor.add(slot.token.value);
  }

  async apply(req: OutgoingRequest, signal: AbortSignal): Promise<void> {
    const token = await this.current(signal);
    req.headers["authorization"] = `Bearer ${token.value}`;
  }

  /** After a 401: the token was revoked or expired early; get a new one (once per token). */
  async renew(signal: AbortSignal): Promise<boolean> {
    this.slot.token = null;
    await this.current(signal);
    return true;
  }

  private async current(signal: AbortSignal): Promise<Token> {
    const token = this.slot.token;
    if (token && token.expiresAt > this.clock.now()) return token;
    // One refresh at a time: concurrent requests share it.
    this.slot.inFlight ??= this.fetchToken(signal).finally(() => (this.slot.inFlight = null));
    return this.slot.inFlight;
  }

  private async fetchToken(signal: AbortSignal): Promise<Token> {
    for (let attempt = 1; ; attempt++) {
      try {
        const token = await this.requestToken(signal);
        this.slot.token = token;
        return token;
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        if (!isTransient(error) || attempt >= TOKEN_ATTEMPTS) throw error;
        const wait = error instanceof TransientHttpError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 10_000 });
        await this.clock.sleep(wait, signal);
      }
    }
  }

  private async requestToken(signal: AbortSignal): Promise<Token> {
    const { tokenUrl, clientId, clientSecret, scope } = this.creds;
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, ...(scope ? { scope } : {}) });
    const shown = this.redactor.url(tokenUrl);
    let answer: { status: number; headers: Record<string, string | string[] | undefined>; text: string };
    try {
      const res = await request(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form.toString(),
        signal: AbortSignal.any([signal, AbortSignal.timeout(TOKEN_TIMEOUT_MS)]),
      });
      answer = { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    } catch (cause) {
      if (signal.aborted) throw abortReason(signal);
      throw new NetworkError(`could not reach the token endpoint ${shown}: ${this.redactor.text(String((cause as Error).message))}`, { cause });
    }
    return this.tokenFrom(answer.status, answer.headers, answer.text, shown);
  }

  private tokenFrom(status: number, headers: Record<string, string | string[] | undefined>, text: string, shown: string): Token {
    const snippet = this.redactor.text(text.slice(0, 200));
    if (status === 429 || status >= 500) {
      const wait = parseRetryAfter(headers["retry-after"], this.clock.now());
      throw new TransientHttpError(`token endpoint ${shown} answered ${status}: ${snippet}`, { status, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
    }
    if (status < 200 || status >= 300) {
      throw new HttpError(`token endpoint ${shown} refused the client credentials (HTTP ${status}): ${snippet}`, {
        status,
        hint: "check the client id and secret (and the scope) the source's auth names",
      });
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new SluiceError(`token endpoint ${shown} answered ${status} with a body that is not JSON: ${snippet}`);
    }
    if (typeof body.access_token !== "string" || body.access_token === "") throw new SluiceError(`token endpoint ${shown} answered without an access_token: ${snippet}`);
    this.redactor.add(body.access_token);
    const ttlMs = (typeof body.expires_in === "number" ? body.expires_in : Number(body.expires_in ?? 3600)) * 1000;
    const margin = Math.min(this.creds.refreshMarginMs ?? 30_000, ttlMs / 10);
    return { value: body.access_token, expiresAt: this.clock.now() + ttlMs - margin };
  }
}

/** Forgets every cached token (tests). */
export function clearTokenCache(): void {
  cache.clear();
}

/**
 * One HTTP exchange: a request plus the redirects it leads to, under one timeout that covers
 * connecting, headers and the whole body, with compressed bodies decoded and a cap on body size.
 * Credentials go only to the source's own origin, hop by hop.
 */
import { STATUS_CODES } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { request, type Dispatcher } from "undici";
import { HttpError, NetworkError, RequestTimeoutError, SluiceError, type ErrorContext } from "../core/errors.ts";
import { abortReason } from "./clock.ts";
import type { AuthProvider } from "./auth/index.ts";
import type { PageRequest } from "./paginators/index.ts";
import type { Redactor } from "./redact.ts";

/** Redirect hops followed per request. */
export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A response's status line and headers, as given to body parsers. */
export interface ResponseInfo {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** URL of the response after redirects (redacted only when logged). */
  url: string;
}

/** A final (non-redirect) response with its whole, decoded body. */
export interface RawResponse extends ResponseInfo {
  body: Buffer;
  statusText: string;
}

/** What an exchange needs besides the request. */
export interface ExchangeOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  maxBodyBytes: number;
  auth: AuthProvider;
  /** The origin credentials may be sent to. */
  authOrigin: string;
  headers: Record<string, string>;
  redactor: Redactor;
  context: ErrorContext;
  /** Counts each hop's status (or "timeout"/"network"). */
  count: (key: string) => void;
}

/** Sends `req`, following redirects; resolves with the final response, throws on network faults and timeouts. */
export async function exchange(req: PageRequest, signal: AbortSignal, options: ExchangeOptions): Promise<RawResponse> {
  const timeout = new AbortController();
  const onAbort = () => timeout.abort(abortReason(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    timeout.abort(new Error("request timeout"));
  }, options.timeoutMs);
  // Even a request the HTTP pool never settles cannot outlive its timeout.
  const expired = new Promise<never>((_, reject) => timeout.signal.addEventListener("abort", () => reject(timeout.signal.reason), { once: true }));
  expired.catch(() => undefined);
  try {
    return await Promise.race([follow(req, timeout.signal, options), expired]);
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    if (signal.aborted) throw abortReason(signal);
    const shown = options.redactor.url(req.url);
    if ((err as { code?: string }).code === "UND_ERR_INVALID_ARG") {
      throw new HttpError(`invalid request ${req.method} ${shown}: ${options.redactor.text((err as Error).message)}`, { context: { ...options.context, url: shown }, cause: err });
    }
    if (timedOut) {
      options.count("timeout");
      throw new RequestTimeoutError(`request timed out after ${options.timeoutMs} ms: ${req.method} ${shown}`, { context: { ...options.context, url: shown } });
    }
    options.count("network");
    const code = (err as { code?: string }).code;
    const message = options.redactor.text(`${code ? `${code} ` : ""}${err instanceof Error ? err.message : String(err)}`);
    throw new NetworkError(`network error on ${req.method} ${shown}: ${message}`, { context: { ...options.context, url: shown }, cause: err });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

async function follow(first: PageRequest, signal: AbortSignal, options: ExchangeOptions): Promise<RawResponse> {
  let req = first;
  for (let hop = 0; ; hop++) {
    const target = parseTarget(req.url, options);
    const headers: Record<string, string> = { accept: "application/json", "accept-encoding": "gzip, deflate, br", "user-agent": "sluice/0.1", ...options.headers };
    const outgoing = { url: target, headers };
    // The secret goes only to the source's own origin, never to a redirect target elsewhere.
    if (target.origin === options.authOrigin) await options.auth.apply(outgoing, signal);
    if (req.body !== undefined) headers["content-type"] = "application/json";
    const res = await request(outgoing.url, { dispatcher: options.dispatcher, method: req.method, headers, signal, ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }) });
    const location = res.headers["location"];
    if (REDIRECT_STATUSES.has(res.statusCode) && location !== undefined) {
      await res.body.dump();
      options.count(String(res.statusCode));
      if (hop >= MAX_REDIRECTS) {
        throw new HttpError(`too many redirects (more than ${MAX_REDIRECTS}) starting at ${first.method} ${options.redactor.url(first.url)}`, { status: res.statusCode, context: options.context });
      }
      const url = new URL(String(location), target).href;
      // 301/302/303 turn a POST into a GET without body, as browsers and curl do; 307/308 keep it.
      req = res.statusCode === 307 || res.statusCode === 308 ? { ...req, url } : { method: "GET", url };
      continue;
    }
    const body = await readBody(res, req, options);
    return { status: res.statusCode, statusText: STATUS_CODES[res.statusCode] ?? "", headers: res.headers as ResponseInfo["headers"], url: req.url, body };
  }
}

function parseTarget(url: string, options: ExchangeOptions): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    throw new HttpError(`invalid URL ${options.redactor.url(url)}`, { context: options.context, cause });
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new HttpError(`unsupported URL scheme ${target.protocol} in ${options.redactor.url(url)}`, { context: options.context });
  }
  return target;
}

/** The whole body, decoded per Content-Encoding; an HttpError naming the URL when it exceeds the cap. */
async function readBody(res: Dispatcher.ResponseData, req: PageRequest, options: ExchangeOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const tooBig = () =>
    new HttpError(`the response to ${req.method} ${options.redactor.url(req.url)} is larger than ${Math.round(options.maxBodyBytes / 2 ** 20)} MiB`, {
      status: res.statusCode,
      context: options.context,
      hint: "ask for smaller pages (a lower limit/page size), or raise policy.maxBodyBytes",
    });
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > options.maxBodyBytes) {
      res.body.destroy();
      throw tooBig();
    }
    chunks.push(chunk);
  }
  const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
  const encoding = String(res.headers["content-encoding"] ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity" || raw.length === 0) return raw;
  const decoded = decode(raw, encoding, options.maxBodyBytes);
  if (decoded === undefined) throw new NetworkError(`could not decode the ${encoding} body of ${req.method} ${options.redactor.url(req.url)}`, { context: options.context });
  if (decoded === "too-big") throw tooBig();
  return decoded;
}

function decode(raw: Buffer, encoding: string, maxBytes: number): Buffer | "too-big" | undefined {
  try {
    const opts = { maxOutputLength: maxBytes };
    if (encoding === "gzip" || encoding === "x-gzip") return gunzipSync(raw, opts);
    if (encoding === "br") return brotliDecompressSync(raw, opts);
    if (encoding === "deflate") return inflateSync(raw, opts);
    return raw; // an encoding we did not ask for: hand over as is, the parser will say what it is
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too-big" : undefined;
  }
}

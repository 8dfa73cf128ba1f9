/**
 * Sluice's error hierarchy. Errors are data: retry logic reads `retryable`, the CLI reads
 * `exitCode`, and logs read `context`. Nothing ever parses a message.
 */

/** Where an error happened; every field optional, filled in as it bubbles up. */
export interface ErrorContext {
  job?: string;
  partition?: string;
  table?: string;
  /** Always redacted before it is stored here (see redactUrl). */
  url?: string;
  stage?: string;
}

export interface SluiceErrorOptions {
  retryable?: boolean;
  context?: ErrorContext;
  cause?: unknown;
  /** What the user should run or change next; appended to the message in the CLI. */
  hint?: string;
}

/** Base class: every error Sluice raises on purpose is one of these. */
export class SluiceError extends Error {
  readonly code: string = "SLUICE_ERROR";
  readonly retryable: boolean;
  readonly context: ErrorContext;
  readonly hint: string | undefined;
  /** Process exit code when this error ends a CLI command. */
  readonly exitCode: number = 1;

  constructor(message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
    this.context = { ...options.context };
    this.hint = options.hint;
  }

  /** Returns the same error with more context (fields already set win). */
  withContext(context: ErrorContext): this {
    Object.assign(this.context, { ...context, ...this.context });
    return this;
  }
}

/** A mistake the user made on the command line or in configuration: exit 2, no stack trace. */
export class UsageError extends SluiceError {
  override readonly code = "USAGE";
  override readonly exitCode = 2;
}

/** A job definition or config file that does not validate. */
export class ConfigError extends SluiceError {
  override readonly code = "CONFIG";
  override readonly exitCode = 2;
}

/** An HTTP request that failed; retryable for transient statuses and network faults. */
export class HttpError extends SluiceError {
  override readonly code = "HTTP";
  readonly status: number | undefined;
  readonly bodySnippet: string | undefined;
  /** Milliseconds the server asked us to wait (Retry-After), if any. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: SluiceErrorOptions & { status?: number; bodySnippet?: string; retryAfterMs?: number } = {},
  ) {
    super(message, options);
    this.status = options.status;
    this.bodySnippet = options.bodySnippet;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A 200 response whose body is not the JSON the source declares (truncated, HTML): transient. */
export class SourceFormatError extends SluiceError {
  override readonly code = "SOURCE_FORMAT";
}

/** A validation check with action `block` failed: nothing of the partition was loaded. */
export class ValidationBlockedError extends SluiceError {
  override readonly code = "VALIDATION_BLOCKED";
}

/** The warehouse or lake cannot take this data as is (incompatible type change, ...). */
export class SchemaError extends SluiceError {
  override readonly code = "SCHEMA";
}

/** Another process holds a lock we need (same partition running, warehouse busy). */
export class LockError extends SluiceError {
  override readonly code = "LOCKED";
}

/** The operation was cancelled through its AbortSignal or a deadline. */
export class CancelledError extends SluiceError {
  override readonly code = "CANCELLED";
}

/** True when retrying the same operation later may succeed. */
export function isRetryable(error: unknown): boolean {
  return error instanceof SluiceError && error.retryable;
}

/** One line for a user: message, context and hint, no stack. */
export function formatError(error: unknown): string {
  if (error instanceof SluiceError) {
    const ctx = Object.entries(error.context)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    return [error.message, ctx ? `(${ctx})` : "", error.hint ? `\n  hint: ${error.hint}` : ""]
      .filter(Boolean)
      .join(" ");
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Sluice's error hierarchy. Errors are data: whether retrying can help is a property of the error's
 * class (`static transient`, like dlt's TransientException), the CLI reads `exitCode`, logs read
 * `context`, and nothing ever parses a message. See error-codec.ts for how errors cross the queue.
 * The classes look alike on purpose: each declares a code and, where it differs, its transient marker.
 */

/** Where an error happened; every field optional, filled in as it bubbles up. */
export interface ErrorContext {
  job?: string;
  partition?: string;
  table?: string;
  /** Always redacted before it is stored here. */
  url?: string;
  stage?: string;
  source?: string;
}

export interface SluiceErrorOptions {
  context?: ErrorContext;
  cause?: unknown;
  /** What the user should run or change next; appended to the message in the CLI. */
  hint?: string;
}

/** Base class: every error Sluice raises on purpose is one of these. Terminal unless a subclass says otherwise. */
export class SluiceError extends Error {
  /** Whether the same operation may succeed later. Read it through `error.transient` or isTransient(). */
  static readonly transient: boolean = false;
  readonly code: string = "SLUICE_ERROR";
  readonly context: ErrorContext;
  readonly hint: string | undefined;
  /** Process exit code when this error ends a CLI command. */
  readonly exitCode: number = 1;

  constructor(message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = { ...options.context };
    this.hint = options.hint;
  }

  /** True when retrying the same operation later may succeed (the class decides). */
  get transient(): boolean {
    return (this.constructor as typeof SluiceError).transient;
  }

  /** Returns the same error with more context (fields already set win). */
  withContext(context: ErrorContext): this {
    Object.assign(this.context, { ...context, ...this.context });
    return this;
  }
}

/** A mistake the user made on the command line or in configuration: exit 2, no stack trace. */
export class UsageError extends SluiceError {
  override readonly code: string = "USAGE";
  override readonly exitCode: number = 2;
}

/** A job, source or suite declaration (or config file) that does not validate. */
export class ConfigError extends SluiceError {
  override readonly code: string = "CONFIG";
  override readonly exitCode: number = 2;
}

export interface HttpErrorOptions extends SluiceErrorOptions {
  status?: number;
  bodySnippet?: string;
}

/** An HTTP request the source answered with a status it will keep answering (400, 401, 404...). */
export class HttpError extends SluiceError {
  override readonly code: string = "HTTP";
  readonly status: number | undefined;
  readonly bodySnippet: string | undefined;

  constructor(message: string, options: HttpErrorOptions = {}) {
    super(message, options);
    this.status = options.status;
    this.bodySnippet = options.bodySnippet;
  }
}

/** A status worth retrying (429, 5xx, declared extras), possibly with the wait the server asked for. */
export class TransientHttpError extends HttpError {
  static override readonly transient: boolean = true;
  override readonly code: string = "HTTP_TRANSIENT";
  /** Milliseconds the server asked us to wait (Retry-After, a rate-limit reset header), if any. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: HttpErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The source said "too many requests" and when to come back: waiting for it is not a failed
 * attempt, so it does not use up the retry budget (only the rate-limit wait budget).
 */
export class RateLimitedError extends TransientHttpError {
  override readonly code: string = "RATE_LIMITED";
}

/** A connection that failed or was reset before a whole response arrived. */
export class NetworkError extends HttpError {
  static override readonly transient: boolean = true;
  override readonly code: string = "NETWORK";
}

/** A request that outlived its timeout (headers and body together). */
export class RequestTimeoutError extends HttpError {
  static override readonly transient: boolean = true;
  override readonly code: string = "TIMEOUT";
}

/** A 2xx response whose body is not the JSON the source declares (truncated, HTML): transient. */
export class SourceFormatError extends SluiceError {
  static override readonly transient: boolean = true;
  override readonly code: string = "SOURCE_FORMAT";
}

/**
 * The listing cannot continue as declared: a loop, a next pointer of the wrong type, a declared
 * path absent from a full page, a listing over its page or record cap. Retrying repeats it.
 */
export class PaginationError extends SourceFormatError {
  static override readonly transient: boolean = false;
  override readonly code: string = "PAGINATION";
}

/** A check the run's outcome explains, in the minimal form errors carry it. */
export interface BlockedCheck {
  check: string;
  table: string;
  failingRows: number;
}

/** A validation check with action `block` failed: nothing of the partition was loaded. */
export class ValidationBlockedError extends SluiceError {
  override readonly code: string = "VALIDATION_BLOCKED";
  /** The checks that blocked the partition. */
  readonly blocked: readonly BlockedCheck[];

  constructor(message: string, options: SluiceErrorOptions & { blocked?: readonly BlockedCheck[] } = {}) {
    super(message, options);
    this.blocked = options.blocked ?? [];
  }
}

/** The warehouse or lake cannot take this data as is (incompatible type change, duplicate keys...). */
export class SchemaError extends SluiceError {
  override readonly code: string = "SCHEMA";
}

/** A rerun would shrink a loaded partition by more than its table allows (an empty listing, a truncated source). */
export class PartitionShrinkError extends SluiceError {
  override readonly code: string = "SHRINK";
}

/** A lock held by another live run (same partition running, job lock): the holder will let go. */
export class LockError extends SluiceError {
  static override readonly transient: boolean = true;
  override readonly code: string = "LOCKED";
}

/** The warehouse file stayed held by another process (a load, a DuckDB session) for too long. */
export class WarehouseBusyError extends LockError {
  override readonly code: string = "WAREHOUSE_BUSY";
}

/** The operation was cancelled through its AbortSignal (Ctrl-C, SIGTERM, a caller). */
export class CancelledError extends SluiceError {
  override readonly code: string = "CANCELLED";
}

/** A time budget ran out (a partition's extraction deadline): a rerun resumes from what landed. */
export class DeadlineExceededError extends SluiceError {
  static override readonly transient: boolean = true;
  override readonly code: string = "DEADLINE";
}

/** A failed write to the lake or another local file that may succeed later (disk full, I/O error). */
export class StorageError extends SluiceError {
  static override readonly transient: boolean = true;
  override readonly code: string = "STORAGE";
}

/** A lake or landing file that exists but cannot be read (truncated, not Parquet/JSON). */
export class CorruptFileError extends SluiceError {
  override readonly code: string = "CORRUPT_FILE";
  readonly file: string;

  constructor(message: string, options: SluiceErrorOptions & { file: string }) {
    super(message, options);
    this.file = options.file;
  }
}

/** A service Sluice depends on (Redis, the loader, a Pushgateway) did not answer: it may later. */
export class ServiceUnavailableError extends SluiceError {
  static override readonly transient: boolean = true;
  override readonly code: string = "UNAVAILABLE";
}

/** True when retrying the same operation later may succeed. */
export function isTransient(error: unknown): boolean {
  return error instanceof SluiceError && error.transient;
}

/**
 * Whether a task runner (the queue) should try a failed partition again: Sluice errors say so
 * through their class; anything else is an unexpected fault and gets the benefit of the doubt.
 */
export function worthRetrying(error: unknown): boolean {
  return error instanceof SluiceError ? error.transient : true;
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

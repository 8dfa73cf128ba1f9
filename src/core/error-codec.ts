/**
 * Errors as data across processes (the queue): an error is described by its class code and its
 * fields, and rebuilt on the other side as the same class, so `transient` (a property of the
 * class) and the context survive the trip. Lives beside the classes it must know.
 */
import {
  CancelledError,
  ConfigError,
  CorruptFileError,
  DeadlineExceededError,
  HttpError,
  LockError,
  NetworkError,
  PaginationError,
  PartitionShrinkError,
  RateLimitedError,
  RequestTimeoutError,
  SchemaError,
  ServiceUnavailableError,
  SluiceError,
  SourceFormatError,
  StorageError,
  TransientHttpError,
  UsageError,
  ValidationBlockedError,
  WarehouseBusyError,
  type BlockedCheck,
  type ErrorContext,
  type SluiceErrorOptions,
} from "./errors.ts";

/** An error as plain JSON: enough to rebuild the same Sluice error class. */
export interface WireError {
  code: string | null;
  message: string;
  hint: string | null;
  context: Record<string, string>;
  status: number | null;
  retryAfterMs: number | null;
  file: string | null;
  blocked: BlockedCheck[];
}

type Rebuild = (message: string, options: SluiceErrorOptions, wire: WireError) => SluiceError;

const http = (wire: WireError) => ({ ...(wire.status === null ? {} : { status: wire.status }) });
const plain = (Class: new (m: string, o: SluiceErrorOptions) => SluiceError): Rebuild => (m, o) => new Class(m, o);

/** Every class by its code; a class without an entry comes back as its nearest listed base. */
const CLASSES: Record<string, Rebuild> = {
  SLUICE_ERROR: plain(SluiceError),
  USAGE: plain(UsageError),
  CONFIG: plain(ConfigError),
  HTTP: (m, o, w) => new HttpError(m, { ...o, ...http(w) }),
  HTTP_TRANSIENT: (m, o, w) => new TransientHttpError(m, { ...o, ...http(w), ...(w.retryAfterMs === null ? {} : { retryAfterMs: w.retryAfterMs }) }),
  RATE_LIMITED: (m, o, w) => new RateLimitedError(m, { ...o, ...http(w), ...(w.retryAfterMs === null ? {} : { retryAfterMs: w.retryAfterMs }) }),
  NETWORK: (m, o, w) => new NetworkError(m, { ...o, ...http(w) }),
  TIMEOUT: (m, o, w) => new RequestTimeoutError(m, { ...o, ...http(w) }),
  SOURCE_FORMAT: plain(SourceFormatError),
  PAGINATION: plain(PaginationError),
  VALIDATION_BLOCKED: (m, o, w) => new ValidationBlockedError(m, { ...o, blocked: w.blocked }),
  SCHEMA: plain(SchemaError),
  SHRINK: plain(PartitionShrinkError),
  LOCKED: plain(LockError),
  WAREHOUSE_BUSY: plain(WarehouseBusyError),
  CANCELLED: plain(CancelledError),
  DEADLINE: plain(DeadlineExceededError),
  STORAGE: plain(StorageError),
  UNAVAILABLE: plain(ServiceUnavailableError),
  CORRUPT_FILE: (m, o, w) => new CorruptFileError(m, { ...o, file: w.file ?? "" }),
};

/** Describes an error for the wire (a non-Sluice error keeps only its message). */
export function encodeError(error: unknown): WireError {
  if (!(error instanceof SluiceError)) {
    return { code: null, message: error instanceof Error ? error.message : String(error), hint: null, context: {}, status: null, retryAfterMs: null, file: null, blocked: [] };
  }
  const context: Record<string, string> = {};
  for (const [k, v] of Object.entries(error.context)) if (v !== undefined) context[k] = String(v);
  return {
    code: error.code,
    message: error.message,
    hint: error.hint ?? null,
    context,
    status: error instanceof HttpError ? (error.status ?? null) : null,
    retryAfterMs: error instanceof TransientHttpError ? (error.retryAfterMs ?? null) : null,
    file: error instanceof CorruptFileError ? error.file : null,
    blocked: error instanceof ValidationBlockedError ? error.blocked.map((b) => ({ check: b.check, table: b.table, failingRows: b.failingRows })) : [],
  };
}

/** Rebuilds an error of the same class, message, hint and context (a plain Error when it was not a Sluice error). */
export function decodeError(wire: WireError): Error {
  const options: SluiceErrorOptions = { context: wire.context as ErrorContext, ...(wire.hint === null ? {} : { hint: wire.hint }) };
  const rebuild = wire.code === null ? undefined : CLASSES[wire.code];
  return rebuild ? rebuild(wire.message, options, wire) : new Error(wire.message);
}

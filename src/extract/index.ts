/** The extract stage: declared HTTP sources to Polars DataFrames, landed raw, resumable. */
export { extractPartition, queueCapacity, type ExtractOptions, type ExtractResult } from "./extract.ts";
export { DEFAULT_POLICY, resolvePolicy } from "./policy.ts";
export {
  HttpClient,
  MAX_REDIRECTS,
  RETRYABLE_STATUSES,
  backoffDelay,
  fetchPage,
  parseRetryAfter,
  redactText,
  redactUrl,
  type BodyParser,
  type FetchedPage,
  type HttpClientOptions,
  type HttpStats,
  type ResponseInfo,
} from "./http.ts";
export { TokenBucket } from "./ratelimit.ts";
export { systemClock, type Clock } from "./clock.ts";
export {
  buildUrl,
  createPaginator,
  getPath,
  joinUrl,
  parseLinkHeader,
  samePosition,
  scanLastKeyValue,
  type LinkValue,
  type PageView,
  type Paginator,
  type ParallelPlan,
  type Position,
} from "./paginate.ts";
export {
  META_COLUMNS,
  arrowSchema,
  batchesToFrame,
  columnsFromSchema,
  decodeRecords,
  deriveColumns,
  emptyBatch,
  registerLooseObjects,
  type ColumnKind,
  type ColumnSpec,
  type DecodeOptions,
  type DerivedColumns,
  type JsonShape,
} from "./arrow.ts";
export { parseRfc3339, rfc3339ToMicros, type TimestampParts } from "./timestamp.ts";
export {
  STATE_FILE,
  landingDirFor,
  pageFileName,
  readLandedRecords,
  readState,
  recordsOf,
  removeLanding,
  requestFingerprint,
  type LandingState,
  type RequestIdentity,
} from "./landing.ts";
export type * from "./types.ts";

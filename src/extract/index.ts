/** The extract stage: declared HTTP sources to Polars DataFrames, landed raw, resumable. */
export { extractPartition, queueCapacity, type ExtractOptions, type ExtractResult } from "./extract-partition.ts";
export { DEFAULT_POLICY, resolvePolicy } from "./policy.ts";
export { HttpClient, fetchPage, DEFAULT_MAX_BODY_BYTES, type BodyParser, type FetchedPage, type FetchPageOptions, type HttpClientOptions, type HttpStats, type ResponseInfo } from "./http-client.ts";
export { MAX_REDIRECTS } from "./http-exchange.ts";
export { DEFAULT_RETRY_STATUSES, DEFAULT_MAX_WAIT_MS, judge, resolveResponseRules, type ResolvedResponseRules, type Verdict } from "./response-rules.ts";
export { backoffDelay, parseRetryAfter, parseResetHeader } from "./retry.ts";
export { Redactor, redactText, redactUrl } from "./redact.ts";
export { TokenBucket, type RequestLimiter } from "./ratelimit.ts";
export { RateGovernor } from "./rate-governor.ts";
export { systemClock, type Clock } from "./clock.ts";
export { DEMO_ENDPOINT, checkHttpUrl, resolveEndpoint, type ResolvedEndpoint } from "./endpoint.ts";
export { createAuth, clearTokenCache, readSecret, type AuthProvider } from "./auth/index.ts";
export { getPath, pathKeys, readPath, setPath, type JsonPath } from "./json-path.ts";
export {
  buildUrl,
  createPaginator,
  joinUrl,
  nextLink,
  paginatorFor,
  parseLinkHeader,
  samePosition,
  scanLastKeyValue,
  PAGINATOR_KINDS,
  type LinkValue,
  type PageRequest,
  type PageView,
  type Paginator,
  type ParallelPlan,
  type Position,
} from "./paginators/index.ts";
export { META_COLUMNS, arrowSchema, columnsFromSchema, deriveColumns, type ColumnKind, type ColumnSpec, type DerivedColumns, type JsonShape } from "./record-columns.ts";
export { ChunkDecoder, type ChunkSink, type DecodedChunk } from "./chunk-decoder.ts";
export { batchesToFrame, decodeRecords, emptyBatch, registerLooseObjects, type DecodeOptions } from "./record-decoder.ts";
export { formatDecodeIssue, type DecodeIssue } from "./decode-issue.ts";
export { parseRfc3339, rfc3339ToMicros, type TimestampParts } from "./timestamp.ts";
export { STATE_FILE, landingDirFor, pageFileName, readState, recordsOf, removeLanding, requestFingerprint, type LandingState, type RecordsLocation, type RequestIdentity } from "./landing.ts";
export { readLandedRecords, recordSpans } from "./landed-records.ts";
export type * from "./types.ts";
export { defineSource } from "./define-source.ts";
export { NO_MARK, NO_PARENT, fillPath, pathPlaceholders } from "./source-request.ts";
export { continueFrom, laterMark, markOf } from "./source-mark.ts";
export { emptyFrameOf } from "./empty-frame.ts";

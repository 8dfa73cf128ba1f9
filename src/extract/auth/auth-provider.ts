/** What every authentication method does to a request, whatever the method. */

/** The parts of a request auth may touch. */
export interface OutgoingRequest {
  url: URL;
  headers: Record<string, string>;
}

/** Credentials for one source, sent only to the source's own origin. */
export interface AuthProvider {
  /** Adds credentials to a request bound for the source's origin (the caller checks the origin). */
  apply(request: OutgoingRequest, signal: AbortSignal): Promise<void>;
  /** After a 401 from the source's origin: gets fresh credentials; false when that cannot help. */
  renew(signal: AbortSignal): Promise<boolean>;
  /** Query parameters that carry a secret: never kept in URLs that are stored (landing state). */
  readonly secretParams: readonly string[];
}

/** Sources without auth. */
export const NO_AUTH: AuthProvider = {
  apply: async () => undefined,
  renew: async () => false,
  secretParams: [],
};

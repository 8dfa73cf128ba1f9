/** Reading a declared secret from the environment, once, with the errors a user can act on. */
import { ConfigError, UsageError } from "../../core/errors.ts";

/** Reads env var `name` for `what` (e.g. `source "charges" bearer auth`); undefined only when optional. */
export function readSecret(env: Record<string, string | undefined>, name: string, what: string, optional = false): string | undefined {
  const value = env[name];
  if (value === undefined || value === "") {
    if (optional) return undefined;
    throw new ConfigError(`${what} needs the environment variable ${name}, and it is not set`, {
      hint: `export ${name}=... before running (the value is never logged or stored)`,
    });
  }
  // A value with a CR (a token read from a CRLF file) is not a valid header: say so before any request.
  const bad = /[\u0000-\u001f\u007f]/.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(2, "0");
    throw new UsageError(`${name} (${what}) holds a control character (U+00${code.toUpperCase()}) at position ${bad.index + 1} of ${value.length}; it cannot be sent in a request`, {
      hint: code === "0d" ? `it ends in a carriage return (a file saved with Windows line endings?): strip it, e.g. ${name}=$(tr -d '\\r' < file)` : `remove the character from ${name}`,
    });
  }
  return value;
}

/** Reading a declared secret from the environment, once, with the errors a user can act on. */
import { controlCharacterIn } from "../../core/config.ts";
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
  const bad = controlCharacterIn(value);
  if (bad) {
    throw new UsageError(`${name} (${what}) holds a control character (U+${bad.code}) at position ${bad.position} of ${value.length}; it cannot be sent in a request`, {
      hint: bad.code === "000D" ? `it ends in a carriage return (a file saved with Windows line endings?): strip it, e.g. ${name}=$(tr -d '\\r' < file)` : `remove the character from ${name}`,
    });
  }
  return value;
}

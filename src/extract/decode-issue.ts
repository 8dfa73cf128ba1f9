/**
 * Why a record could not be decoded, as data ({field, code, expected, got}); the message that
 * becomes its quarantine reason is computed from it, as zod does with its issues.
 */

/** One decode problem of a record: the first one per record is kept. */
export interface DecodeIssue {
  /** Dotted path of the field ("properties.amount"), or "record" for the record itself. */
  field: string;
  code: "invalid_type" | "invalid_timestamp" | "invalid_utf8" | "duplicate_key";
  /** What the schema declares: "string", "integer", "timestamp string", "object"... */
  expected: string;
  /** What arrived, described: `string "42"`, `number 4.5`, `boolean true`, `array`, `null`. */
  got: string;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

/** How a wrong value is quoted in an issue: `string "42"`, `number 4.5`, `boolean true`, `array`, `object`. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case "string":
      return `string ${quote(v)}`;
    case "number":
      return `number ${String(v)}`;
    case "boolean":
      return `boolean ${String(v)}`;
    default:
      return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
  }
}

/** A wrong type: `expected` is what the schema declares. Integers quote a non-integer number bare ("got 4.5"). */
export function typeIssue(field: string, expected: string, v: unknown): DecodeIssue {
  const got = expected === "integer" && typeof v === "number" ? String(v) : describeValue(v);
  return { field, code: "invalid_type", expected, got };
}

/** A timestamp string that is not RFC 3339. */
export function timestampIssue(field: string, v: string): DecodeIssue {
  return { field, code: "invalid_timestamp", expected: "RFC 3339 timestamp", got: quote(v) };
}

/** The message of an issue, as stored in `_error` and shown as a quarantine reason. */
export function formatDecodeIssue(issue: DecodeIssue): string {
  switch (issue.code) {
    case "invalid_timestamp":
      return `${issue.field}: unparseable timestamp ${issue.got}`;
    case "invalid_utf8":
      return `${issue.field}: bytes that are not UTF-8 (shown as U+FFFD): ${issue.got}`;
    case "duplicate_key":
      return `${issue.field}: key ${issue.got} appears twice in one object (JSON parsers keep only the last value)`;
    default:
      return `${issue.field}: expected ${issue.expected}, got ${issue.got}`;
  }
}

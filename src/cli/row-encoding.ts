/** One row at a time as CSV or JSON text, so results of any size can be written as they come. */
import { jsonText } from "../load/sql-values.ts";

/** Characters JSON.stringify leaves raw that a terminal may act on (DEL, C1 controls, bidi and line separators). */
const JSON_UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A value as a CSV field (RFC 4180): null as empty, objects as JSON, quoted when it must be. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "object" ? jsonText(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV line (without its line break). */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvField).join(",");
}

/**
 * Column names made unique for JSON objects, whose keys cannot repeat: the second `a` becomes
 * `a_1` (as DuckDB deduplicates names), skipping names the result already has.
 */
export function uniqueNames(columns: readonly string[]): string[] {
  const taken = new Set(columns);
  const seen = new Set<string>();
  return columns.map((name) => {
    if (!seen.has(name)) {
      seen.add(name);
      return name;
    }
    let n = 1;
    while (taken.has(`${name}_${n}`)) n++;
    const unique = `${name}_${n}`;
    taken.add(unique);
    seen.add(unique);
    return unique;
  });
}

/** One row as a JSON object on one line; characters a terminal could act on are written as \u escapes (same JSON value). */
export function jsonRowText(names: readonly string[], values: readonly unknown[]): string {
  // Built by hand: a JS object would reorder integer-like keys and treat "__proto__" specially.
  const text = `{${names.map((name, i) => `${JSON.stringify(name)}:${jsonText(values[i] ?? null)}`).join(",")}}`;
  return text.replace(JSON_UNSAFE, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
}

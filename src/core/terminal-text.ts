/**
 * Text bound for a terminal: control characters escaped, widths measured in terminal columns.
 *
 * Data and API error bodies can carry escape sequences (clear the screen, set the title, move the
 * cursor to print fake text). Whatever Sluice prints for a person goes through terminalSafe, so
 * those bytes show as visible escapes (`\x1b`) and never act.
 */

/**
 * C0 controls, DEL, C1 controls (U+009B is a one-character CSI), bidi overrides and isolates
 * (text that reads differently than it runs), and the Unicode line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** One control character as a visible escape: \n, \t, \x1b, \u202e. */
function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every control character shown as a visible escape; `newlines` keeps line breaks (messages). */
export function terminalSafe(text: string, options: { newlines?: boolean } = {}): string {
  return text.replace(options.newlines ? CONTROL_BUT_NEWLINE : CONTROL, visible);
}

/** Log arguments with their strings escaped deeply: plain objects, arrays and errors are copied, other objects kept as they are. */
export function terminalSafeDeep<T>(value: T): T {
  if (typeof value === "string") return terminalSafe(value, { newlines: true }) as T;
  if (Array.isArray(value)) return value.map((v) => terminalSafeDeep(v)) as T;
  if (value === null || typeof value !== "object") return value;
  const proto: unknown = Object.getPrototypeOf(value);
  const isError = value instanceof Error;
  if (!isError && proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = terminalSafeDeep(v);
  if (!isError) return out as T;
  const safe = { message: terminalSafe(value.message, { newlines: true }), stack: terminalSafe(value.stack ?? "", { newlines: true }) };
  return Object.assign(Object.create(proto as object) as object, value, out, safe) as T;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200d\ufe00-\ufe0f]$/u;
const WIDE = /^[\p{Extended_Pictographic}\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]$/u;

/** Columns one character takes on a terminal: 0 for combining marks, 2 for wide (CJK, emoji), else 1. */
function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/** Columns `text` takes on a terminal (text already terminal-safe). */
export function displayWidth(text: string): number {
  // ASCII is the common case: one column a character.
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

/** `text` cut to at most `width` columns, ending in "…" when something was cut. */
export function clipToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out}…`;
}

/** `text` padded with spaces to `width` columns, on the right (or the left for `align: "right"`). */
export function padToWidth(text: string, width: number, align: "left" | "right" = "left"): string {
  const pad = " ".repeat(Math.max(0, width - displayWidth(text)));
  return align === "right" ? pad + text : text + pad;
}

/** Byte scans of raw JSON bodies, for guesses made before the body is parsed. */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The string/number/null value starting at `i`, or undefined when it is something else or cut off. */
function scalarAt(body: Buffer, i: number): string | null | undefined {
  const c = body[i];
  if (c === QUOTE) {
    let j = i + 1;
    while (j < body.length && body[j] !== QUOTE) j += body[j] === BACKSLASH ? 2 : 1;
    if (j >= body.length) return undefined;
    try {
      return JSON.parse(body.toString("utf8", i, j + 1)) as string;
    } catch {
      return undefined;
    }
  }
  if (c === 0x6e && body.toString("latin1", i, i + 4) === "null") return null;
  let j = i;
  while (j < body.length && ((body[j]! >= 0x30 && body[j]! <= 0x39) || body[j] === 0x2d)) j++;
  return j > i ? body.toString("latin1", i, j) : undefined;
}

/**
 * The value of the last `"key": <string|number|null>` in raw JSON bytes, without parsing the
 * document; undefined when there is none or it is something else. A heuristic (the key may also
 * occur inside records): callers must confirm against the parsed body.
 */
export function scanLastKeyValue(body: Buffer, key: string): string | null | undefined {
  const needle = Buffer.from(JSON.stringify(key));
  let at = body.length;
  for (let tries = 0; tries < 4; tries++) {
    const idx = body.lastIndexOf(needle, at - 1);
    if (idx < 0) return undefined;
    at = idx;
    let i = idx + needle.length;
    while (isJsonSpace(body[i])) i++;
    if (body[i] !== 0x3a) continue; // ':' - it was a value, not a key
    i++;
    while (isJsonSpace(body[i])) i++;
    return scalarAt(body, i);
  }
  return undefined;
}

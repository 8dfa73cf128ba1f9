/** RFC 8288 Link header parsing: several links per header, quoted parameters, relation lists. */

/** One link of a Link header. */
export interface LinkValue {
  /** Target URL, resolved against the base URL when one is given. */
  url: string;
  /** Relation types, lowercased (`rel="next last"` gives ["next", "last"]). */
  rel: string[];
  /** All parameters, names lowercased, first occurrence wins; quoted values unescaped. */
  params: Record<string, string>;
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

/** A cursor over one header value; each method consumes what it names. */
class LinkScanner {
  i = 0;

  constructor(readonly s: string) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    while (this.i < this.s.length && isSpace(this.s[this.i])) this.i++;
  }

  /** Skips to just after the next top-level comma (quotes respected). */
  skipEntry(): void {
    let quoted = false;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s[this.i];
      if (quoted) {
        if (c === "\\") this.i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === ",") {
        this.i++;
        return;
      }
    }
  }

  /** The `<target>` at the cursor, or null when the entry does not start with one. */
  target(): string | null {
    const close = this.s.indexOf(">", this.i);
    if (close < 0) return null;
    const target = this.s.slice(this.i + 1, close).trim();
    this.i = close + 1;
    return target;
  }

  quoted(): string {
    this.i++;
    let v = "";
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      if (this.s[this.i] === "\\" && this.i + 1 < this.s.length) this.i++;
      v += this.s[this.i];
      this.i++;
    }
    this.i++; // closing quote
    return v;
  }

  token(stops: string): string {
    const start = this.i;
    while (this.i < this.s.length && !isSpace(this.s[this.i]) && !stops.includes(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  /** `; name=value` pairs after a target. */
  params(): Record<string, string> {
    const params: Record<string, string> = {};
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] !== ";") return params;
      this.i++;
      this.skipSpace();
      const name = this.token("=;,").toLowerCase();
      this.skipSpace();
      let value = "";
      if (this.s[this.i] === "=") {
        this.i++;
        this.skipSpace();
        value = this.s[this.i] === '"' ? this.quoted() : this.token(";,");
      }
      if (name && !(name in params)) params[name] = value;
    }
  }
}

/**
 * Parses RFC 8288 Link header(s): several links per header, quoted parameters (commas and
 * semicolons inside quotes are data), relation lists; relative targets resolved against `baseUrl`.
 * Malformed entries are skipped, never thrown.
 */
export function parseLinkHeader(header: string | readonly string[] | undefined | null, baseUrl?: string): LinkValue[] {
  if (header === undefined || header === null) return [];
  const scan = new LinkScanner(Array.isArray(header) ? header.join(", ") : (header as string));
  const out: LinkValue[] = [];
  while (!scan.done) {
    while (!scan.done && (isSpace(scan.s[scan.i]) || scan.s[scan.i] === ",")) scan.i++;
    if (scan.done) break;
    if (scan.s[scan.i] !== "<") {
      scan.skipEntry();
      continue;
    }
    const target = scan.target();
    if (target === null) break;
    const params = scan.params();
    scan.skipSpace();
    if (!scan.done && scan.s[scan.i] !== ",") scan.skipEntry();
    const url = resolve(target, baseUrl);
    if (url === null) continue;
    out.push({ url, rel: (params["rel"] ?? "").toLowerCase().split(/\s+/).filter(Boolean), params });
  }
  return out;
}

function resolve(target: string, baseUrl: string | undefined): string | null {
  if (baseUrl === undefined) return target;
  try {
    return new URL(target, baseUrl).href;
  } catch {
    return null;
  }
}

/** The rel="next" target of a response's Link header(s), if any. */
export function nextLink(header: string | string[] | undefined, baseUrl: string): string | undefined {
  return parseLinkHeader(header, baseUrl).find((l) => l.rel.includes("next"))?.url;
}

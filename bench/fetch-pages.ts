/**
 * The plain way to download a day of /v1/events: page after page (cursor pagination is
 * sequential), each body written to a file as it arrives, the next cursor read off the body's
 * tail so that JS never parses a whole page. Shared by the DuckDB reference (2) and the plain
 * download baseline of the latency point (bench/download.ts).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * The next cursor of a page. The body is left for others to parse, so JSON.parse of the whole
 * page is skipped when the body visibly ends with the cursor field (the common shape).
 */
function nextCursor(body: string): string | null {
  const m = /"next_cursor"\s*:\s*(null|"(?:[^"\\]|\\.)*")\s*}\s*$/.exec(body.slice(-2048));
  if (m) return JSON.parse(m[1]!) as string | null;
  const parsed = JSON.parse(body) as { next_cursor?: string | null };
  return parsed.next_cursor ?? null;
}

/** Fetches every page of the day to rawDir/page-NNNNNN.json; returns the page count. */
export async function fetchPages(apiUrl: string, dt: string, rawDir: string, limit: number): Promise<{ pages: number }> {
  const start = `${dt}T00:00:00Z`;
  const end = new Date(Date.parse(start) + 86_400_000).toISOString().replace(".000Z", "Z");
  let cursor: string | null = null;
  let pages = 0;
  const writes: Array<Promise<void>> = [];
  for (;;) {
    const url = new URL("/v1/events", apiUrl);
    url.searchParams.set("start", start);
    url.searchParams.set("end", end);
    url.searchParams.set("limit", String(limit));
    if (cursor !== null) url.searchParams.set("cursor", cursor);
    let body = "";
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(url);
      body = await res.text();
      if (res.ok) break;
      if (attempt >= 5 || ![429, 500, 502, 503, 504].includes(res.status)) throw new Error(`GET ${url} -> ${res.status}`);
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
    pages++;
    // Writes overlap the next request; the files are only read after all of them finish.
    writes.push(writeFile(path.join(rawDir, `page-${String(pages).padStart(6, "0")}.json`), body));
    cursor = nextCursor(body);
    if (cursor === null || cursor === "") break;
  }
  await Promise.all(writes);
  return { pages };
}

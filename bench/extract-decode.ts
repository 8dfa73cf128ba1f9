/**
 * Parse+decode throughput of the extract stage on 1M synthetic events (1,000 pages x 1,000
 * records, ~135 MB of JSON), against plain JSON.parse of the same pages, in one process.
 *
 *   npx tsx bench/extract-decode.ts [pages] [recordsPerPage]
 */
import { performance } from "node:perf_hooks";
import { EVENT_TYPES, EventRecord } from "../jobs/sources.ts";
import { batchesToFrame, columnsFromSchema, decodeRecords } from "../src/extract/index.ts";
import type { RecordBatch } from "apache-arrow";
import { seededRandom } from "../src/core/random.ts";

const PAGES = Number(process.argv[2] ?? 1000);
const PER_PAGE = Number(process.argv[3] ?? 1000);

const schema = EventRecord;

const PAGES_PATHS = ["/", "/pricing", "/docs", "/blog/a-long-article-title", "/cart", "/checkout"];


function makePages(): string[] {
  const r = seededRandom(42);
  const base = Date.parse("2026-11-20T00:00:00Z");
  const pages: string[] = [];
  let id = 0;
  for (let p = 0; p < PAGES; p++) {
    const data: unknown[] = [];
    for (let i = 0; i < PER_PAGE; i++) {
      const type = EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)]!;
      const props: Record<string, unknown> = { page: PAGES_PATHS[Math.floor(r() * PAGES_PATHS.length)]!, amount: type === "purchase" ? Math.round(r() * 50000) / 100 : null };
      data.push({
        event_id: `e-${String(id++).padStart(7, "0")}`,
        user_id: 1 + Math.floor(r() * 50000),
        ts: new Date(base + Math.floor(r() * 86_400_000)).toISOString(),
        event_type: type,
        properties: props,
      });
    }
    pages.push(JSON.stringify({ data, next_cursor: p + 1 < PAGES ? `c${p + 1}` : null }));
  }
  return pages;
}

function time<T>(label: string, f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms`);
  return { ms, value };
}

const pages = makePages();
const bytes = pages.reduce((s, p) => s + Buffer.byteLength(p), 0);
const bodies = pages.map((p) => Buffer.from(p));
console.log(`${PAGES} pages x ${PER_PAGE} records, ${(bytes / 1e6).toFixed(1)} MB of JSON`);
const columns = columnsFromSchema(schema);

// warm-up (JIT) on a few pages, not measured
for (let i = 0; i < Math.min(20, PAGES); i++) decodeRecords((JSON.parse(pages[i]!) as { data: unknown[] }).data, columns, i + 1, { drift: new Set() });

const runs: Array<Record<string, number>> = [];
for (let run = 0; run < 3; run++) {
  console.log(`-- run ${run + 1}`);
  const parse = time("JSON.parse (Buffer -> string -> parse)", () => {
    let n = 0;
    for (const b of bodies) n += (JSON.parse(b.toString("utf8")) as { data: unknown[] }).data.length;
    return n;
  });
  const drift = new Set<string>();
  const decode = time("JSON.parse + decode to Arrow batches", () => {
    const batches: RecordBatch[] = [];
    for (let i = 0; i < bodies.length; i++) batches.push(decodeRecords((JSON.parse(bodies[i]!.toString("utf8")) as { data: unknown[] }).data, columns, i + 1, { drift }));
    return batches;
  });
  const parsed = bodies.map((b) => (JSON.parse(b.toString("utf8")) as { data: unknown[] }).data);
  const decodeOnly = time("decode only (records already parsed)", () => parsed.map((d, i) => decodeRecords(d, columns, i + 1, { drift })));
  const frame = time("batches -> IPC file -> pl.readIPC", () => batchesToFrame(decode.value, columns));
  if (frame.value.height !== PAGES * PER_PAGE) throw new Error(`expected ${PAGES * PER_PAGE} rows, got ${frame.value.height}`);
  runs.push({ parse: parse.ms, parseDecode: decode.ms, decodeOnly: decodeOnly.ms, toFrame: frame.ms });
  console.log(`   ratio (parse+decode) / parse = ${(decode.ms / parse.ms).toFixed(2)}; + frame: ${((decode.ms + frame.ms) / parse.ms).toFixed(2)}`);
}
const best = (k: string) => Math.min(...runs.map((r) => r[k]!));
console.log(`best of 3: parse ${best("parse").toFixed(0)} ms, parse+decode ${best("parseDecode").toFixed(0)} ms, decode only ${best("decodeOnly").toFixed(0)} ms, to frame ${best("toFrame").toFixed(0)} ms`);
console.log(`ratio (parse+decode)/parse = ${(best("parseDecode") / best("parse")).toFixed(2)}, (parse+decode+frame)/parse = ${((best("parseDecode") + best("toFrame")) / best("parse")).toFixed(2)}`);

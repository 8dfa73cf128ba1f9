/**
 * Measures the demo API at benchmark scale: generating a day of ~1M events, the memory the cached
 * day holds, and fetching all of its pages of 1000 sequentially. Run:
 *   node --import tsx bench/demo-api.ts [eventsPerDay]
 */
import http from "node:http";
import { Buffer } from "node:buffer";
import { clearDemoApiCache, dayEvents, demoApiCacheBytes, startDemoApi } from "../src/demo-api/index.ts";

const eventsPerDay = Number(process.argv[2] ?? 1_000_000);
const dt = "2026-11-20";
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

clearDemoApiCache();
globalThis.gc?.();
const before = process.memoryUsage();
const api = await startDemoApi({ eventsPerDay });
try {
  const query = (cursor: string | null): string =>
    `${api.url}/v1/events?start=${dt}T00:00:00Z&end=2026-11-21T00:00:00Z&limit=1000${cursor ? `&cursor=${cursor}` : ""}`;

  // First request generates and caches the day.
  let cpu = process.cpuUsage();
  let t0 = performance.now();
  const first = await fetch(query(null));
  await first.arrayBuffer();
  cpu = process.cpuUsage(cpu);
  console.log(`generate day (${eventsPerDay} events/day) + first page: ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu`);
  globalThis.gc?.();
  const after = process.memoryUsage();
  console.log(`cached day: ${mb(demoApiCacheBytes())} in listings; process delta rss ${mb(after.rss - before.rss)}, heapUsed ${mb(after.heapUsed - before.heapUsed)}, arrayBuffers ${mb(after.arrayBuffers - before.arrayBuffers)}`);

  for (const mode of ["text", "json"] as const) {
    t0 = performance.now();
    let cursor: string | null = null;
    let pages = 0;
    let records = 0;
    let bytes = 0;
    do {
      const res = await fetch(query(cursor));
      const text = await res.text();
      bytes += text.length;
      pages++;
      if (mode === "json") {
        const body = JSON.parse(text) as { data: unknown[]; next_cursor: string | null };
        records += body.data.length;
        cursor = body.next_cursor;
      } else {
        // Cheap cursor extraction: the server writes next_cursor last.
        const m = /"next_cursor":(?:"([^"]*)"|null)}$/.exec(text);
        cursor = m?.[1] ?? null;
      }
    } while (cursor !== null);
    const ms = performance.now() - t0;
    console.log(`fetch all pages (${mode}): ${pages} pages, ${mode === "json" ? `${records} records, ` : ""}${mb(bytes)} in ${ms.toFixed(0)} ms (${(ms / pages).toFixed(2)} ms/page)`);
  }

  // The same walk with node:http and a keep-alive agent: far less client overhead than fetch,
  // so this is closer to the server's own cost (client + server CPU on one process).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (url: string): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
        })
        .on("error", reject);
    });
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const text = await get(query(cursor));
    pages++;
    cursor = /"next_cursor":(?:"([^"]*)"|null)}$/.exec(text)?.[1] ?? null;
  } while (cursor !== null);
  const cpu1 = process.cpuUsage(cpu0);
  agent.destroy();
  const wall = performance.now() - t0;
  console.log(`fetch all pages (node:http keep-alive, no parse): ${pages} pages in ${wall.toFixed(0)} ms wall, ${((cpu1.user + cpu1.system) / 1000).toFixed(0)} ms cpu client+server (${(wall / pages).toFixed(2)} ms/page)`);

  t0 = performance.now();
  const events = dayEvents({ eventsPerDay }, dt);
  console.log(`dayEvents (cached day, JSON.parse): ${events.length} records in ${(performance.now() - t0).toFixed(0)} ms`);
} finally {
  await api.close();
}

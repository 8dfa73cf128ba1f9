/**
 * End to end: extractPartition of 1M events (1,000 cursor pages x 1,000 records) from a server in
 * another process that serves pre-built pages from memory (optionally with a per-page delay to
 * mimic an API's latency), against (a) downloading the same pages without parsing (the API bound)
 * and (b) downloading + JSON.parse of each page before asking for the next (the naive client).
 * CPU is process-wide (thread pool included); "main thread busy" is the event-loop utilization.
 *
 *   npx tsx bench/extract-e2e.ts [pages] [perPage] [delayMsPerPage]
 */
import { fork } from "node:child_process";
import { rm } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { dayWindow } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { extractPartition } from "../src/extract/index.ts";
import type { SourceSpec } from "../src/extract/types.ts";
import { tempDir } from "../test/support/dirs.ts";
import { EVENT_TYPES, EventRecord } from "../jobs/sources.ts";

const PAGES = Number(process.argv[2] ?? 1000);
const PER_PAGE = Number(process.argv[3] ?? 1000);
const DELAY = Number(process.argv[4] ?? 0);

if (process.env["BENCH_SERVER"] === "1") {
  // child: build the pages, then serve them
  const { createServer } = await import("node:http");
  const base = Date.parse("2026-11-20T00:00:00Z");
  let seed = 42;
  const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  const pages: Buffer[] = [];
  let id = 0;
  for (let p = 0; p < PAGES; p++) {
    const data = [];
    for (let i = 0; i < PER_PAGE; i++) {
      const type = EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)]!;
      data.push({ event_id: `e-${String(id++).padStart(7, "0")}`, user_id: 1 + Math.floor(r() * 50000), ts: new Date(base + Math.floor(r() * 86_400_000)).toISOString(), event_type: type, properties: { page: "/pricing", amount: type === "purchase" ? 12.5 : null } });
    }
    pages.push(Buffer.from(JSON.stringify({ data, next_cursor: p + 1 < PAGES ? `c${p + 1}` : null })));
  }
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const c = u.searchParams.get("cursor");
    const body = pages[c ? Number(c.slice(1)) : 0]!;
    const send = () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    };
    if (DELAY > 0) setTimeout(send, DELAY);
    else send();
  });
  server.listen(0, "127.0.0.1", () => {
    const a = server.address();
    process.send!({ port: typeof a === "object" && a ? a.port : 0, bytes: pages.reduce((s, b) => s + b.length, 0) });
  });
} else {
  const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { env: { ...process.env, BENCH_SERVER: "1" }, execArgv: ["--import", "tsx"] });
  const { port, bytes } = await new Promise<{ port: number; bytes: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number; bytes: number })));
  const url = `http://127.0.0.1:${port}`;
  console.log(`${PAGES} pages x ${PER_PAGE} records, ${(bytes / 1e6).toFixed(1)} MB, server delay ${DELAY} ms/page`);

  const cpu = (since: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(since);
    return (d.user + d.system) / 1000;
  };
  const download = async (parse: boolean) => {
    const agent = new Agent();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let parseMs = 0;
    for (let p = 0; p < PAGES; p++) {
      const res = await request(`${url}/v1/events${p ? `?cursor=c${p}` : ""}`, { dispatcher: agent });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (parse) {
        const t1 = performance.now();
        JSON.parse(body.toString("utf8"));
        parseMs += performance.now() - t1;
      }
    }
    await agent.close();
    return { total: performance.now() - t0, parseMs, cpu: cpu(c0) };
  };

  const schema = EventRecord;
  const spec: SourceSpec = {
    name: "events",
    path: "/v1/events",
    params: () => ({ limit: PER_PAGE }),
    records: "data",
    paginator: { kind: "cursor", nextPath: "next_cursor", param: "cursor" },
    schema,
  };

  for (let run = 1; run <= 2; run++) {
    const dl = await download(false);
    const dlp = await download(true);
    const dataDir = await tempDir("sluice-bench-");
    const c0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const result = await extractPartition(spec, { baseUrl: url, window: dayWindow("2026-11-20"), dataDir, job: "events", signal: new AbortController().signal, log: silentLogger() });
    const ex = performance.now() - t0;
    const exCpu = cpu(c0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const t1 = performance.now();
    const again = await extractPartition(spec, { baseUrl: url, window: dayWindow("2026-11-20"), dataDir, job: "events", signal: new AbortController().signal, log: silentLogger() });
    const resume = performance.now() - t1;
    await rm(dataDir, { recursive: true, force: true });
    if (result.records !== PAGES * PER_PAGE || again.requests !== 0) throw new Error("wrong result");
    console.log(`-- run ${run}`);
    console.log(`download only (API bound)            ${dl.total.toFixed(0).padStart(6)} ms wall, ${dl.cpu.toFixed(0).padStart(6)} ms cpu`);
    console.log(`download + JSON.parse                ${dlp.total.toFixed(0).padStart(6)} ms wall, ${dlp.cpu.toFixed(0).padStart(6)} ms cpu (parse ${dlp.parseMs.toFixed(0)} ms)`);
    console.log(`extractPartition (land+parse+decode) ${ex.toFixed(0).padStart(6)} ms wall, ${exCpu.toFixed(0).padStart(6)} ms cpu -> wall ${(ex / dl.total).toFixed(2)}x download-only, ${(ex / dlp.total).toFixed(2)}x download+parse; main thread busy ${(elu * 100).toFixed(0)}%`);
    console.log(`rerun from landed pages (0 requests) ${resume.toFixed(0).padStart(6)} ms`);
  }
  child.kill();
}

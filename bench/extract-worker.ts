/**
 * Does moving JSON.parse + decode into worker_threads help on this machine? Decodes 1M synthetic
 * events (1,000 pages) on the main thread, then in 1 and 2 workers (bodies copied in, Arrow IPC
 * buffers transferred back, batches reassembled on the main thread), and prints the wall times.
 *
 *   npx tsx bench/extract-worker.ts [pages] [perPage]
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { RecordBatchReader, tableToIPC, Table, type RecordBatch } from "apache-arrow";
import { z } from "zod";
import { batchesToFrame, columnsFromSchema, decodeRecords, type ColumnSpec } from "../src/extract/index.ts";

const schema = z.object({
  event_id: z.string(),
  user_id: z.number().int().positive(),
  ts: z.iso.datetime({ offset: true }),
  event_type: z.string(),
  properties: z.object({ page: z.string().optional(), amount: z.number().nullable().optional() }).nullish(),
});

if (!isMainThread) {
  const columns = workerData as ColumnSpec[];
  parentPort!.on("message", (msg: { pageNo: number; body: Uint8Array }) => {
    const text = Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength).toString("utf8");
    const records = (JSON.parse(text) as { data: unknown[] }).data;
    const batch = decodeRecords(records, columns, msg.pageNo, { drift: new Set() });
    const ipc = tableToIPC(new Table([batch]), "stream");
    parentPort!.postMessage({ pageNo: msg.pageNo, ipc }, [ipc.buffer as ArrayBuffer]);
  });
  parentPort!.postMessage("ready");
} else {
  const PAGES = Number(process.argv[2] ?? 1000);
  const PER_PAGE = Number(process.argv[3] ?? 1000);
  const base = Date.parse("2026-11-20T00:00:00Z");
  const bodies: Buffer[] = [];
  let id = 0;
  for (let p = 0; p < PAGES; p++) {
    const data = [];
    for (let i = 0; i < PER_PAGE; i++) data.push({ event_id: `e-${String(id++).padStart(7, "0")}`, user_id: 1 + (id % 50000), ts: new Date(base + ((id * 7919) % 86_400_000)).toISOString(), event_type: "view_page", properties: { page: "/pricing", amount: id % 5 === 0 ? 12.5 : null } });
    bodies.push(Buffer.from(JSON.stringify({ data, next_cursor: `c${p + 1}` })));
  }
  const columns = columnsFromSchema(schema);
  console.log(`${PAGES} pages x ${PER_PAGE} records, ${(bodies.reduce((s, b) => s + b.length, 0) / 1e6).toFixed(1)} MB, ${availableParallelism()} cores`);

  const mainThread = () => {
    const t0 = performance.now();
    const batches = bodies.map((b, i) => decodeRecords((JSON.parse(b.toString("utf8")) as { data: unknown[] }).data, columns, i + 1, { drift: new Set() }));
    const frame = batchesToFrame(batches, columns);
    return { ms: performance.now() - t0, rows: frame.height };
  };

  const inWorkers = async (n: number) => {
    // Workers do not inherit tsx's loader hooks (bin/sluice.mjs uses register(); --import in a
    // worker's execArgv is not honoured either): bootstrap in plain JS, register tsx, then import.
    const bootstrap = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
    const workers = Array.from({ length: n }, () => new Worker(bootstrap, { eval: true, workerData: columns }));
    // wait until each worker has loaded the decoder
    await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
    const t0 = performance.now();
    const batches = new Array<RecordBatch>(PAGES);
    let next = 0;
    let done = 0;
    await new Promise<void>((resolve) => {
      const feed = (w: Worker) => {
        if (next < PAGES) {
          const body = bodies[next]!;
          w.postMessage({ pageNo: next + 1, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) });
          next++;
        }
      };
      for (const w of workers) {
        w.on("message", (m: { pageNo: number; ipc: Uint8Array }) => {
          batches[m.pageNo - 1] = [...RecordBatchReader.from(m.ipc)][0]!;
          if (++done === PAGES) resolve();
          else feed(w);
        });
        // two pages outstanding per worker so it never waits for the main thread
        feed(w);
        feed(w);
      }
    });
    const frame = batchesToFrame(batches, columns);
    const ms = performance.now() - t0;
    await Promise.all(workers.map((w) => w.terminate()));
    return { ms, rows: frame.height };
  };

  for (let run = 1; run <= 2; run++) {
    const m = mainThread();
    const w1 = await inWorkers(1);
    const w2 = await inWorkers(2);
    console.log(`run ${run}: main thread ${m.ms.toFixed(0)} ms | 1 worker ${w1.ms.toFixed(0)} ms | 2 workers ${w2.ms.toFixed(0)} ms (rows ${m.rows}/${w1.rows}/${w2.rows})`);
  }
}

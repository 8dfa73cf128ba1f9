/**
 * Baseline of the latency point: the plain sequential download of a day's pages to files, nothing
 * else (bench/fetch-pages.ts, the same code the DuckDB reference fetches with). Against an API
 * that answers each page after some latency, Sluice should take little longer than this: its
 * processing overlaps the fetching instead of following it.
 *
 * Run: node --import tsx bench/download.ts --api-url URL --date YYYY-MM-DD --work-dir DIR
 * Prints one JSON line on stdout: pages and ms.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { fetchPages } from "./fetch-pages.ts";

const { values } = parseArgs({ options: { "api-url": { type: "string" }, date: { type: "string" }, "work-dir": { type: "string" }, limit: { type: "string", default: "1000" } } });
const apiUrl = values["api-url"];
const dt = values.date;
const workDir = values["work-dir"];
if (!apiUrl || !dt || !/^\d{4}-\d{2}-\d{2}$/.test(dt) || !workDir) throw new Error("usage: download.ts --api-url URL --date YYYY-MM-DD --work-dir DIR");
const rawDir = path.join(workDir, "raw", `dt=${dt}`);
await mkdir(rawDir, { recursive: true });
const t0 = performance.now();
const { pages } = await fetchPages(apiUrl, dt, rawDir, Number(values.limit));
process.stdout.write(`${JSON.stringify({ pages, ms: Math.round(performance.now() - t0) })}\n`);

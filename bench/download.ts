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
import { fetchPages } from "./fetch-pages.ts";
import { competitorArgs } from "./lib.ts";

const { apiUrl, dt, workDir, flags } = competitorArgs("download.ts --api-url URL --date YYYY-MM-DD --work-dir DIR");
const rawDir = path.join(workDir, "raw", `dt=${dt}`);
await mkdir(rawDir, { recursive: true });
const t0 = performance.now();
const { pages } = await fetchPages(apiUrl, dt, rawDir, Number(flags["limit"]));
process.stdout.write(`${JSON.stringify({ pages, ms: Math.round(performance.now() - t0) })}\n`);

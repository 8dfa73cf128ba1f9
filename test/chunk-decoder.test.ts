/**
 * The streamed decoder (src/extract/chunk-decoder.ts): a chunk it hands on is every page's rows in
 * page order, whatever order the pages came in, exactly the frame the pages decode to at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { ChunkDecoder, type DecodedChunk } from "../src/extract/chunk-decoder.ts";
import type { QueuedPage } from "../src/extract/listing-fetcher.ts";
import { BoundedQueue } from "../src/extract/page-queue.ts";
import { batchesToFrame, decodeRecords, deriveColumns } from "../src/extract/index.ts";
import { assertFramesEqual } from "./support/frames.ts";

const { columns } = deriveColumns(z.object({ id: z.string(), n: z.number().int(), at: z.string().datetime() }));

/** Page `no` of `size` records; every 97th record has a wrong type, so _error is exercised too. */
function page(no: number, size: number): unknown[] {
  return Array.from({ length: size }, (_, i) => ({ id: `p${no}-r${i}`, n: i % 97 === 0 ? "oops" : no * 1000 + i, at: new Date(Date.UTC(2026, 10, 20) + no * 60_000 + i).toISOString() }));
}

/** Decodes `order` (page numbers, in arrival order) through a ChunkDecoder; returns the chunks. */
async function decodeInOrder(order: number[], size: number, rows: number): Promise<DecodedChunk[]> {
  const queue = new BoundedQueue<QueuedPage>(order.length + 1, new AbortController().signal);
  for (const no of order) await queue.push({ pageNo: no, records: page(no, size), bytes: 0, landed: Promise.resolve() });
  queue.close();
  const chunks: DecodedChunk[] = [];
  const decoder = new ChunkDecoder(columns, { rows, onChunk: async (chunk) => void chunks.push(chunk) });
  await decoder.drain(queue);
  return chunks;
}

/** The frame of pages first..last decoded at once, in page order. */
function atOnce(pages: number[], size: number) {
  return batchesToFrame([...pages].sort((a, b) => a - b).map((no) => decodeRecords(page(no, size), columns, no)), columns);
}

test("a chunk of many pages equals the pages decoded at once", async () => {
  const pages = Array.from({ length: 40 }, (_, i) => i + 1);
  const chunks = await decodeInOrder(pages, 1000, 1_000_000);
  assert.equal(chunks.length, 1, "one chunk: 40,000 rows fit its size");
  const [chunk] = chunks as [DecodedChunk];
  assert.deepEqual([chunk.firstPage, chunk.lastPage, chunk.frame.height], [1, 40, 40_000]);
  assertFramesEqual(chunk.frame, atOnce(pages, 1000));
});

test("pages that arrive out of order still make chunks in page order", async () => {
  // a parallel listing: pages arrive interleaved
  const order = [5, 1, 9, 2, 30, 3, 17, 4, 6, 8, 7, 12, 10, 11, 29, 13, 14, 16, 15, 18, 20, 19, 21, 23, 22, 24, 26, 25, 27, 28];
  const chunks = await decodeInOrder(order, 1500, 1_000_000);
  assert.equal(chunks.length, 1);
  const [chunk] = chunks as [DecodedChunk];
  assert.deepEqual([chunk.firstPage, chunk.lastPage], [1, 30]);
  assertFramesEqual(chunk.frame, atOnce(order, 1500));
});

test("chunks end at the first page boundary past their size, each in page order, and none is lost", async () => {
  const pages = Array.from({ length: 25 }, (_, i) => i + 1);
  const chunks = await decodeInOrder(pages, 1000, 7_000);
  assert.deepEqual(chunks.map((c) => [c.seq, c.firstPage, c.lastPage, c.frame.height]), [
    [0, 1, 7, 7000], [1, 8, 14, 7000], [2, 15, 21, 7000], [3, 22, 25, 4000],
  ]);
  for (const c of chunks) assertFramesEqual(c.frame, atOnce(pages.slice(c.firstPage - 1, c.lastPage), 1000));
});

test("a listing with no pages hands on one empty chunk with the declared columns", async () => {
  const chunks = await decodeInOrder([], 0, 1000);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]?.frame.height, 0);
  assert.deepEqual(chunks[0]?.frame.columns, atOnce([], 0).columns);
});

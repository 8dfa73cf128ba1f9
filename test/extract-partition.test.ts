/** extractPartition end to end against the fault server: exactness under faults, pagination, landing and resume. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import pl from "nodejs-polars";
import { dayWindow } from "../src/core/dates.ts";
import { CancelledError, HttpError, SourceFormatError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { DEFAULT_POLICY, extractPartition, landingDirFor, pageFileName, queueCapacity, readLandedRecords, readState, removeLanding, type ExtractOptions, type ExtractResult } from "../src/extract/index.ts";
import { ALL_FAULTS, FakeClock, capturingLogger, makeEvents, specFor, startFaultServer, type Style } from "./fixtures/fault-server.ts";
import { tempDataDir } from "./support/dirs.ts";

const DT = "2026-11-20";

function options(baseUrl: string, dataDir: string, over: Partial<ExtractOptions> = {}): ExtractOptions {
  return { baseUrl, window: dayWindow(DT), dataDir, job: "events", signal: new AbortController().signal, log: silentLogger(), clock: new FakeClock(), ...over };
}

/** Asserts the frame holds the ground truth exactly: each (_page,_row) once, in listing order, raw records identical. */
async function assertGroundTruth(result: ExtractResult, truth: Array<Record<string, unknown>>, recordsPath: string): Promise<void> {
  const frame = result.frame.sort(["_page", "_row"]);
  assert.equal(frame.height, truth.length, "row count");
  const keys = frame.select(pl.concatString([pl.col("_page"), pl.col("_row")], ":").alias("k")).getColumn("k");
  assert.equal(keys.nUnique(), truth.length, "each (_page,_row) exactly once");
  const refs = frame
    .select(pl.col("_page").alias("page"), pl.col("_row").alias("row"))
    .toRecords()
    .map((r) => ({ page: Number(r["page"]), row: Number(r["row"]) }));
  const raw = await readLandedRecords(result.landingDir, recordsPath, refs);
  assert.deepEqual(raw, truth.map((r) => JSON.stringify(r)), "raw landed records equal the ground truth, in order");
  assert.deepEqual(frame.getColumn("event_id").toArray(), truth.map((r) => r["event_id"]), "decoded ids in listing order");
  // duplicates in the source are kept (dedup by business key is a later stage)
  const distinct = new Set(truth.map((r) => r["event_id"])).size;
  assert.ok(distinct < truth.length, "the ground truth has duplicates");
  assert.equal(frame.getColumn("event_id").nUnique(), distinct);
}

const recordsPathOf: Record<Style, string> = { cursor: "data", offset: "users", page: "items", link: "data" };

for (const style of ["cursor", "offset", "page", "link"] as const) {
  test(`the ${style} paginator extracts exactly the ground truth with 40% of requests failing in every way`, async (t) => {
    const truth = makeEvents(230, { seed: style.length, dupRate: 0.08, driftRate: 0.05 });
    const server = await startFaultServer({ records: truth, faultRate: 0.4, faults: ALL_FAULTS, maxConsecutiveFaults: 4, seed: style.length * 11 });
    t.after(() => server.close());
    const dataDir = await tempDataDir(t);
    const spec = specFor(style, { pageSize: 20, policy: { timeoutMs: 250, concurrency: 3, retry: { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2000 } } });
    const result = await extractPartition(spec, options(server.url, dataDir));
    await assertGroundTruth(result, truth, recordsPathOf[style]);
    assert.equal(result.pages, 12);
    assert.equal(result.records, 230);
    assert.ok(result.retries >= 3, `retries ${result.retries}`);
    assert.equal(result.requests, result.pages + result.retries);
    // (a request that timed out before the server accepted it is counted by the client only)
    assert.ok(server.dataRequests() <= result.requests && server.dataRequests() >= result.requests - (result.statusCounts["timeout"] ?? 0));
    assert.equal(result.statusCounts["200"], 12);
    assert.deepEqual(result.drift, ["properties.referrer"]);
    assert.equal(result.resumed, false);
    assert.ok(server.maxInFlight() <= 3);
    // landed page files are the raw bodies: one per page, plus the state
    const files = (await readdir(result.landingDir)).sort();
    assert.deepEqual(files, ["_state.json", ...Array.from({ length: 12 }, (_, i) => `page-${String(i + 1).padStart(6, "0")}.json`)]);
    const state = await readState(result.landingDir);
    assert.equal(state?.complete, true);
    assert.deepEqual(state?.landed, Array.from({ length: 12 }, (_, i) => i + 1));
  });
}

test("an extraction fetches offset pages in parallel within the concurrency bound and still orders them", async (t) => {
  const truth = makeEvents(300, { dupRate: 0.05 });
  const server = await startFaultServer({ records: truth, delayMs: 15 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const result = await extractPartition(specFor("offset", { pageSize: 10, policy: { concurrency: 4 } }), options(server.url, dataDir));
  await assertGroundTruth(result, truth, "users");
  assert.equal(server.maxInFlight(), 4);
  assert.equal(result.requests, 30);
});

test("an extraction adapts to a server that caps the page size below the requested limit", async (t) => {
  const truth = makeEvents(95);
  const server = await startFaultServer({ records: truth, maxPageSize: 7 });
  t.after(() => server.close());
  for (const concurrency of [1, 3]) {
    const dataDir = await tempDataDir(t);
    const result = await extractPartition(specFor("offset", { pageSize: 20, policy: { concurrency } }), options(server.url, dataDir));
    await assertGroundTruth(result, truth, "users");
    assert.equal(result.pages, 14);
  }
});

test("an extraction ends an offset listing without a total on a short page", async (t) => {
  const truth = makeEvents(45);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("offset", { pageSize: 15, paginator: { kind: "offset", offsetParam: "offset", limitParam: "limit", limit: 15 } });
  const result = await extractPartition(spec, options(server.url, dataDir));
  await assertGroundTruth(result, truth, "users");
  // 45 = 3 full pages: the 4th comes back empty and ends the listing
  assert.equal(result.requests, 4);
  assert.equal(result.pages, 4);
});

test("an extraction returns typed empty columns for an empty listing", async (t) => {
  const server = await startFaultServer({ records: [] });
  t.after(() => server.close());
  for (const style of ["cursor", "offset", "page", "link"] as const) {
    const dataDir = await tempDataDir(t);
    const result = await extractPartition(specFor(style), options(server.url, dataDir));
    assert.equal(result.records, 0, style);
    assert.equal(result.frame.height, 0);
    assert.equal(String(result.frame.getColumn("ts").dtype), "DataType(Datetime(us,UTC))");
    assert.equal(result.requests, 1);
  }
});

for (const style of ["cursor", "offset", "page", "link"] as const) {
  test(`the ${style} paginator stops an API that loops instead of fetching forever`, async (t) => {
    const server = await startFaultServer({ records: makeEvents(100), loop: true });
    t.after(() => server.close());
    const dataDir = await tempDataDir(t);
    for (const concurrency of style === "offset" || style === "page" ? [1, 4] : [1]) {
      server.resetLog();
      await assert.rejects(
        extractPartition(specFor(style, { pageSize: 10, policy: { concurrency } }), options(server.url, dataDir, { refetch: true })),
        (e: unknown) => e instanceof SourceFormatError && !e.transient && /pagination loop/.test(e.message),
      );
      assert.ok(server.dataRequests() <= 2 + concurrency, `${server.dataRequests()} requests`);
    }
  });
}

test("the speculative next request cancels a wrong guess (a cursor-like key inside the records) and still extracts exactly the ground truth", async (t) => {
  // records carry their own "next_cursor" field, and the real one comes first in the body:
  // the byte scan guesses a decoy, the parsed page disagrees, the guess is dropped
  const truth = makeEvents(60).map((r, i) => ({ ...r, next_cursor: `decoy-${i}` }));
  const server = await startFaultServer({ records: truth, cursorFirst: true, delayMs: 5 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const result = await extractPartition(specFor("cursor", { pageSize: 10 }), options(server.url, dataDir));
  await assertGroundTruth(result, truth, "data");
  assert.deepEqual(result.drift, ["next_cursor"]);
  // the guesses were made (and counted as requests), the real listing took 6 requests
  assert.ok(result.requests > 6, `${result.requests} requests`);
  assert.equal(server.requests.filter((r) => !r.path.includes("cursor=decoy")).length, 6);
});

test("the speculative next request asks for page N+1 before page N is parsed", async (t) => {
  // every first answer is truncated JSON that still shows the next cursor (it comes first):
  // the guess goes out before the parse of page N fails and page N is asked for again
  const truth = makeEvents(50);
  const server = await startFaultServer({ records: truth, cursorFirst: true, faultRate: 1, faults: ["truncated"], maxConsecutiveFaults: 1 });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const result = await extractPartition(specFor("cursor", { pageSize: 10 }), options(server.url, dataDir));
  await assertGroundTruth(result, truth, "data");
  const cursorOf = (offset: number) => (offset === 0 ? null : Buffer.from(`o:${offset}`).toString("base64url"));
  const requestsFor = (offset: number) =>
    server.requests
      .map((r, i) => ({ i, r, cursor: new URL(r.path, server.url).searchParams.get("cursor") }))
      .filter((x) => x.cursor === cursorOf(offset));
  const early: boolean[] = [];
  for (let page = 0; page < 4; page++) {
    const served = requestsFor(page * 10).find((x) => x.r.status === 200)!;
    early.push(requestsFor((page + 1) * 10)[0]!.i < served.i);
  }
  // page 1's guess always goes out early; a page fetched ahead only guesses once the producer
  // waits for it (one page ahead at most), so the pattern alternates here
  assert.equal(early[0], true, `page 2 requested before page 1 was served whole: ${early.join(",")}`);
  assert.ok(early.filter(Boolean).length >= 2, early.join(","));
  assert.equal(result.requests, 10);
});

test("backpressure keeps fetched-but-undecoded pages bounded when decoding is slower than the API", async (t) => {
  const server = await startFaultServer({ records: makeEvents(400) });
  t.after(() => server.close());
  for (const [style, concurrency] of [["cursor", 1], ["offset", 4]] as const) {
    const dataDir = await tempDataDir(t);
    server.resetLog();
    let maxAhead = 0;
    const onPage = () => {
      // a slow consumer: 15 ms of blocking work per page
      const until = Date.now() + 15;
      while (Date.now() < until);
      maxAhead = Math.max(maxAhead, server.dataRequests() - decoded++);
    };
    let decoded = 1;
    const result = await extractPartition(specFor(style, { pageSize: 10, policy: { concurrency } }), options(server.url, dataDir, { onPage }));
    assert.equal(result.records, 400);
    // pages in flight + the queue + the one being decoded
    const bound = concurrency + queueCapacity({ ...DEFAULT_POLICY, concurrency }) + 1;
    assert.ok(maxAhead <= bound, `${style}: ${maxAhead} pages ahead of decoding (bound ${bound})`);
    assert.ok(maxAhead >= 3, `${style}: the API did run ahead of the slow decoder (${maxAhead})`);
  }
});

test("a completed extraction reruns from its landed pages without a single request", async (t) => {
  const truth = makeEvents(120);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { pageSize: 25 });
  const first = await extractPartition(spec, options(server.url, dataDir));
  assert.equal(first.requests, 5);
  // a write interrupted by a crash leaves a temp file behind: it is swept, not used
  await writeFile(path.join(first.landingDir, "page-000006.json.123.1.tmp"), "{");
  server.resetLog();
  const again = await extractPartition(spec, options(server.url, dataDir));
  assert.ok(!(await readdir(first.landingDir)).some((f) => f.endsWith(".tmp")));
  assert.equal(server.dataRequests(), 0);
  assert.equal(again.requests, 0);
  assert.equal(again.resumed, true);
  assert.equal(again.pages, 5);
  assert.deepEqual(again.frame.toRecords(), first.frame.toRecords());
  assert.deepEqual(again.drift, first.drift);
});

for (const [style, concurrency] of [["cursor", 1], ["link", 1], ["offset", 1], ["offset", 3], ["page", 3]] as const) {
  test(`the ${style} paginator${concurrency > 1 ? " (parallel)" : ""} continues a listing that died mid-way from the last landed page`, async (t) => {
    const truth = makeEvents(200, { seed: 5 });
    const server = await startFaultServer({ records: truth });
    t.after(() => server.close());
    const dataDir = await tempDataDir(t);
    const spec = specFor(style, { pageSize: 10, policy: { concurrency } });
    const controller = new AbortController();
    // "dies" after the 4th decoded page
    await assert.rejects(
      extractPartition(spec, options(server.url, dataDir, { signal: controller.signal, onPage: (p) => (p.page === 4 || (concurrency > 1 && p.page >= 4) ? controller.abort() : undefined) })),
      CancelledError,
    );
    const state = await readState(landingDirFor(dataDir, "events", DT, spec.name));
    assert.ok(state && !state.complete);
    const landed = state.landed.length;
    assert.ok(landed >= 4 && landed < 20, `${landed} pages landed`);
    // pages are written in place: a write cut by the kill leaves a torn file the state does not list
    const torn = Array.from({ length: 20 }, (_, i) => i + 1).find((p) => !state.landed.includes(p))!;
    const tornFile = path.join(landingDirFor(dataDir, "events", DT, spec.name), pageFileName(torn));
    await writeFile(tornFile, '{"data":[{"id":');
    server.resetLog();
    const result = await extractPartition(spec, options(server.url, dataDir));
    assert.equal(result.resumed, true);
    // exactly the pages that were not landed, nothing twice
    assert.equal(server.dataRequests(), 20 - landed);
    assert.equal(result.requests, 20 - landed);
    await assertGroundTruth(result, truth, recordsPathOf[style]);
    assert.doesNotThrow(() => JSON.parse(readFileSync(tornFile, "utf8")), "the torn page was fetched again and written over");
  });
}

test("an extraction refetches everything when asked to", async (t) => {
  const truth = makeEvents(60);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("page", { pageSize: 20 });
  await extractPartition(spec, options(server.url, dataDir));
  server.resetLog();
  const again = await extractPartition(spec, options(server.url, dataDir, { refetch: true }));
  assert.equal(server.dataRequests(), 3);
  assert.equal(again.resumed, false);
  await assertGroundTruth(again, truth, "items");
});

test("an extraction does not reuse a landing made for a different request", async (t) => {
  const truth = makeEvents(60);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  await extractPartition(specFor("cursor", { pageSize: 20 }), options(server.url, dataDir));
  server.resetLog();
  const { log, lines } = capturingLogger();
  const again = await extractPartition(specFor("cursor", { pageSize: 30 }), options(server.url, dataDir, { log }));
  assert.equal(server.dataRequests(), 2);
  assert.equal(again.resumed, false);
  assert.equal(again.pages, 2);
  assert.ok(lines.some((l) => l.includes("different request")));
  assert.equal((await readdir(again.landingDir)).filter((f) => f.startsWith("page-")).length, 2);
});

test("an extraction refetches when a landed page is unreadable", async (t) => {
  const truth = makeEvents(60);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { pageSize: 20 });
  const first = await extractPartition(spec, options(server.url, dataDir));
  await writeFile(path.join(first.landingDir, "page-000002.json"), '{"data": [tru');
  server.resetLog();
  const again = await extractPartition(spec, options(server.url, dataDir));
  assert.equal(server.dataRequests(), 3);
  await assertGroundTruth(again, truth, "data");
});

test("an extraction lands each body byte for byte as received, with a state holding no secret", async (t) => {
  const truth = makeEvents(30);
  const server = await startFaultServer({ records: truth, token: "zz-secret-zz" });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const spec = specFor("cursor", { pageSize: 10, auth: { kind: "bearer", env: "TOKEN" } });
  const result = await extractPartition(spec, options(server.url, dataDir, { env: { TOKEN: "zz-secret-zz" } }));
  const expected = JSON.stringify({ data: truth.slice(10, 20), next_cursor: Buffer.from("o:20").toString("base64url") });
  assert.equal(await readFile(path.join(result.landingDir, "page-000002.json"), "utf8"), expected);
  const state = await readFile(path.join(result.landingDir, "_state.json"), "utf8");
  assert.ok(!state.includes("zz-secret-zz"));
  assert.equal(result.landingDir, path.join(dataDir, "raw", "events", `dt=${DT}`, spec.name));
  await removeLanding(dataDir, "events", DT);
  await assert.rejects(readdir(result.landingDir));
});

test("landed records read back by (page, row) in the order asked, each page parsed once", async (t) => {
  const truth = makeEvents(50);
  const server = await startFaultServer({ records: truth });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const result = await extractPartition(specFor("cursor", { pageSize: 20 }), options(server.url, dataDir));
  const refs = [
    { page: 3, row: 9 },
    { page: 1, row: 0 },
    { page: 2, row: 5 },
    { page: 1, row: 19 },
  ];
  assert.deepEqual(await readLandedRecords(result.landingDir, "data", refs), [49, 0, 25, 19].map((i) => JSON.stringify(truth[i])));
  await assert.rejects(readLandedRecords(result.landingDir, "data", [{ page: 9, row: 0 }]), /missing/);
  await assert.rejects(readLandedRecords(result.landingDir, "data", [{ page: 3, row: 10 }]), /no row 10/);
});

test("an extraction fails fast on a 404, with the partition in the error's context", async (t) => {
  const server = await startFaultServer({ records: makeEvents(10) });
  t.after(() => server.close());
  const dataDir = await tempDataDir(t);
  const err = await extractPartition(specFor("cursor", { path: "/v1/nothing" }), options(server.url, dataDir)).then(
    () => assert.fail("should fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 404);
  assert.equal(server.dataRequests(), 1);
  assert.deepEqual({ job: err.context.job, partition: err.context.partition, stage: err.context.stage }, { job: "events", partition: DT, stage: "extract" });
  assert.match(err.context.url ?? "", /\/v1\/nothing\?/);
  await rm(dataDir, { recursive: true, force: true });
});

/**
 * What JSON.parse hides is not loaded silently: bytes that are not UTF-8, keys given twice and
 * integers beyond 2^53 quarantine their record with a reason naming the field; a leap second loads;
 * credentials in an API URL are refused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { ConfigError } from "../src/core/errors.ts";
import { resolveEndpoint } from "../src/extract/endpoint.ts";
import { deriveColumns } from "../src/extract/record-columns.ts";
import { decodeRecords } from "../src/extract/record-decoder.ts";
import { recordsOf } from "../src/extract/landing.ts";
import { parseRfc3339, type TimestampParts } from "../src/extract/timestamp.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runPartition } from "../src/pipeline/index.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { EventRecord } from "../jobs/sources.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";
import { runSluice } from "./support/sluice.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);
const DAY = "2026-11-19";
const ev = (id: string, extra = ""): string => `{"event_id":"${id}","user_id":7,"ts":"${DAY}T10:00:00Z","event_type":"login"${extra}}`;

/** One page of events, as raw bytes: good records, two ids whose bytes are not UTF-8, a repeated key, a huge integer, a leap second. */
function dirtyPage(): Buffer {
  return Buffer.concat([
    Buffer.from(`{"data":[${ev("good-1")},{"event_id":"bad-`),
    Buffer.from([0xff]),
    Buffer.from(`","user_id":7,"ts":"${DAY}T10:00:01Z","event_type":"login"},{"event_id":"bad-`),
    Buffer.from([0xfe]),
    Buffer.from(`","user_id":7,"ts":"${DAY}T10:00:02Z","event_type":"login"},`),
    Buffer.from(`{"event_id":"twice","user_id":7,"user_id":8,"ts":"${DAY}T10:00:03Z","event_type":"login"},`),
    Buffer.from(`{"event_id":"huge","user_id":9007199254740993,"ts":"${DAY}T10:00:04Z","event_type":"login"},`),
    Buffer.from(`{"event_id":"leap","user_id":7,"ts":"${DAY}T23:59:60Z","event_type":"logout"},`),
    // Enough good records to stay under the suite's 5% decode allowance.
    Buffer.from(`${Array.from({ length: 100 }, (_, i) => ev(`good-${i + 2}`, ',"properties":{"page":"caf\u00e9"}')).join(",")}],"next_cursor":null}`),
  ]);
}

test("records with bytes that are not UTF-8, a key given twice or an integer beyond 2^53 are quarantined, naming the field", async (t) => {
  const body = dirtyPage();
  const server = createServer((_req, res) => res.setHeader("content-type", "application/json").end(body));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const dataDir = await tempDataDir(t);
  const outcome = await runPartition(getJob("events"), DAY, testRunSettings(dataDir, `http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  assert.equal(outcome.status, "succeeded", outcome.error ?? "");

  const rows = await withWarehouse(dataDir, "read", async (conn) => ({
    events: (await query(conn, "select event_id, user_id, strftime(ts, '%H:%M:%S.%f') from events order by event_id")).rows,
    quarantine: (await query(conn, "select reason from sluice.quarantine order by reason")).rows.map((r) => String(r[0])),
  }));
  // The two bad ids would both read "bad-\uFFFD" and merge into one event: neither loads.
  assert.equal(rows.events.length, 102);
  assert.deepEqual(rows.events.filter((r) => !String(r[0]).startsWith("good-")), [["leap", 7, "23:59:59.999999"]]);
  assert.deepEqual(rows.quarantine, [
    'event_id: bytes that are not UTF-8 (shown as U+FFFD): "bad-\uFFFD"',
    'event_id: bytes that are not UTF-8 (shown as U+FFFD): "bad-\uFFFD"',
    // The exact digits, and one reason: the nulled value does not also fail user_id's not_null.
    "user_id: expected integer within ±2^53, got 9007199254740993 (a JSON number that large is not exact)",
    'user_id: key "user_id" appears twice in one object (JSON parsers keep only the last value)',
  ]);
});

test("findings name nested fields and keys, and a valid page with a real U+FFFD is left alone", () => {
  const columns = deriveColumns(EventRecord).columns;
  const decode = (body: Buffer): Array<string | null> => {
    const parsed = recordsOf(body, { path: "data", single: false });
    assert.ok(parsed);
    const batch = decodeRecords(parsed.records, columns, 1);
    return Array.from({ length: batch.numRows }, (_, i) => (batch.get(i)?.toJSON()["_error"] as string | null) ?? null);
  };
  const head = `{"event_id":"n","user_id":7,"ts":"${DAY}T10:00:00Z","event_type":"login","properties":{"page":"x`;
  const nested = Buffer.concat([Buffer.from(`{"data":[${head}`), Buffer.from([0xc3, 0x28]), Buffer.from(`"}}]}`)]);
  assert.deepEqual(decode(nested), ['properties.page: bytes that are not UTF-8 (shown as U+FFFD): "x\uFFFD("']);
  const nestedTwice = Buffer.from(`{"data":[${ev("n", ',"properties":{"page":"a","page":"b"}')},${ev("ok")}]}`);
  assert.deepEqual(decode(nestedTwice), ['properties.page: key "page" appears twice in one object (JSON parsers keep only the last value)', null]);
  // Repeated keys outside the records, or the same key in two records, are not a record's problem.
  assert.deepEqual(decode(Buffer.from(`{"data":[${ev("a")},${ev("b")}],"x":1,"x":2}`)), [null, null]);
  assert.deepEqual(decode(Buffer.from(`{"data":[${ev("a", ',"properties":{"page":"\ufffd \\"a\\":"}')}]}`)), [null]);
  // Long numbers that are not integers, or that fit, are not quoted as digits.
  assert.deepEqual(decode(Buffer.from(`{"data":[${ev("f", ',"properties":{"amount":1234567890123456789.5}')},{"event_id":"s","user_id":9007199254740991,"ts":"${DAY}T10:00:00Z","event_type":"login"}]}`)), [null, null]);
});

test("a leap second reads as the last microsecond of its minute, in its own day; :60 elsewhere is invalid", () => {
  const out: TimestampParts = { seconds: 0, micros: 0 };
  assert.ok(parseRfc3339("2016-12-31T23:59:60Z", out));
  assert.deepEqual(out, { seconds: Date.parse("2016-12-31T23:59:59Z") / 1000, micros: 999_999 });
  assert.ok(parseRfc3339("2016-12-31T15:59:60.5-08:00", out), "a local offset's last minute");
  assert.deepEqual(out, { seconds: Date.parse("2016-12-31T23:59:59Z") / 1000, micros: 999_999 });
  assert.equal(parseRfc3339("2016-12-31T23:58:60Z", out), false);
  assert.equal(parseRfc3339("2016-12-31T23:59:61Z", out), false);
});

test("credentials in an API URL are refused without echoing them: --api-url at once, a source's variable when it is used", async (t) => {
  const dataDir = await tempDataDir(t);
  const result = await runSluice(["run", "events", "--date", DAY, "--api-url", "http://alice:s3cret@127.0.0.1:9/", "--data-dir", dataDir]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--api-url "http:\/\/\*\*\*@127\.0\.0\.1:9\/" carries credentials/);
  assert.doesNotMatch(result.stderr + result.stdout, /s3cret|alice/);
  assert.throws(
    () => resolveEndpoint({ env: "SHOP_API_URL" }, { SHOP_API_URL: "https://bob:hunter2@shop.example/api" }, 'source "orders"'),
    (e: unknown) => e instanceof ConfigError && /SHOP_API_URL \(source "orders"\): "https:\/\/\*\*\*@shop\.example\/api" carries credentials/.test(e.message) && !/hunter2|bob/.test(e.message + (e.hint ?? "")),
  );
});

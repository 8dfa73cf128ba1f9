/** Raw records out of landed pages: the scanner that slices records without parsing the page; the landing state file. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { readLandedRecords, recordSpans } from "../src/extract/landed-records.ts";
import { STATE_FILE, pageFileName, readState, runsOf, writeState, type LandingState } from "../src/extract/landing.ts";
import { tempDataDir } from "./support/dirs.ts";
import { seededRandom } from "../src/core/random.ts";

/** The records a scan of `text`'s bytes slices out, each parsed. */
function slices(text: string, path: string[]): unknown[] | null {
  const bytes = Buffer.from(text, "utf8");
  const spans = recordSpans(bytes, path);
  return spans ? spans.map(([s, e]) => JSON.parse(bytes.toString("utf8", s, e))) : null;
}

/** Spans of a text's UTF-8 bytes. */
function spansOf(text: string, path: string[], throughRow?: number): Array<[number, number]> | null {
  return recordSpans(Buffer.from(text, "utf8"), path, throughRow);
}

test("record spans slice exactly the elements JSON.parse finds, through strings, escapes, nesting and multi-byte characters", () => {
  const records = [
    { event_id: "e-1", note: "brackets ] } [ { and a comma, inside", quote: 'say "hi" \\ back', nested: { a: [1, [2, { b: "]" }]] } },
    42,
    "a string with \\u0041 and ünïcödé 🎉",
    null,
    [1, 2, { x: "}" }],
    { empty: {}, list: [], t: true, f: false, n: -1.5e-7 },
  ];
  for (const text of [JSON.stringify({ data: records, next_cursor: "x" }), JSON.stringify({ next_cursor: "{[", data: records }, null, 2), `\n { "meta" : { "data" : [9] } , "data" :\n${JSON.stringify(records, null, 1)} } `]) {
    assert.deepEqual(slices(text, ["data"]), records, text.slice(0, 60));
  }
  assert.deepEqual(slices(JSON.stringify({ page: { items: records } }), ["page", "items"]), records);
  assert.deepEqual(slices(JSON.stringify({ data: [] }), ["data"]), []);
  assert.deepEqual(slices(JSON.stringify({ "da\\u0074a": [1] }).replace("da\\\\u0074a", "da\\u0074a"), ["data"]), [1]);
});

test("record spans say null when the body is not the declared shape, so the caller falls back to parsing", () => {
  assert.equal(spansOf(JSON.stringify({ other: [1] }), ["data"]), null);
  assert.equal(spansOf(JSON.stringify({ data: { not: "an array" } }), ["data"]), null);
  assert.equal(spansOf(JSON.stringify([1, 2]), ["data"]), null);
  assert.equal(spansOf('{"data": [1, 2', ["data"]), null);
  assert.equal(spansOf('{"data": ["unterminated]}', ["data"]), null);
});

test("record spans through a row stop there: the same spans as a whole scan, the text after them unread", () => {
  const records = [{ a: 'x "}' }, [1, { b: "]" }], "s\\", null, { c: 3 }];
  const text = JSON.stringify({ data: records, next_cursor: "c" });
  const whole = spansOf(text, ["data"]);
  assert.equal(whole?.length, records.length);
  for (let row = 0; row < records.length; row++) assert.deepEqual(spansOf(text, ["data"], row), whole?.slice(0, row + 1));
  assert.deepEqual(spansOf(text, ["data"], 99), whole, "a row past the end: every span");
  // the text after the row is not read: a broken tail does not matter, and a whole scan notices it
  const broken = `${Buffer.from(text).toString("utf8", 0, whole![1]![1])},{"unterminated`;
  assert.deepEqual(spansOf(broken, ["data"], 1), whole?.slice(0, 2));
  assert.equal(spansOf(broken, ["data"]), null);
});

test("record spans agree with JSON.parse on random pages", () => {
  const rand = seededRandom(99);
  const word = () => ["a", '"', "\\", "]", "}", ",", "é", " ", "{", "["][Math.floor(rand() * 10)] as string;
  for (let n = 0; n < 200; n++) {
    const records = Array.from({ length: Math.floor(rand() * 20) }, (_, i) => ({ id: i, s: Array.from({ length: 5 }, word).join(""), v: rand() < 0.3 ? null : { deep: [rand(), word()] } }));
    const text = JSON.stringify({ data: records, next_cursor: word() }, null, rand() < 0.5 ? 0 : 2);
    assert.deepEqual(slices(text, ["data"]), records);
  }
});

test("raw records read back from landed pages are the exact text the source sent, after a byte order mark and multi-byte characters", async (t) => {
  const dir = await tempDataDir(t, "sluice-landed-");
  const first = '{"name": "ünïcödé 🎉", "n": 1}';
  const second = '{"b" : [1, {"c": "]"}]}';
  await writeFile(path.join(dir, pageFileName(1)), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{"next": "é", "data": [ ${first},\n ${second} ]}`)]));
  await writeFile(path.join(dir, pageFileName(2)), `{"data": [${second}]}`);
  assert.deepEqual(await readLandedRecords(dir, "data", [{ page: 1, row: 1 }, { page: 2, row: 0 }, { page: 1, row: 0 }]), [second, second, first]);
  await assert.rejects(readLandedRecords(dir, "data", [{ page: 2, row: 1 }]), /landed page 2 has no row 1 \(it has 1\)/);
});

test("the landing state keeps its landed pages as runs, so it stays small however many pages land, and reads back the same pages", async (t) => {
  const dir = await tempDataDir(t);
  const landed = [...Array.from({ length: 10_000 }, (_, i) => i + 1).filter((p) => p !== 5_000), 10_002];
  const state: LandingState = { version: 2, fingerprint: "f", request: { baseUrl: "http://x", path: "/v1/events", params: {}, paginator: null, recordsPath: ["data"] }, landed, next: null, plan: null, complete: false, updatedAt: "" };
  await writeState(dir, state);
  const text = await readFile(path.join(dir, STATE_FILE), "utf8");
  assert.ok(text.length < 600, `the file holds runs, not 10,000 numbers (${text.length} characters)`);
  assert.deepEqual((JSON.parse(text) as { landed: unknown }).landed, [[1, 4_999], [5_001, 10_000], [10_002, 10_002]]);
  assert.deepEqual((await readState(dir))?.landed, landed);
  assert.deepEqual(runsOf([]), []);
});

test("a landing state written as every page number (version 1) is still read; one whose pages are not ascending runs is not reused", async (t) => {
  const dir = await tempDataDir(t);
  const base = { fingerprint: "f", request: { baseUrl: "http://x", path: "/", params: {}, paginator: null, recordsPath: ["data"] }, next: null, plan: null, complete: true, updatedAt: "" };
  await writeFile(path.join(dir, STATE_FILE), JSON.stringify({ ...base, version: 1, landed: [1, 2, 3] }));
  assert.deepEqual((await readState(dir))?.landed, [1, 2, 3]);
  for (const landed of [[[3, 1]], [[1, 4], [2, 6]], [[1, "2"]], [1, 2]]) {
    await writeFile(path.join(dir, STATE_FILE), JSON.stringify({ ...base, version: 2, landed }));
    assert.equal(await readState(dir), null, `runs ${JSON.stringify(landed)}`);
  }
});

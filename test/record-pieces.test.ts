/**
 * Large pages are parsed in pieces (no string of the whole page): the result is exactly JSON.parse
 * of the whole body, what JSON.parse hides is still found in every piece, and any body the piece
 * scan cannot promise falls back to parsing it whole.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../src/core/random.ts";
import { recordsOf } from "../src/extract/landing.ts";
import { scanText } from "../src/extract/page-inspection.ts";
import { deriveColumns } from "../src/extract/record-columns.ts";
import { decodeRecords } from "../src/extract/record-decoder.ts";
import { parseInPieces } from "../src/extract/record-pieces.ts";
import { EventRecord } from "../jobs/sources.ts";

const DAY = "2026-11-19";

/** Records that make a scanner's life hard: delimiters inside strings, escapes, nesting, multi-byte characters. */
function awkwardRecords(count: number, seed: number): unknown[] {
  const rand = seededRandom(seed);
  const word = () => ["a", '"', "\\", "]", "}", ",", "é", " ", "{", "[", "🎉", ":", "\n"][Math.floor(rand() * 13)] as string;
  return Array.from({ length: count }, (_, i) => ({
    id: i,
    s: Array.from({ length: 20 }, word).join(""),
    v: rand() < 0.3 ? null : { deep: [rand(), word(), { "k,]": [] }] },
    n: rand() < 0.1 ? -1.5e-7 : i * 3,
  }));
}

test("a large page parsed in pieces equals JSON.parse of the whole page, under a key or as the body itself", () => {
  const records = awkwardRecords(3_000, 7);
  for (const indent of [0, 2]) {
    const keyed = Buffer.from(JSON.stringify({ meta: { data: [9] }, data: records, next_cursor: "c,]}" }, null, indent));
    const parsed = parseInPieces(keyed, ["data"]);
    assert.ok(parsed, "a keyed page is parsed in pieces");
    assert.ok(parsed.texts.length > 4, `several pieces (${parsed.texts.length} texts for ${keyed.length} bytes)`);
    assert.ok(parsed.texts.every((t) => t.length < 64 * 1024), "no piece near V8's large-string size");
    assert.deepEqual(parsed.json, JSON.parse(keyed.toString("utf8")));
    assert.equal(parsed.records, (parsed.json as { data: unknown[] }).data);

    const root = Buffer.from(` ${JSON.stringify(records, null, indent)}\n`);
    const rootParsed = parseInPieces(root, []);
    assert.ok(rootParsed, "a body that is the array is parsed in pieces");
    assert.deepEqual(rootParsed.json, records);
  }
});

test("pieces are not used, and the page is parsed whole, when the piece scan cannot promise the same result", () => {
  const records = awkwardRecords(1_500, 11);
  const big = JSON.stringify(records);
  const cases: Record<string, string | Buffer> = {
    "a small page": `{"data":[1,2,3]}`,
    "a byte order mark": Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{"data":${big}}`)]),
    "the key twice (JSON.parse keeps the last)": `{"data":${big},"data":[1]}`,
    "an escaped top-level key": `{"d\\u0061ta":[1],"data":${big}}`,
    "records that are not an array": `{"data":{"x":${big}}}`,
    "a string at the key": `{"data":"${"x".repeat(60_000)}","other":${big}}`,
    "no such key": `{"other":${big}}`,
    "trailing garbage": `{"data":${big}} x`,
    "a trailing comma in the array": `{"data":${big.slice(0, -1)},]}`,
    "a trailing comma where the array is cut": `{"data":["${"x".repeat(60_000)}",]}`,
    "mismatched brackets": `{"data":${big.slice(0, -1)}}}`,
    "a cut body": `{"data":${big.slice(0, -200)}`,
  };
  for (const [name, body] of Object.entries(cases)) {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    assert.equal(parseInPieces(bytes, ["data"]), null, name);
  }
  assert.equal(parseInPieces(Buffer.from(JSON.stringify({ a: { data: records } })), ["a", "data"]), null, "a nested path");
  // recordsOf still answers as a whole parse does in each case
  assert.deepEqual(recordsOf(cases["the key twice (JSON.parse keeps the last)"] as string, "data")?.records, [1]);
  assert.equal(recordsOf(Buffer.from(cases["a trailing comma in the array"] as string), "data"), null);
  assert.equal(recordsOf(Buffer.from(cases["a cut body"] as string), "data"), null);
  assert.deepEqual(recordsOf(cases["a byte order mark"] as Buffer, "data")?.records, records);
});

test("bytes that are not UTF-8, keys given twice and integers beyond 2^53 are found in every piece of a large page", () => {
  const columns = deriveColumns(EventRecord).columns;
  const ev = (id: string, extra = ""): string => `{"event_id":"${id}","user_id":7,"ts":"${DAY}T10:00:00Z","event_type":"login"${extra}}`;
  const good = (from: number) => Array.from({ length: 600 }, (_, i) => ev(`good-${from + i}`, ',"properties":{"page":"caf\u00e9 ]}"}')).join(",");
  const body = Buffer.concat([
    Buffer.from(`{"next_cursor":"n","data":[${good(0)},{"event_id":"bad-`),
    Buffer.from([0xff]),
    Buffer.from(`","user_id":7,"ts":"${DAY}T10:00:01Z","event_type":"login"},${good(600)},`),
    Buffer.from(`{"event_id":"twice","user_id":7,"user_id":8,"ts":"${DAY}T10:00:03Z","event_type":"login"},${good(1200)},`),
    Buffer.from(`{"event_id":"huge","user_id":9007199254740993,"ts":"${DAY}T10:00:04Z","event_type":"login"}]}`),
  ]);
  assert.ok((parseInPieces(body, ["data"])?.texts.length ?? 0) > 3, "the findings sit in different pieces");
  const parsed = recordsOf(body, { path: "data", single: false });
  assert.ok(parsed);
  const batch = decodeRecords(parsed.records, columns, 1);
  const errors = new Map<number, string>();
  for (let i = 0; i < batch.numRows; i++) {
    const error = batch.get(i)?.toJSON()["_error"] as string | null;
    if (error) errors.set(i, error);
  }
  assert.deepEqual([...errors], [
    [600, 'event_id: bytes that are not UTF-8 (shown as U+FFFD): "bad-\uFFFD"'],
    [1201, 'user_id: key "user_id" appears twice in one object (JSON parsers keep only the last value)'],
    [1802, "user_id: expected integer within ±2^53, got 9007199254740993 (a JSON number that large is not exact)"],
  ]);
});

test("on bodies broken at random places, pieces are either refused or exactly what JSON.parse of the whole body gives", () => {
  const rand = seededRandom(2026);
  const base = JSON.stringify({ next_cursor: "x", data: awkwardRecords(800, 3), total: 800 });
  const marks = ['"', "\\", "[", "]", "{", "}", ",", ":", " ", "1", "\u00e9"];
  let pieced = 0;
  let refused = 0;
  for (let n = 0; n < 150; n++) {
    let text = base;
    for (let edits = 1 + Math.floor(rand() * 3); edits > 0; edits--) {
      const at = Math.floor(rand() * text.length);
      const mark = marks[Math.floor(rand() * marks.length)] as string;
      text = rand() < 0.5 ? text.slice(0, at) + mark + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    }
    const body = Buffer.from(text);
    const parsed = parseInPieces(body, ["data"]);
    let whole: unknown;
    let wholeFails = false;
    try {
      // the body's own text: an edit inside a surrogate pair leaves a lone surrogate, which UTF-8 cannot hold
      whole = JSON.parse(body.toString("utf8"));
    } catch {
      wholeFails = true;
    }
    if (parsed === null) {
      refused++;
      continue;
    }
    pieced++;
    assert.equal(wholeFails, false, `pieces accepted a body JSON.parse rejects (case ${n})`);
    assert.deepEqual(parsed.json, whole, `case ${n}`);
  }
  assert.ok(pieced > 10 && refused > 10, `both outcomes occur (${pieced} pieced, ${refused} refused)`);
});

test("the pass that cuts a page into pieces finds the repeated keys and long integers a pass over its text finds", () => {
  const rand = seededRandom(31);
  const digits = (n: number) => Array.from({ length: n }, (_, i) => String((i * 7 + n) % 10)).join("").replace(/^0/, "1");
  const numbers = () => [digits(16), `-${digits(18)}`, `${digits(17)}.5`, `${digits(16)}e3`, digits(15), `-${digits(3)}`][Math.floor(rand() * 6)] as string;
  let repeated = 0;
  let long = 0;
  for (let n = 0; n < 40; n++) {
    const records = awkwardRecords(700, 100 + n).map((r, i) => {
      const text = JSON.stringify(r);
      // a repeated key at the record's level, or in an object nested in it, in some pages only
      if (n % 3 === 0 && i === 350) return text.replace('"id":', '"s":1,"id":');
      if (n % 3 === 1 && i === 500) return text.replace('"k,]":[]', '"k,]":[],"k,]":{}');
      return i % 50 === 0 ? text.replace(/}$/, `,"big":${numbers()},"big2":[${numbers()}]}`) : text;
    });
    const body = Buffer.from(`{"next_cursor":"c${n}","data":[${records.join(",")}],"total":${digits(16)}}`);
    const pieced = parseInPieces(body, ["data"]);
    assert.ok(pieced, `page ${n} is parsed in pieces`);
    const expected = scanText(body.toString("utf8"));
    assert.deepEqual(pieced.scan, expected, `page ${n}`);
    if (expected.duplicate) repeated++;
    long += expected.longIntegers.length;
  }
  assert.ok(repeated >= 20 && repeated < 40, `pages with and without repeated keys (${repeated} of 40 with)`);
  assert.ok(long > 100, `long integers found (${long})`);
});

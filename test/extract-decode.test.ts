/** The schema-driven decoder: zod schema -> columns, parsed JSON records -> Arrow -> Polars. */
import assert from "node:assert/strict";
import { test } from "node:test";
import pl from "nodejs-polars";
import { z } from "zod";
import { ConfigError } from "../src/core/errors.ts";
import { batchesToFrame, columnsFromSchema, decodeRecords, deriveColumns } from "../src/extract/index.ts";
import { batchesToFrameInSlices } from "../src/extract/record-decoder.ts";
import { registerLooseObjects } from "../src/extract/index.ts";
import { daysFromCivil, parseRfc3339, rfc3339ToMicros } from "../src/extract/timestamp.ts";
import { eventSchema } from "./fixtures/fault-server.ts";
import { concatBatches } from "../src/extract/batch-concat.ts";
import { seededRandom } from "../src/core/random.ts";


function frameOf(records: unknown[], schema: z.ZodObject = eventSchema, pageNo = 1): { frame: pl.DataFrame; drift: Set<string> } {
  const columns = columnsFromSchema(schema);
  const drift = new Set<string>();
  const batch = decodeRecords(records, columns, pageNo, { drift });
  return { frame: batchesToFrame([batch], columns), drift };
}

/** Independent expectation: UTC microseconds from calendar fields via Date.UTC and BigInt. */
function expectedMicros(y: number, mo: number, d: number, h: number, mi: number, s: number, micros: number, offsetMinutes: number): string {
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - offsetMinutes * 60_000;
  return (BigInt(ms) * 1000n + BigInt(micros)).toString();
}

// Column derivation from a zod schema

test("column derivation maps each zod type to its Arrow column kind, in schema order", () => {
  const schema = z.object({
    s: z.string(),
    e: z.enum(["a", "b"]),
    l: z.literal("x"),
    i: z.number().int(),
    i2: z.int().positive().nullable(),
    f: z.number().positive(),
    b: z.boolean().default(false),
    t: z.iso.datetime({ offset: true }),
    t2: z.string().datetime().optional(),
    arr: z.array(z.string()),
    rec: z.record(z.string(), z.number()),
    u: z.unknown(),
  });
  const cols = columnsFromSchema(schema);
  assert.deepEqual(
    cols.map((c) => [c.name, c.kind, c.json]),
    [
      ["s", "utf8", undefined],
      ["e", "utf8", undefined],
      ["l", "utf8", undefined],
      ["i", "int64", undefined],
      ["i2", "int64", undefined],
      ["f", "float64", undefined],
      ["b", "bool", undefined],
      ["t", "timestamp", undefined],
      ["t2", "timestamp", undefined],
      ["arr", "json", "array"],
      ["rec", "json", "object"],
      ["u", "json", "any"],
    ],
  );
});

test("column derivation flattens nested objects to their leaves and uses parent_leaf only for colliding leaf keys", () => {
  const schema = z.object({
    id: z.string(),
    page: z.string(),
    properties: z.object({ page: z.string(), amount: z.number(), geo: z.object({ city: z.string(), page: z.number().int() }).nullish() }).nullish(),
  });
  const cols = columnsFromSchema(schema);
  assert.deepEqual(
    cols.map((c) => `${c.name}<-${c.path.join(".")}`),
    ["id<-id", "page<-page", "properties_page<-properties.page", "amount<-properties.amount", "city<-properties.geo.city", "properties_geo_page<-properties.geo.page"],
  );
});

test("column derivation refuses a schema whose columns would clash with each other or with _page/_row/_error", () => {
  assert.throws(() => columnsFromSchema(z.object({ _row: z.string() })), ConfigError);
  assert.throws(() => columnsFromSchema(z.object({ a_b: z.string(), a: z.object({ b: z.string() }), c: z.object({ b: z.string() }) })), ConfigError);
});

// Decoding records by type

test("the decoder puts values of the right type into Int64, Float64, Utf8 (not Categorical), Bool and Datetime(us, UTC) columns", () => {
  const schema = z.object({ s: z.string(), i: z.int(), f: z.number(), b: z.boolean(), t: z.iso.datetime({ offset: true }), tags: z.array(z.string()), meta: z.record(z.string(), z.unknown()), any: z.unknown() });
  const { frame } = frameOf(
    [
      { s: "héllo ✓", i: 9007199254740991, f: 1.25, b: true, t: "2026-11-20T10:00:00Z", tags: ["a", "b"], meta: { k: 1 }, any: "x" },
      { s: "", i: -3, f: -0.5, b: false, t: "2026-11-20T10:00:00.5+01:00", tags: [], meta: {}, any: [1, { a: null }] },
    ],
    schema,
  );
  assert.deepEqual(
    frame.dtypes.map((d) => String(d)),
    ["DataType(String)", "DataType(Int64)", "DataType(Float64)", "DataType(Bool)", "DataType(Datetime(us,UTC))", "DataType(String)", "DataType(String)", "DataType(String)", "DataType(Int32)", "DataType(Int32)", "DataType(String)"],
  );
  assert.equal(frame.columns.join(","), "s,i,f,b,t,tags,meta,any,_page,_row,_error");
  const rows = frame.select(pl.col("i").cast(pl.Utf8), pl.col("s"), pl.col("f"), pl.col("b"), pl.col("t").cast(pl.Int64).cast(pl.Utf8).alias("t"), pl.col("tags"), pl.col("meta"), pl.col("any"), pl.col("_error")).toRecords();
  assert.deepEqual(rows, [
    { i: "9007199254740991", s: "héllo ✓", f: 1.25, b: true, t: expectedMicros(2026, 11, 20, 10, 0, 0, 0, 0), tags: '["a","b"]', meta: '{"k":1}', any: '"x"', _error: null },
    { i: "-3", s: "", f: -0.5, b: false, t: expectedMicros(2026, 11, 20, 10, 0, 0, 500000, 60), tags: "[]", meta: "{}", any: '[1,{"a":null}]', _error: null },
  ]);
});

test("the decoder turns null and absent values into nulls without an error", () => {
  const { frame } = frameOf([{ event_id: "e1", user_id: null, ts: "2026-11-20T00:00:00Z", event_type: null }, { event_id: "e2", ts: "2026-11-20T00:00:00Z", properties: null }, { event_id: "e3", ts: "2026-11-20T00:00:00Z", properties: {} }]);
  assert.deepEqual(frame.getColumn("user_id").toArray(), [null, null, null]);
  assert.deepEqual(frame.getColumn("event_type").toArray(), [null, null, null]);
  assert.deepEqual(frame.getColumn("page").toArray(), [null, null, null]);
  assert.deepEqual(frame.getColumn("_error").toArray(), [null, null, null]);
  assert.equal(frame.getColumn("user_id").nullCount(), 3);
});

test("the decoder nulls a value of the wrong type and records the row's first problem, naming field and rule and quoting the value", () => {
  const { frame } = frameOf([
    { event_id: "a", user_id: "42", ts: "2026-11-20T00:00:00Z", event_type: "login" },
    { event_id: "b", user_id: 4.5, ts: "2026-11-20T00:00:00Z", event_type: "login" },
    { event_id: "c", user_id: 1, ts: "yesterday", event_type: "login" },
    { event_id: "d", user_id: 1, ts: "2026-11-20T00:00:00Z", event_type: "login", properties: "x" },
    { event_id: "e", user_id: 1, ts: 1700000000, event_type: "login" },
    { event_id: 7, user_id: 1, ts: "2026-11-20T00:00:00Z", event_type: "login" },
    { event_id: "g", user_id: 1, ts: "2026-11-20T00:00:00Z", event_type: "login", properties: { amount: "12.50", page: ["/"] } },
    { event_id: "h", user_id: true, ts: "2026-13-01T00:00:00Z", event_type: "login" },
    { event_id: "i", user_id: 1, ts: "2026-11-20T00:00:00Z", event_type: "login", properties: [1] },
    "not an object",
    { event_id: "k", user_id: 1e300, ts: "2026-11-20T00:00:00Z", event_type: "unknown_type" },
  ]);
  assert.deepEqual(frame.getColumn("_error").toArray(), [
    'user_id: expected integer, got string "42"',
    "user_id: expected integer, got 4.5",
    'ts: unparseable timestamp "yesterday"',
    'properties: expected object, got string "x"',
    "ts: expected timestamp string, got number 1700000000",
    "event_id: expected string, got number 7",
    'properties.amount: expected number, got string "12.50"',
    "user_id: expected integer, got boolean true",
    "properties: expected object, got array",
    'record: expected object, got string "not an object"',
    "user_id: expected integer, got 1e+300",
  ]);
  // the wrong values are null, the right ones in the same rows survive
  assert.deepEqual(frame.getColumn("user_id").toArray(), [null, null, 1, 1, 1, 1, 1, null, 1, null, null]);
  assert.deepEqual(frame.getColumn("event_id").toArray(), ["a", "b", "c", "d", "e", null, "g", "h", "i", null, "k"]);
  assert.deepEqual(frame.getColumn("page").toArray(), [null, null, null, null, null, null, null, null, null, null, null]);
  // refinements (positive, enum membership) are not this stage's business
  assert.equal(frame.getColumn("event_type").toArray()[10], "unknown_type");
});

test("the decoder does not check refinements: negative ids and unknown enum values pass through untouched", () => {
  const { frame } = frameOf([{ event_id: "x", user_id: -5, ts: "2026-11-20T00:00:00Z", event_type: "teleport" }]);
  assert.deepEqual(frame.select("user_id", "event_type", "_error").toRecords(), [{ user_id: -5, event_type: "teleport", _error: null }]);
});

test("the decoder numbers rows within the page and stamps the landed page number", () => {
  const { frame } = frameOf([{ event_id: "a" }, { event_id: "b" }, { event_id: "c" }], eventSchema, 17);
  assert.deepEqual(frame.getColumn("_row").toArray(), [0, 1, 2]);
  assert.deepEqual(frame.getColumn("_page").toArray(), [17, 17, 17]);
});

// Timestamps

const cases: Array<[string, string]> = [
  ["2026-11-20T10:00:00Z", expectedMicros(2026, 11, 20, 10, 0, 0, 0, 0)],
  ["2026-11-20T10:00:00.1Z", expectedMicros(2026, 11, 20, 10, 0, 0, 100000, 0)],
  ["2026-11-20T10:00:00.123Z", expectedMicros(2026, 11, 20, 10, 0, 0, 123000, 0)],
  ["2026-11-20T10:00:00.123456Z", expectedMicros(2026, 11, 20, 10, 0, 0, 123456, 0)],
  ["2026-11-20T10:00:00.123456789Z", expectedMicros(2026, 11, 20, 10, 0, 0, 123456, 0)],
  ["2026-11-20T10:00:00.000001+05:30", expectedMicros(2026, 11, 20, 10, 0, 0, 1, 330)],
  ["2026-11-20T01:30:00.999999-08:00", expectedMicros(2026, 11, 20, 1, 30, 0, 999999, -480)],
  ["2026-11-20t10:00:00z", expectedMicros(2026, 11, 20, 10, 0, 0, 0, 0)],
  ["2026-11-20 10:00:00+00:00", expectedMicros(2026, 11, 20, 10, 0, 0, 0, 0)],
  ["2024-02-29T23:59:59.5-00:30", expectedMicros(2024, 2, 29, 23, 59, 59, 500000, -30)],
  ["2000-01-01T00:00:00+14:00", expectedMicros(2000, 1, 1, 0, 0, 0, 0, 840)],
  ["1969-12-31T23:59:59.999999Z", expectedMicros(1969, 12, 31, 23, 59, 59, 999999, 0)],
  ["1900-03-01T00:00:00Z", expectedMicros(1900, 3, 1, 0, 0, 0, 0, 0)],
  ["2999-12-31T23:59:59.999999Z", expectedMicros(2999, 12, 31, 23, 59, 59, 999999, 0)],
];

test("the timestamp parser normalizes RFC 3339 with Z or numeric offsets, second to microsecond precision, to UTC microseconds exactly", () => {
  const schema = z.object({ ts: z.iso.datetime({ offset: true }) });
  const { frame } = frameOf(
    cases.map(([ts]) => ({ ts })),
    schema,
  );
  const got = frame.select(pl.col("ts").cast(pl.Int64).cast(pl.Utf8)).getColumn("ts").toArray();
  assert.deepEqual(got, cases.map(([, micros]) => micros));
  assert.deepEqual(frame.getColumn("_error").toArray(), cases.map(() => null));
  for (const [ts, micros] of cases) assert.equal(rfc3339ToMicros(ts)?.toString(), micros, ts);
});

test("the timestamp parser rejects timestamps that are not RFC 3339 or not real instants", () => {
  const bad = [
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-11-20T24:00:00Z",
    "2026-11-20T10:60:00Z",
    "2026-11-20T10:00:60Z",
    "2026-11-20T10:00:00",
    "2026-11-20T10:00:00.123",
    "2026-11-20",
    "2026-11-20T10:00Z",
    "2026-11-20T10:00:00.Z",
    "2026-11-20T10:00:00.1234567890Z",
    "2026-11-20T10:00:00+0200",
    "2026-11-20T10:00:00+24:00",
    "2026-11-20T10:00:00Z ",
    "2026/11/20T10:00:00Z",
    "2026-11-20X10:00:00Z",
    "+2026-11-20T10:00:00Z",
  ];
  const schema = z.object({ ts: z.iso.datetime({ offset: true }) });
  const { frame } = frameOf(
    bad.map((ts) => ({ ts })),
    schema,
  );
  assert.deepEqual(frame.getColumn("ts").toArray(), bad.map(() => null));
  assert.deepEqual(frame.getColumn("_error").toArray(), bad.map((ts) => `ts: unparseable timestamp ${JSON.stringify(ts)}`));
});

test("the timestamp parser counts days like the proleptic Gregorian calendar of Date.UTC", () => {
  for (let y = 1600; y <= 2400; y += 7) {
    for (const [m, d] of [[1, 1], [2, 28], [3, 1], [12, 31]] as const) {
      assert.equal(daysFromCivil(y, m, d), Date.UTC(y, m - 1, d) / 86_400_000, `${y}-${m}-${d}`);
    }
  }
  const parts = { seconds: 0, micros: 0 };
  assert.equal(parseRfc3339("2024-02-29T12:00:00Z", parts), true);
  assert.equal(parseRfc3339("2100-02-29T12:00:00Z", parts), false);
  assert.equal(parseRfc3339("2000-02-29T12:00:00Z", parts), true);
});

// Nested objects, drift and batches

test("the decoder reports keys not in the schema at any level as dotted paths, once each", () => {
  const { drift, frame } = frameOf([
    { event_id: "a", ts: "2026-11-20T00:00:00Z", properties: { page: "/", referrer: "x" }, extra: 1 },
    { event_id: "b", ts: "2026-11-20T00:00:00Z", properties: { page: "/", referrer: "y", utm: { source: "z" } }, extra: 2 },
  ]);
  assert.deepEqual([...drift].sort(), ["extra", "properties.referrer", "properties.utm"]);
  assert.deepEqual(frame.getColumn("page").toArray(), ["/", "/"]);
  assert.deepEqual(frame.getColumn("_error").toArray(), [null, null]);
});

test("the decoder does not report drift under objects the schema declares loose", () => {
  const schema = z.object({ id: z.string(), meta: z.looseObject({ a: z.string() }) });
  const derived = deriveColumns(schema);
  registerLooseObjects(derived.columns, derived.looseObjects);
  const drift = new Set<string>();
  decodeRecords([{ id: "1", meta: { a: "x", b: "y" }, other: 1 }], derived.columns, 1, { drift });
  assert.deepEqual([...drift], ["other"]);
});

test("separately decoded batches concatenate into one frame whose strings are plain Utf8", () => {
  const columns = columnsFromSchema(eventSchema);
  const b1 = decodeRecords([{ event_id: "a", event_type: "login", ts: "2026-11-20T00:00:00Z" }], columns, 1);
  const b2 = decodeRecords([{ event_id: "b", event_type: "logout", ts: "2026-11-20T00:00:01Z" }, { event_id: "c", event_type: "login" }], columns, 2);
  const frame = batchesToFrame([b1, b2], columns);
  assert.equal(frame.height, 3);
  assert.equal(String(frame.getColumn("event_type").dtype), "DataType(String)");
  assert.deepEqual(frame.getColumn("event_type").toArray(), ["login", "logout", "login"]);
  assert.deepEqual(frame.getColumn("_page").toArray(), [1, 2, 2]);
  // Polars can group on it like any string column
  const counts = frame.groupBy("event_type").len().sort("event_type").toRecords();
  assert.deepEqual(counts, [{ event_type: "login", len: 2 }, { event_type: "logout", len: 1 }]);
});

test("an empty partition gets typed columns", () => {
  const columns = columnsFromSchema(eventSchema);
  const frame = batchesToFrame([], columns);
  assert.equal(frame.height, 0);
  assert.deepEqual(frame.columns, ["event_id", "user_id", "ts", "event_type", "page", "amount", "_page", "_row", "_error"]);
  assert.equal(String(frame.getColumn("ts").dtype), "DataType(Datetime(us,UTC))");
  assert.equal(String(frame.getColumn("user_id").dtype), "DataType(Int64)");
});

test("the decoder keeps multi-byte UTF-8 strings intact across a whole page", () => {
  const strings = ["ascii", "ünïcödé", "日本語", "emoji 🎉", "", "mixed ✓ ok"];
  const schema = z.object({ s: z.string() });
  const { frame } = frameOf(
    strings.map((s) => ({ s })),
    schema,
  );
  assert.deepEqual(frame.getColumn("s").toArray(), strings);
});

test("batches of any sizes join into one contiguous batch holding exactly the rows, nulls and bits of each", () => {
  const schema = z.object({ s: z.string(), i: z.int(), f: z.number(), b: z.boolean(), t: z.iso.datetime({ offset: true }), o: z.object({ x: z.string() }).nullish() });
  const columns = columnsFromSchema(schema);
  const rand = seededRandom(14);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)] as T;
  const record = () => ({
    s: pick(["a", "ünï", "🎉", "", null, 7]),
    i: pick([1, -(2 ** 53) + 1, 2 ** 40, null, "x"]),
    f: pick([0.5, -1e300, null, true]),
    b: pick([true, false, null, 1]),
    t: pick(["2026-11-20T00:00:00Z", "2026-11-20T23:59:59.999999+05:30", "nope", null]),
    ...(rand() < 0.3 ? {} : { o: pick([{ x: "é" }, null, { x: 3 }]) }),
  });
  for (const sizes of [[8, 16, 0, 8], [1, 7, 13, 8, 3], [1000, 999, 1, 24], [0, 0], [5]]) {
    const batches = sizes.map((n, p) => decodeRecords(Array.from({ length: n }, record), columns, p + 1));
    const joined = batchesToFrame(batches, columns);
    const expected = pl.concat(batches.map((b) => batchesToFrame([b], columns)));
    assert.deepEqual(joined.dtypes.map(String), expected.dtypes.map(String));
    assert.deepEqual(joined.toRecords(), expected.toRecords(), `sizes ${sizes.join(",")}`);
    if (batches.length > 1) assert.equal(concatBatches(batches, batches[0]!.schema)?.numRows, joined.height);
  }
  // a list column is not flat: its batches are kept as they are
  const listColumns = columnsFromSchema(z.object({ items: z.array(z.object({ n: z.int() })) }));
  const lists = [decodeRecords([{ items: [{ n: 1 }] }], listColumns, 1), decodeRecords([{ items: [] }], listColumns, 2)];
  assert.equal(concatBatches(lists, lists[0]!.schema), null);
  assert.deepEqual(batchesToFrame(lists, listColumns).getColumn("_page").toArray(), [1, 2]);
});

test("batches turned into a frame a column at a time, pausing after each, give the frame batchesToFrame gives; list columns go in one pass", async () => {
  const schema = z.object({ s: z.string(), i: z.int(), t: z.iso.datetime({ offset: true }), b: z.boolean().nullish(), o: z.object({ x: z.string() }).nullish() });
  const columns = columnsFromSchema(schema);
  const rand = seededRandom(15);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)] as T;
  const record = () => ({ s: pick(["a", "ünï", null, 3]), i: pick([1, 2 ** 40, null]), t: pick(["2026-11-20T00:00:00Z", "bad"]), b: pick([true, null]), o: pick([{ x: "é" }, null]) });
  const batches = [13, 0, 700, 5].map((n, p) => decodeRecords(Array.from({ length: n }, record), columns, p + 1));
  let pauses = 0;
  const sliced = await batchesToFrameInSlices(batches, columns, async () => {
    pauses++;
    await new Promise((resolve) => setImmediate(resolve));
  });
  const whole = batchesToFrame(batches, columns);
  assert.deepEqual(sliced.dtypes.map(String), whole.dtypes.map(String));
  assert.ok(sliced.frameEqual(whole, true), "the same rows, nulls included");
  assert.equal(pauses, whole.width, "one pause per column");
  const listColumns = columnsFromSchema(z.object({ items: z.array(z.object({ n: z.int() })) }));
  const lists = [decodeRecords([{ items: [{ n: 1 }] }], listColumns, 1), decodeRecords([{ items: [] }], listColumns, 2)];
  pauses = 0;
  const listFrame = await batchesToFrameInSlices(lists, listColumns, async () => void pauses++);
  assert.deepEqual(listFrame.getColumn("_page").toArray(), [1, 2]);
  assert.equal(pauses, 0);
});

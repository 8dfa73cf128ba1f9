/** Polars dtype names, shortened the way Polars prints them in a frame header. */

const SHORT_DTYPES: Record<string, string> = {
  Int8: "i8",
  Int16: "i16",
  Int32: "i32",
  Int64: "i64",
  UInt8: "u8",
  UInt16: "u16",
  UInt32: "u32",
  UInt64: "u64",
  Float32: "f32",
  Float64: "f64",
  String: "str",
  Utf8: "str",
  Bool: "bool",
  Boolean: "bool",
  Date: "date",
  Time: "time",
  Null: "null",
  Categorical: "cat",
  Object: "object",
};
const TIME_UNITS: Record<string, string> = { Nanoseconds: "ns", Microseconds: "μs", Milliseconds: "ms", ns: "ns", us: "μs", ms: "ms" };

/** Polars dtype names as Polars prints them in a frame header: "DataType(Datetime(us,UTC))" -> "datetime[μs, UTC]". */
export function shortDtype(raw: string): string {
  let t = raw.trim();
  while (/^DataType\((.*)\)$/.test(t)) t = t.replace(/^DataType\((.*)\)$/, "$1");
  const simple = SHORT_DTYPES[t];
  if (simple) return simple;
  const dt = /^(Datetime|Duration)\((\w+)\s*(?:,\s*(?:Some\()?"?([^")]*)"?\)?)?\)$/.exec(t);
  if (dt) {
    const unit = TIME_UNITS[dt[2] ?? ""] ?? dt[2] ?? "";
    const tz = dt[3] && dt[3] !== "None" ? `, ${dt[3]}` : "";
    return `${(dt[1] ?? "").toLowerCase()}[${unit}${tz}]`;
  }
  const list = /^List\((.*)\)$/.exec(t);
  if (list) return `list[${shortDtype(list[1] ?? "")}]`;
  if (/^Struct\b/.test(t)) return "struct";
  if (/^Categorical\b/.test(t)) return "cat";
  if (/^Decimal\b/.test(t)) return t.toLowerCase();
  return t;
}

/**
 * High-water marks of incremental sources: what this extraction read that the next run continues
 * from (the highest value of a record field, or a server cursor in the last page), and where a
 * run continues from a stored mark (minus the lookback).
 */
import pl from "nodejs-polars";
import { ConfigError } from "../core/errors.ts";
import { getPath, pathKeys } from "./json-path.ts";
import { deriveColumns } from "./record-columns.ts";
import { NO_MARK } from "./source-request.ts";
import type { IncrementalFrom, IncrementalSpec, SourceSpec } from "./types.ts";

/** The mark this extraction reached, or undefined when it read nothing to advance it. */
export function markOf(spec: SourceSpec, frame: pl.DataFrame, lastPage: unknown): string | undefined {
  const inc = spec.incremental;
  if (!inc) return undefined;
  if (inc.cursorPath !== undefined) {
    const v = getPath(lastPage, inc.cursorPath);
    return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
  }
  const column = markColumn(spec, inc);
  const values = frame.getColumn(column.name);
  if (values.nullCount() === values.length) return undefined;
  if (column.kind === "timestamp") return microsToIso(BigInt(values.cast(pl.Int64).max() as number | bigint));
  return String(values.max());
}

/** The later of two marks of the same source (numbers numerically, ISO timestamps as instants). */
export function laterMark(spec: SourceSpec, a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const inc = spec.incremental;
  if (inc?.cursorPath !== undefined) return b; // a server cursor moves forward by construction
  const kind = inc ? markColumn(spec, inc).kind : "utf8";
  if (kind === "int64" || kind === "float64") return Number(b) >= Number(a) ? b : a;
  if (kind === "timestamp") return isoMicros(b) >= isoMicros(a) ? b : a;
  return b >= a ? b : a;
}

/** Where a run continues from a stored mark (the initial one when none): minus the lookback for field marks. */
export function continueFrom(spec: SourceSpec, stored: string | undefined): IncrementalFrom {
  const inc = spec.incremental;
  if (!inc) return NO_MARK;
  const mark = stored ?? inc.initial;
  if (mark === undefined) return NO_MARK;
  if (inc.cursorPath !== undefined) return { since: undefined, cursor: mark };
  const lookback = inc.lookback ?? 0;
  const kind = markColumn(spec, inc).kind;
  if (lookback === 0 || (kind !== "timestamp" && kind !== "int64" && kind !== "float64")) return { since: mark, cursor: undefined };
  if (kind === "timestamp") return { since: microsToIso(isoMicros(mark) - BigInt(Math.round(lookback * 1000))), cursor: undefined };
  return { since: String(Number(mark) - lookback), cursor: undefined };
}

function markColumn(spec: SourceSpec, inc: IncrementalSpec): { name: string; kind: string } {
  const keys = pathKeys(inc.field ?? "");
  const column = deriveColumns(spec.schema).columns.find((c) => c.path.join("\u0000") === keys.join("\u0000"));
  if (!column) {
    throw new ConfigError(`source "${spec.name}": incremental.field ${JSON.stringify(inc.field)} is not a field of its record schema`, {
      hint: "name a declared field whose value grows as records change (updated_at, lastmodifieddate...), or declare cursorPath",
    });
  }
  return column;
}

/** Epoch microseconds of an RFC 3339 timestamp (sub-millisecond digits kept). */
function isoMicros(iso: string): bigint {
  const ms = Date.parse(iso);
  const frac = /\.(\d+)/.exec(iso)?.[1] ?? "";
  const micros = frac.length > 3 ? Number(frac.slice(3, 6).padEnd(3, "0")) : 0;
  return BigInt(ms) * 1000n + BigInt(micros);
}

/** RFC 3339 in UTC with microseconds when there are any. */
function microsToIso(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const sub = Number(((us % 1000n) + 1000n) % 1000n);
  const base = new Date(Number(ms)).toISOString();
  return sub === 0 ? base : `${base.slice(0, -1)}${String(sub).padStart(3, "0")}Z`;
}

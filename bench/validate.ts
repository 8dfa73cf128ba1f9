/**
 * Benchmark: validate ~1M extracted events (about 0.1% dirty rows of every kind) with eventsSuite.
 * Builds the frame in memory (not timed), then times validate() end to end: the checks' one query,
 * the valid/quarantined split and the samples. Prints milliseconds per run.
 * Run: cd /work/main && node --expose-gc --import tsx bench/validate.ts [rows=1000000] [runs=5]
 * (`npx tsx bench/validate.ts` works too; --expose-gc lets it collect the generator's garbage first).
 */
import pl from "nodejs-polars";
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { dayWindow } from "../src/core/dates.ts";
import { validate } from "../src/validate/index.ts";
import { eventsSuite } from "../validations/events.ts";
import { seededRandom } from "../src/core/random.ts";


export const DIRTY_KINDS = [
  "null_user", "negative_user", "ts_outside", "null_ts", "bad_type", "decode", "null_event_id", "duplicate", "negative_amount", "unknown_user",
] as const;

/**
 * An extracted events frame of one day (columns as the extract stage produces them) where
 * `dirtyFraction` of the rows carry one defect each, cycling through DIRTY_KINDS.
 */
export function synthesizeEvents(rows: number, dt: string, users: number, dirtyFraction: number, seed = 1): pl.DataFrame {
  const rnd = seededRandom(seed);
  const window = dayWindow(dt);
  // Microseconds as JS numbers: exact below 2^53 (~285 years of µs), and Series take them fast.
  const startUs = window.start.getTime() * 1000;
  const dayUs = 86_400_000_000;
  const types = ["login", "view_page", "view_page", "view_page", "add_to_cart", "purchase", "logout"];
  const eventId: (string | null)[] = new Array(rows);
  const userId: (number | null)[] = new Array(rows);
  const ts: (number | null)[] = new Array(rows);
  const eventType: string[] = new Array(rows);
  const page: (string | null)[] = new Array(rows);
  const amount: (number | null)[] = new Array(rows);
  const pageNo = new Int32Array(rows);
  const rowNo = new Int32Array(rows);
  const error: (string | null)[] = new Array(rows).fill(null);
  const every = dirtyFraction > 0 ? Math.round(1 / dirtyFraction) : Infinity;
  for (let i = 0; i < rows; i++) {
    const type = types[Math.floor(rnd() * types.length)] as string;
    eventId[i] = `e-${String(i).padStart(8, "0")}`;
    userId[i] = 1 + Math.floor(rnd() * users);
    ts[i] = startUs + Math.floor(rnd() * dayUs);
    eventType[i] = type;
    page[i] = type === "view_page" ? "/pricing" : null;
    amount[i] = type === "purchase" ? Math.round(rnd() * 10_000) / 100 : null;
    pageNo[i] = 1 + Math.floor(i / 1000);
    rowNo[i] = i % 1000;
    if (i % every === every - 1) {
      const kind = DIRTY_KINDS[Math.floor(i / every) % DIRTY_KINDS.length];
      if (kind === "null_user") userId[i] = null;
      else if (kind === "negative_user") userId[i] = -userId[i]!;
      else if (kind === "ts_outside") ts[i] = startUs + dayUs + 1_000_000;
      else if (kind === "null_ts") ts[i] = null;
      else if (kind === "bad_type") eventType[i] = "click";
      else if (kind === "decode") { userId[i] = null; error[i] = 'user_id: expected integer, got string "42"'; }
      else if (kind === "null_event_id") eventId[i] = null;
      else if (kind === "duplicate") eventId[i] = eventId[i - 1]!;
      else if (kind === "negative_amount") amount[i] = -5;
      else if (kind === "unknown_user") userId[i] = users + 1 + i;
    }
  }
  return pl.DataFrame([
    pl.Series("event_id", eventId, pl.Utf8),
    pl.Series("user_id", userId, pl.Float64).cast(pl.Int64),
    pl.Series("ts", ts, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
    pl.Series("event_type", eventType, pl.Utf8),
    pl.Series("page", page, pl.Utf8),
    pl.Series("amount", amount, pl.Float64),
    pl.Series("_page", pageNo, pl.Int32),
    pl.Series("_row", rowNo, pl.Int32),
    pl.Series("_error", error, pl.Utf8),
  ]);
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const runs = Number(process.argv[3] ?? 5);
  const dt = "2026-11-20";
  const users = 50_000;
  const t0 = performance.now();
  const frame = synthesizeEvents(rows, dt, users, 0.001);
  const userIds = pl.Series("user_id", Array.from({ length: users }, (_, i) => i + 1), pl.Float64).cast(pl.Int64);
  console.log(`synthesized ${frame.height} rows in ${(performance.now() - t0).toFixed(0)} ms (not timed below)`);
  // The generator's JS arrays are garbage now; collect them so that GC does not land in a timed run.
  (globalThis as { gc?: () => void }).gc?.();
  const context = { window: dayWindow(dt), foreignKeys: { "users.user_id": userIds } };
  const times: number[] = [];
  const cpu: number[] = [];
  let outcome = validate(frame, eventsSuite, context); // warm-up: first-call costs of the native module
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    outcome = validate(frame, eventsSuite, context);
    const used = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpu.push((used.user + used.system) / 1000);
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
  };
  // On a shared machine wall time includes waiting for a core; CPU time (all threads) does not.
  console.log(`validate ${rows} rows x ${eventsSuite.checks.length + 1} checks over ${runs} runs: wall ${stats(times)}; cpu ${stats(cpu)}; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
  console.log(`valid ${outcome.valid.height}, quarantined ${outcome.quarantined.height}, blocked ${outcome.blocked.length}`);
  for (const r of outcome.results) console.log(`  ${r.passed ? "pass" : "FAIL"} ${r.severity.padEnd(5)} ${String(r.failingRows).padStart(6)}  ${r.check}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();

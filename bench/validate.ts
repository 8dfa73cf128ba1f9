/**
 * Benchmark: the validate stage of ~1M extracted events (about 0.1% dirty rows of every kind), as
 * it was and as it is, alternating in one process:
 * - today: the events suite's row checks, its foreign key fed with the distinct user ids read from
 *   the warehouse into JS (what ctx.validate did before history-aware checks);
 * - now: the whole events suite (plus the volume check and the purchase-amount aggregate, compared
 *   with 14 days of history read from sluice.checks through the gateway) and the foreign key as an
 *   anti-join against a week of users snapshots in the lake.
 * Builds the frame, the warehouse and the lake first (not timed), then times each stage end to end
 * (reads, the checks' one query, the valid/quarantined split, the samples) and prints the ratio.
 * Run: node --expose-gc --import tsx bench/validate.ts [rows=1000000] [runs=5]
 * (`npx tsx bench/validate.ts` works too; --expose-gc lets it collect the generator's garbage first).
 */
import pl from "nodejs-polars";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { addDays, dayWindow, type PartitionWindow } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { writeLakePartition } from "../src/load/lake.ts";
import { appendChecks } from "../src/load/run-ledger.ts";
import { query, recordRun, withWarehouse } from "../src/load/warehouse.ts";
import { checkInputs } from "../src/pipeline/check-inputs.ts";
import { localWarehouse } from "../src/pipeline/warehouse-gateway.ts";
import { defineSuite, validate, type Suite, type ValidationOutcome } from "../src/validate/index.ts";
import { eventsSuite } from "../validations/events.ts";
import { seededRandom } from "../src/core/random.ts";
import { weightedEventTypes } from "../test/support/events.ts";


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
  const types = weightedEventTypes({ login: 1, view_page: 3, add_to_cart: 1, purchase: 1, logout: 1 });
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

/** A data dir for the stage: a warehouse with the users table (today's foreign-key read), 14 days of history, and the users lake. */
async function prepareStage(dataDir: string, dt: string, users: number, frame: pl.DataFrame): Promise<void> {
  const ids = pl.DataFrame([pl.Series("user_id", Array.from({ length: users }, (_, i) => i + 1), pl.Float64).cast(pl.Int64)]);
  // A week of users snapshots in the lake (an upserted table keeps one per run date): the reference is their union.
  for (let d = 1; d <= 7; d++) await writeLakePartition(dataDir, "users", addDays(dt, -d), ids);
  const parquet = path.join(dataDir, "users.parquet");
  ids.writeParquet(parquet);
  // The history the checks compare with: this frame's own values, so that both checks pass.
  const meanAmount = Number(frame.filter(pl.col("event_type").eq(pl.lit("purchase"))).getColumn("amount").mean());
  const observed = (check: string): number => (check === "events: volume" ? frame.height : meanAmount);
  await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run(`CREATE TABLE main.users AS SELECT * FROM read_parquet('${parquet}')`);
    for (let d = 1; d <= 14; d++) {
      const run = { runId: `r${d}`, job: "events", dt: addDays(dt, -d), status: "succeeded" as const, startedAt: new Date(), finishedAt: new Date(), rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, error: null };
      await recordRun(conn, run);
      const checks = ["events: volume", "amount: mean over purchases"].map((check) => ({ check, table: "events", columns: [], severity: "error" as const, action: "block" as const, passed: true, failingRows: 0, sample: [], dt: run.dt, observed: observed(check) }));
      await appendChecks(conn, run, checks);
    }
  });
}

/** Today's stage: distinct reference values read from the warehouse into JS, then the suite without history checks. */
async function baselineStage(dataDir: string, frame: pl.DataFrame, suite: Suite, window: PartitionWindow): Promise<ValidationOutcome> {
  const values = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, `select distinct "user_id" from main."users"`)).rows.map((r) => r[0]));
  return validate(frame, suite, { window, foreignKeys: { "users.user_id": pl.Series("user_id", values) } });
}

/** The stage as ctx.validate runs it now: history through the gateway, the users lake as the reference, every check. */
async function historyStage(dataDir: string, frame: pl.DataFrame, window: PartitionWindow): Promise<ValidationOutcome> {
  const warehouse = localWarehouse(dataDir, { signal: new AbortController().signal, log: silentLogger() });
  const inputs = await checkInputs(eventsSuite, { job: "events", dt: window.dt, dataDir, warehouse });
  return validate(frame, eventsSuite, { window, now: new Date(), ...inputs });
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const runs = Number(process.argv[3] ?? 5);
  const dt = "2026-11-20";
  const users = 50_000;
  const t0 = performance.now();
  const frame = synthesizeEvents(rows, dt, users, 0.001);
  const dataDir = await mkdtemp(path.join(tmpdir(), "sluice-bench-validate-"));
  await prepareStage(dataDir, dt, users, frame);
  console.log(`synthesized ${frame.height} rows and the stage's warehouse and lake in ${(performance.now() - t0).toFixed(0)} ms (not timed below)`);
  // The generator's JS arrays are garbage now; collect them so that GC does not land in a timed run.
  (globalThis as { gc?: () => void }).gc?.();
  const window = dayWindow(dt);
  // Today's suite: the events suite without the history-aware checks this benchmark adds.
  const today = defineSuite({ table: eventsSuite.table, key: eventsSuite.key, checks: eventsSuite.checks.filter((c) => c.kind !== "volume" && c.kind !== "aggregate") });
  const approaches = {
    "today (distinct values into JS, no history checks)": () => baselineStage(dataDir, frame, today, window),
    "now (volume + aggregate with history, foreign key as a lake anti-join)": () => historyStage(dataDir, frame, window),
  };
  const times = new Map<string, number[]>(Object.keys(approaches).map((k) => [k, []]));
  const cpu = new Map<string, number[]>(Object.keys(approaches).map((k) => [k, []]));
  const last = new Map<string, ValidationOutcome>();
  for (const [name, stage] of Object.entries(approaches)) last.set(name, await stage()); // warm-up: first-call costs of the native modules
  // Alternating, so that a noisy neighbour slows both alike.
  for (let r = 0; r < runs; r++) {
    for (const [name, stage] of Object.entries(approaches)) {
      const t = performance.now();
      const c = process.cpuUsage();
      last.set(name, await stage());
      const used = process.cpuUsage(c);
      times.get(name)?.push(performance.now() - t);
      cpu.get(name)?.push((used.user + used.system) / 1000);
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  report(rows, runs, times, cpu, last);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function report(rows: number, runs: number, times: Map<string, number[]>, cpu: Map<string, number[]>, last: Map<string, ValidationOutcome>): void {
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${median(xs).toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
  };
  console.log(`validate stage, ${rows} rows, ${runs} alternating runs each; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
  // On a shared machine wall time includes waiting for a core; CPU time (all threads) does not.
  for (const [name, xs] of times) console.log(`  ${name}: wall ${stats(xs)}; cpu ${stats(cpu.get(name) ?? [])}`);
  const [base, now] = [...times.values()].map(median) as [number, number];
  const [baseCpu, nowCpu] = [...cpu.values()].map(median) as [number, number];
  console.log(`ratio now / today: wall ${(now / base).toFixed(2)}x, cpu ${(nowCpu / baseCpu).toFixed(2)}x (target <= 1.2x)`);
  for (const [name, outcome] of last) {
    console.log(`${name}: valid ${outcome.valid.height}, quarantined ${outcome.quarantined.height}, blocked ${outcome.blocked.length}`);
    for (const r of outcome.results) console.log(`  ${r.skipped ? "skip" : r.passed ? "pass" : "FAIL"} ${r.severity.padEnd(5)} ${String(r.failingRows).padStart(6)}  ${r.check}${r.observed === null ? "" : ` (observed ${r.observed})`}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();

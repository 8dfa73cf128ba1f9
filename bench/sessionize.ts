/**
 * Benchmark: sessionize ~1M events (~50k users, one day). Generates data in memory (not timed),
 * then times collecting both outputs of sessionize() and of collectSessionized(). Prints milliseconds.
 * Run: cd /work/main && npx tsx bench/sessionize.ts [events=1000000] [users=50000] [runs=5]
 */
import pl from "nodejs-polars";
import { pathToFileURL } from "node:url";
import { collectSessionized, sessionize } from "../transforms/sessions.ts";
import { seededRandom } from "../src/core/random.ts";
import { weightedEventTypes } from "../test/support/events.ts";


/** One day of events: per user, bursts of activity with ~2 min gaps and occasional long pauses. */
export function generateEvents(nEvents: number, nUsers: number, seed: number): pl.DataFrame {
  const rnd = seededRandom(seed);
  const dayStartUs = Date.UTC(2026, 2, 14) * 1000;
  const dayUs = 86_400_000_000;
  const types = weightedEventTypes({ login: 1, view_page: 3, add_to_cart: 1, purchase: 1, logout: 1 });
  const eventIds: string[] = new Array(nEvents);
  const userIds = new Float64Array(nEvents);
  const ts = new Float64Array(nEvents); // µs since the epoch, exact below 2^53
  const eventTypes: string[] = new Array(nEvents);
  const pages: (string | null)[] = new Array(nEvents);
  const amounts: (number | null)[] = new Array(nEvents);
  const perUser = nEvents / nUsers;
  let i = 0;
  for (let u = 0; u < nUsers && i < nEvents; u++) {
    const count = u === nUsers - 1 ? nEvents - i : Math.max(1, Math.round(perUser * (0.5 + rnd())));
    let t = Math.floor(rnd() * dayUs * 0.5);
    for (let k = 0; k < count && i < nEvents; k++, i++) {
      // Mostly short gaps, sometimes just around the timeout, sometimes hours.
      const r = rnd();
      t += r < 0.85 ? Math.floor(rnd() * 240e6) : r < 0.95 ? Math.floor(1500e6 + rnd() * 600e6) : Math.floor(rnd() * 3 * 3600e6);
      if (t >= dayUs) t = dayUs - 1;
      const type = types[Math.floor(rnd() * types.length)]!;
      eventIds[i] = `e${u}-${k}`;
      userIds[i] = u + 1;
      ts[i] = dayStartUs + t;
      eventTypes[i] = type;
      pages[i] = type === "view_page" ? `/p/${Math.floor(rnd() * 100)}` : null;
      amounts[i] = type === "purchase" ? (rnd() < 0.1 ? null : Math.round(rnd() * 10000) / 100) : null;
    }
  }
  // Arrival order is not event order: shuffle rows.
  const order = pl.Series("o", Array.from({ length: i }, () => rnd()));
  return pl
    .DataFrame([
      pl.Series("event_id", eventIds.slice(0, i), pl.Utf8),
      pl.Series("user_id", userIds.subarray(0, i)).cast(pl.Int64),
      pl.Series("ts", ts.subarray(0, i)).cast(pl.Int64).cast(pl.Datetime("us", "UTC")),
      pl.Series("event_type", eventTypes.slice(0, i), pl.Utf8),
      pl.Series("page", pages.slice(0, i), pl.Utf8),
      pl.Series("amount", amounts.slice(0, i), pl.Float64),
      order,
    ])
    .sort("o")
    .drop("o");
}

function summary(label: string, times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `${label}: min ${sorted[0]!.toFixed(0)} ms, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms over ${times.length} runs`;
}

/** Times sessionize on generated data and prints the numbers. */
async function main(): Promise<void> {
  const nEvents = Number(process.argv[2] ?? 1_000_000);
  const nUsers = Number(process.argv[3] ?? 50_000);
  const runs = Number(process.argv[4] ?? 5);

  const genStart = performance.now();
  const df = generateEvents(nEvents, nUsers, 42);
  console.log(`generated ${df.height} events for ${nUsers} users in ${(performance.now() - genStart).toFixed(0)} ms (not timed below)`);

  // Interleave the two ways so machine noise hits both alike.
  // CPU time (user + system, all threads) is reported too: on a busy shared machine it is a
  // steadier measure of the work than wall time.
  const lazyBoth: number[] = [];
  const eagerBoth: number[] = [];
  const lazyCpu: number[] = [];
  const eagerCpu: number[] = [];
  const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = sessionize(df.lazy());
    const events = out.events.collectSync();
    const t1 = performance.now();
    const sessions = out.sessions.collectSync();
    const t2 = performance.now();
    const c1 = process.cpuUsage();
    lazyBoth.push(t2 - t0);
    lazyCpu.push(cpuMs(process.cpuUsage(c0)));
    const t2b = performance.now();
    const shared = await collectSessionized(df.lazy());
    const t3 = performance.now();
    eagerBoth.push(t3 - t2b);
    eagerCpu.push(cpuMs(process.cpuUsage(c1)));
    if (shared.sessions.height !== sessions.height || shared.events.height !== events.height) throw new Error("outputs differ");
    console.log(
      `run ${r + 1}: sessionize: events ${(t1 - t0).toFixed(0)} ms (${events.height} rows) + sessions ${(t2 - t1).toFixed(0)} ms (${sessions.height} rows) = ${(t2 - t0).toFixed(0)} ms; collectSessionized ${(t3 - t2b).toFixed(0)} ms; cpu ${lazyCpu.at(-1)!.toFixed(0)} vs ${eagerCpu.at(-1)!.toFixed(0)} ms`,
    );
  }
  console.log(summary("sessionize, collectSync of both outputs", lazyBoth));
  console.log(summary("collectSessionized (one sort, both outputs)", eagerBoth));
  console.log(summary("CPU time, sessionize both outputs", lazyCpu));
  console.log(summary("CPU time, collectSessionized", eagerCpu));
  console.log(`load average after: ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

/**
 * The quick-start demo: both built-in jobs over a few days of the built-in demo API, then the
 * summary and a sample query. Everything goes through the same CLI a user types.
 */
import { main } from "../src/cli/main.ts";

const FROM = "2026-11-18";
const TO = "2026-11-20";

async function step(title: string, args: string[]): Promise<void> {
  process.stdout.write(`\n$ sluice ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}    # ${title}\n`);
  const code = await main(args);
  if (code !== 0) {
    process.stderr.write(`demo step failed with exit code ${code}\n`);
    process.exit(code);
  }
}

await step("users snapshot", ["run", "users", "--date", TO, "--log-level", "warn"]);
await step("three days of events and sessions", ["backfill", "events", "--from", FROM, "--to", TO, "--log-level", "warn"]);
await step("sessions per day", ["query", "select dt, count(*) as sessions, round(avg(duration_s) / 60, 1) as avg_minutes, round(sum(revenue), 2) as revenue from sessions group by dt order by dt"]);
await step("what went to quarantine, and why", ["query", "select dt, reason, count(*) as records from sluice.quarantine group by all order by dt, records desc limit 12"]);
await step("every partition's last run", ["status"]);
process.stdout.write(`\nThe warehouse is ./data/warehouse.duckdb; try: npx sluice query "select * from sessions limit 5"\n`);
process.stdout.write("", () => process.exit(0));

/**
 * Benchmark approach (2): what a competent engineer would write with DuckDB alone, no Sluice.
 * Fetches one day of /v1/events page by page (cursor pagination is sequential) to JSON files,
 * then does everything in DuckDB SQL: read_json + unnest with JSON-typed fields (so "7" is not
 * silently taken for 7), contract checks, rejects to a quarantine table, dedupe by event_id
 * (first copy by page and position), lag/sum window sessionization (30-min strict gap, 24-h cap,
 * same session_id as Sluice), COPY to a Hive-style Parquet lake, and one transaction of MERGEs
 * into a warehouse file.
 *
 * Run: node --import tsx bench/reference-duckdb.ts --api-url URL --date YYYY-MM-DD --work-dir DIR
 * Prints one JSON line on stdout: record/row counts and per-phase ms.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { fetchPages } from "./fetch-pages.ts";
import { competitorArgs } from "./lib.ts";

const TIMEOUT_US = 30n * 60n * 1_000_000n;
const CAP_US = 24n * 3600n * 1_000_000n;
// A deliberate copy of jobs/sources.ts EVENT_TYPES: this reference runs without Sluice, and importing jobs/ would load the engine (~1.6 s, ~70 MiB) into what it measures.
const EVENT_TYPES = ["login", "view_page", "add_to_cart", "purchase", "logout"];
// RFC 3339 with 'T' and an explicit zone, 0-6 fractional digits (DuckDB's cast alone would also
// take "2026-11-20 10:00:00" without a zone, in local time).
const RFC3339 = String.raw`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`;

/** Summary printed on stdout. */
export interface ReferenceSummary {
  records: number;
  pages: number;
  events: number;
  sessions: number;
  quarantined: number;
  ms: { fetch: number; check: number; sessionize: number; aggregate: number; lake: number; merge: number; total: number };
}

function sql(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

async function main(): Promise<void> {
  const { apiUrl, dt, workDir, flags } = competitorArgs("reference-duckdb.ts --api-url URL --date YYYY-MM-DD --work-dir DIR");
  const rawDir = path.join(workDir, "raw", `dt=${dt}`);
  const eventsLake = path.join(workDir, "lake", "events", `dt=${dt}`);
  const sessionsLake = path.join(workDir, "lake", "sessions", `dt=${dt}`);
  for (const d of [rawDir, eventsLake, sessionsLake]) await mkdir(d, { recursive: true });
  const ms = { fetch: 0, check: 0, sessionize: 0, aggregate: 0, lake: 0, merge: 0, total: 0 };
  const t0 = performance.now();

  const { pages } = await fetchPages(apiUrl, dt, rawDir, Number(flags["limit"]));
  ms.fetch = performance.now() - t0;

  const instance = await DuckDBInstance.create(path.join(workDir, "warehouse.duckdb"));
  const conn = await instance.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    let t = performance.now();
    const types = EVENT_TYPES.map(sql).join(", ");
    // Every field as JSON: its JSON type is checked instead of being coerced by the reader. One
    // statement reads, unnests and checks, so the raw records are never materialized as a table.
    await conn.run(`
      CREATE TEMP TABLE typed AS
      WITH r AS (
        SELECT CAST(regexp_extract(filename, 'page-(\\d+)\\.json$', 1) AS INTEGER) AS page, unnest(data) AS rec, generate_subscripts(data, 1) AS pos
        FROM read_json(${sql(path.join(rawDir, "page-*.json"))},
          columns = {data: 'STRUCT(event_id JSON, user_id JSON, ts JSON, event_type JSON, properties JSON)[]'},
          filename = true, maximum_object_size = 268435456)
      ),
      f AS (
        SELECT page, pos, rec,
          json_type(rec.event_id) AS t_id, rec.event_id ->> '$' AS event_id,
          CASE WHEN json_type(rec.user_id) IN ('UBIGINT', 'BIGINT') THEN try_cast(rec.user_id ->> '$' AS BIGINT) END AS user_id,
          CASE WHEN json_type(rec.ts) = 'VARCHAR' AND regexp_full_match(rec.ts ->> '$', ${sql(RFC3339)})
            THEN try_cast(rec.ts ->> '$' AS TIMESTAMPTZ) END AS ts,
          json_type(rec.event_type) AS t_type, rec.event_type ->> '$' AS event_type,
          json_type(rec.properties) AS t_props,
          CASE WHEN json_type(rec.properties, '$.page') = 'VARCHAR' THEN rec.properties ->> '$.page' END AS page_path,
          CASE WHEN json_type(rec.properties, '$.amount') IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN try_cast(rec.properties ->> '$.amount' AS DOUBLE) END AS amount
        FROM r
      ),
      c AS (
        SELECT *,
          CASE
            WHEN t_id IS DISTINCT FROM 'VARCHAR' THEN 'event_id: not a string'
            WHEN user_id IS NULL OR user_id <= 0 THEN 'user_id: not a positive integer'
            WHEN ts IS NULL OR ts < TIMESTAMPTZ ${sql(dt)} OR ts >= TIMESTAMPTZ ${sql(dt)} + INTERVAL 1 DAY THEN 'ts: missing, unparseable or outside the day'
            WHEN t_type IS DISTINCT FROM 'VARCHAR' OR event_type NOT IN (${types}) THEN 'event_type: unknown'
            WHEN t_props IS NOT NULL AND t_props NOT IN ('OBJECT', 'NULL') THEN 'properties: not an object'
          END AS reason
        FROM f
      )
      SELECT page, pos, event_id, user_id, ts, event_type, page_path AS page_url, amount, reason,
        CASE WHEN reason IS NOT NULL THEN CAST(to_json(rec) AS VARCHAR) END AS record
      FROM c`);
    ms.check = performance.now() - t;

    t = performance.now();
    // One event per event_id (first copy by page, position), then sessions in (user, ts, event_id)
    // order: a gap > 30 min starts a chain, a chain is cut every 24 h from its first event.
    await conn.run(`
      CREATE TEMP TABLE ev AS
      WITH v AS (
        SELECT event_id, user_id, ts, epoch_us(ts) AS t, event_type, page_url AS page, amount
        FROM typed WHERE reason IS NULL
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY page, pos) = 1
      ),
      o AS (
        SELECT *, coalesce(t - lag(t) OVER (PARTITION BY user_id ORDER BY t, event_id) > ${TIMEOUT_US}, true) AS new_chain FROM v
      ),
      c AS (
        SELECT *,
          sum(CAST(new_chain AS INTEGER)) OVER w AS chain_no,
          max(CASE WHEN new_chain THEN t END) OVER w AS chain_start,
          row_number() OVER w AS rn
        FROM o WINDOW w AS (PARTITION BY user_id ORDER BY t, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      ),
      p AS (
        SELECT *, CASE WHEN t = chain_start THEN 0 ELSE (t - chain_start - 1) // ${CAP_US} END AS piece FROM c
      )
      SELECT *, CAST(user_id AS VARCHAR) || '-' || CAST(min(t) OVER (PARTITION BY user_id, chain_no, piece) // 1000 AS VARCHAR) AS session_id
      FROM p`);
    ms.sessionize = performance.now() - t;

    t = performance.now();
    await conn.run(`
      CREATE TEMP TABLE sess AS
      WITH agg AS (
        SELECT session_id, any_value(user_id) AS user_id, min(ts) AS session_start, max(ts) AS session_end,
          (max(t) - min(t)) / 1e6 AS duration_s, CAST(count(*) AS INTEGER) AS event_count,
          arg_min(event_type, rn) AS first_event_type, arg_max(event_type, rn) AS last_event_type,
          bool_or(event_type = 'purchase') AS has_purchase,
          coalesce(sum(CASE WHEN event_type = 'purchase' THEN coalesce(amount, 0) END), 0)::DOUBLE AS revenue
        FROM ev GROUP BY session_id
      ),
      pa AS (
        SELECT session_id, event_type AS primary_action FROM (
          SELECT session_id, event_type, count(*) AS n, min(rn) AS first_rn
          FROM ev WHERE event_type NOT IN ('login', 'logout') GROUP BY session_id, event_type
        )
        QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY n DESC, first_rn) = 1
      )
      SELECT a.session_id, a.user_id, a.session_start, a.session_end, a.duration_s, a.event_count,
        a.first_event_type, a.last_event_type, pa.primary_action, a.has_purchase, a.revenue,
        CAST(a.session_start AS DATE) AS dt
      FROM agg a LEFT JOIN pa USING (session_id)`);
    ms.aggregate = performance.now() - t;

    t = performance.now();
    const eventsFile = path.join(eventsLake, "part-0.parquet");
    const sessionsFile = path.join(sessionsLake, "part-0.parquet");
    await conn.run(`COPY (SELECT event_id, user_id, ts, event_type, page, amount, session_id, CAST(ts AS DATE) AS dt FROM ev)
      TO ${sql(eventsFile)} (FORMAT parquet, COMPRESSION zstd)`);
    await conn.run(`COPY sess TO ${sql(sessionsFile)} (FORMAT parquet, COMPRESSION zstd)`);
    ms.lake = performance.now() - t;

    t = performance.now();
    await conn.run(`CREATE TABLE IF NOT EXISTS events (event_id VARCHAR, user_id BIGINT, ts TIMESTAMPTZ, event_type VARCHAR,
      page VARCHAR, amount DOUBLE, session_id VARCHAR, dt DATE)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS sessions (session_id VARCHAR, user_id BIGINT, session_start TIMESTAMPTZ,
      session_end TIMESTAMPTZ, duration_s DOUBLE, event_count INTEGER, first_event_type VARCHAR, last_event_type VARCHAR,
      primary_action VARCHAR, has_purchase BOOLEAN, revenue DOUBLE, dt DATE)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS quarantine (dt DATE, record VARCHAR, reason VARCHAR)`);
    await conn.run("BEGIN TRANSACTION");
    for (const [table, file, key, cols] of [
      ["events", eventsFile, "event_id", ["event_id", "user_id", "ts", "event_type", "page", "amount", "session_id", "dt"]],
      ["sessions", sessionsFile, "session_id", ["session_id", "user_id", "session_start", "session_end", "duration_s", "event_count", "first_event_type", "last_event_type", "primary_action", "has_purchase", "revenue", "dt"]],
    ] as const) {
      const nonKey = cols.filter((c) => c !== key);
      await conn.run(`
        MERGE INTO ${table} AS t USING read_parquet(${sql(file)}) AS s ON t.${key} = s.${key}
        WHEN MATCHED AND (${nonKey.map((c) => `t.${c} IS DISTINCT FROM s.${c}`).join(" OR ")})
          THEN UPDATE SET ${nonKey.map((c) => `${c} = s.${c}`).join(", ")}
        WHEN NOT MATCHED THEN INSERT (${cols.join(", ")}) VALUES (${cols.map((c) => `s.${c}`).join(", ")})
        WHEN NOT MATCHED BY SOURCE AND t.dt = DATE ${sql(dt)} THEN DELETE`);
    }
    await conn.run(`DELETE FROM quarantine WHERE dt = DATE ${sql(dt)}`);
    await conn.run(`INSERT INTO quarantine SELECT DATE ${sql(dt)}, record, reason FROM typed WHERE reason IS NOT NULL ORDER BY page, pos`);
    await conn.run("COMMIT");
    ms.merge = performance.now() - t;

    const counts = (
      await conn.runAndReadAll(`SELECT (SELECT count(*) FROM typed), (SELECT count(*) FROM events WHERE dt = DATE ${sql(dt)}),
        (SELECT count(*) FROM sessions WHERE dt = DATE ${sql(dt)}), (SELECT count(*) FROM quarantine WHERE dt = DATE ${sql(dt)})`)
    ).getRows()[0] ?? [];
    ms.total = performance.now() - t0;
    const summary: ReferenceSummary = {
      records: Number(counts[0]),
      pages,
      events: Number(counts[1]),
      sessions: Number(counts[2]),
      quarantined: Number(counts[3]),
      ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)])) as ReferenceSummary["ms"],
    };
    process.stdout.write(JSON.stringify(summary) + "\n");
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

await main();

/**
 * The run ledger in the warehouse's sluice schema: sluice.runs (one row per run, upserted from
 * start to outcome), sluice.quarantine (the rows kept out of each partition, and why) and
 * sluice.checks (every check result of every run).
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { PartitionKey } from "./bookkeeping-copy.ts";
import type { CheckHistory, CheckResult, HistoryQuery } from "../validate/types.ts";
import { checksHaveColumn, ensureSluiceSchema, tableExists } from "./schema.ts";
import { jsonText, sqlValue, toJsonValue } from "./sql-values.ts";
import type { QuarantineRow, RunRecord } from "./types.ts";

/**
 * The quarantine of a run: replaces the set of (run.job, dt) for every dt of `dts` (default
 * [run.dt]); a row's dt is run.dt unless it says otherwise. Unchanged rows keep their original run_id.
 */
export interface QuarantineSet {
  rows: Array<QuarantineRow & { dt?: string }>;
  dts?: string[];
}

/** A check result of one partition, as appended to sluice.checks. */
export type PartitionCheck = CheckResult & { dt: string };

/** One row of readPartitionStatus: the last run of a job's partition, or `pending` for a requested day that never ran. */
export interface PartitionStatusRow {
  job: string;
  dt: string;
  status: string;
  rows_loaded: number;
  rows_quarantined: number;
  /** null for a pending day. */
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

/** Inserts or replaces the run row with this run_id (start: running; end: failed/cancelled). */
export async function recordRun(conn: DuckDBConnection, run: RunRecord): Promise<void> {
  await ensureSluiceSchema(conn);
  await upsertRun(conn, run);
}

/** Records a run that has just started: its row is new (a fresh run id), so a plain INSERT. */
export async function recordStartedRun(conn: DuckDBConnection, run: RunRecord): Promise<void> {
  await ensureSluiceSchema(conn);
  await conn.run(`INSERT INTO sluice.runs (run_id, job, dt, status, started_at, finished_at, rows_in, rows_loaded, rows_quarantined, error) ${runSelect(run)}`);
}

/** Marks 'running' rows whose process is gone as 'abandoned'; returns how many. */
export async function markAbandonedRuns(conn: DuckDBConnection, isStillRunning: (runId: string) => boolean): Promise<number> {
  return (await markAbandoned(conn, isStillRunning)).length;
}

/** Marks 'running' rows whose process is gone as 'abandoned'; returns the partition of each. */
export async function markAbandoned(conn: DuckDBConnection, isStillRunning: (runId: string) => boolean): Promise<PartitionKey[]> {
  await ensureSluiceSchema(conn);
  const result = await conn.runAndReadAll("SELECT run_id, job, strftime(dt, '%Y-%m-%d') FROM sluice.runs WHERE status = 'running'");
  const rows = result.getRows().filter((row) => !isStillRunning(String(row[0])));
  const dead = rows.map((row) => String(row[0]));
  if (dead.length === 0) return [];
  const placeholders = dead.map((_, i) => `$${i + 1}`).join(", ");
  await conn.run(
    `UPDATE sluice.runs SET status = 'abandoned', finished_at = coalesce(finished_at, now()),
       error = coalesce(error, 'the process running it ended without recording an outcome (killed?)')
     WHERE status = 'running' AND run_id IN (${placeholders})`,
    dead,
  );
  return rows.map((row) => ({ job: String(row[1]), dt: String(row[2]) }));
}

/**
 * Records that `job` was asked to run every day from `from` to `to` (a backfill's request), so a
 * day that never runs (Ctrl-C, a failure before its run was recorded) shows as pending instead of
 * being absent. One row per job and day: a new request replaces the old one's time and id.
 */
export async function recordRequests(conn: DuckDBConnection, request: { job: string; from: string; to: string; requestId: string; at: Date }): Promise<void> {
  await ensureSluiceSchema(conn);
  await conn.run(
    `MERGE INTO sluice.requests AS t
     USING (SELECT $1 AS job, CAST(d AS DATE) AS dt, CAST($4 AS TIMESTAMPTZ) AS requested_at, $5 AS request_id
            FROM range(CAST($2 AS DATE), CAST($3 AS DATE) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS r(d)) AS s
     ON t.job = s.job AND t.dt = s.dt
     WHEN MATCHED THEN UPDATE SET requested_at = s.requested_at, request_id = s.request_id
     WHEN NOT MATCHED THEN INSERT (job, dt, requested_at, request_id) VALUES (s.job, s.dt, s.requested_at, s.request_id)`,
    [request.job, request.from, request.to, request.at.toISOString(), request.requestId],
  );
}

/** The median duration in seconds of the job's last 50 succeeded runs, or null when none succeeded yet. */
export async function typicalRunSeconds(conn: DuckDBConnection, job: string): Promise<number | null> {
  if (!(await tableExists(conn, "sluice", "runs"))) return null;
  const r = await conn.runAndReadAll(
    `SELECT median(epoch(finished_at) - epoch(started_at)) FROM (
       SELECT started_at, finished_at FROM sluice.runs WHERE job = $1 AND status = 'succeeded' AND finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 50)`,
    [job],
  );
  const v = r.getRows()[0]?.[0];
  return v === null || v === undefined ? null : Number(v);
}

/** The days of `job` that were requested and whose last run (if any) did not succeed, sorted. */
export async function unfinishedRequests(conn: DuckDBConnection, job: string): Promise<string[]> {
  return (await readPartitionStatus(conn, job)).filter((r) => r.status !== "succeeded" && r.requested).map((r) => r.dt);
}

/**
 * The last run per job/dt (optionally of one job), and each requested day that never ran as
 * `pending`, ordered by job and dt; [] before any run. `requested` tells whether a backfill asked for the day.
 */
export async function readPartitionStatus(conn: DuckDBConnection, job?: string): Promise<Array<PartitionStatusRow & { requested: boolean }>> {
  if (!(await tableExists(conn, "sluice", "runs"))) return [];
  const requests = await tableExists(conn, "sluice", "requests");
  const where = job === undefined ? "" : "WHERE job = $1";
  const pending = requests
    ? `UNION ALL
       SELECT job, dt, 'pending', 0, 0, NULL, NULL, 'requested at ' || strftime(requested_at, '%Y-%m-%dT%H:%M:%SZ') || ', not run yet', true
       FROM sluice.requests r ${where === "" ? "WHERE" : `${where} AND`} NOT EXISTS (SELECT 1 FROM sluice.runs x WHERE x.job = r.job AND x.dt = r.dt)`
    : "";
  const requested = requests ? "EXISTS (SELECT 1 FROM sluice.requests q WHERE q.job = l.job AND q.dt = l.dt)" : "false";
  const result = await conn.runAndReadAll(
    `SELECT job, strftime(dt, '%Y-%m-%d') AS dt, status, rows_loaded, rows_quarantined, started_at, finished_at, error, requested FROM (
       SELECT l.*, ${requested} AS requested FROM (
         SELECT job, dt, status, rows_loaded, rows_quarantined, started_at, finished_at, error FROM sluice.runs ${where}
         QUALIFY row_number() OVER (PARTITION BY job, dt ORDER BY started_at DESC, run_id DESC) = 1) AS l
       ${pending})
     ORDER BY job, dt`,
    job === undefined ? [] : [job],
  );
  return result.getRows().map((row) => ({
    job: String(row[0]),
    dt: String(row[1]),
    status: String(row[2]),
    rows_loaded: Number(row[3] ?? 0),
    rows_quarantined: Number(row[4] ?? 0),
    started_at: row[5] === null || row[5] === undefined ? null : String(toJsonValue(row[5])),
    finished_at: row[6] === null || row[6] === undefined ? null : String(toJsonValue(row[6])),
    error: row[7] === null || row[7] === undefined ? null : String(row[7]),
    requested: row[8] === true,
  }));
}

/** The dts whose quarantine set replaceQuarantine replaces. */
function quarantineScope(run: RunRecord, quarantine: QuarantineSet): string[] {
  const scope = new Set(quarantine.dts ?? [run.dt]);
  for (const row of quarantine.rows) scope.add(row.dt ?? run.dt);
  return [...scope];
}

/** The dts whose quarantine set replaceQuarantine leaves empty (the usual case: nothing quarantined). */
export function emptiedQuarantine(run: RunRecord, quarantine: QuarantineSet): string[] {
  const held = new Set(quarantine.rows.map((row) => row.dt ?? run.dt));
  return quarantineScope(run, quarantine).filter((dt) => !held.has(dt));
}

/**
 * Replaces the quarantine set of (job, dt) for the given dts as a multiset diff on
 * (dt, table_name, record, reason): rows no longer present are deleted, new ones inserted with this
 * run_id, and unchanged ones stay untouched (original run_id), so a rerun with the same data changes no row.
 */
export async function replaceQuarantine(conn: DuckDBConnection, run: RunRecord, quarantine: QuarantineSet): Promise<void> {
  const dts = quarantineScope(run, quarantine);
  if (dts.length === 0) return;
  if (quarantine.rows.length === 0) {
    // Nothing quarantined now (the usual case): the diff is "delete what was there", one statement.
    await conn.run(`DELETE FROM sluice.quarantine WHERE job = ${sqlValue(run.job)} AND dt IN (${dts.map((dt) => `CAST(${sqlValue(dt)} AS DATE)`).join(", ")})`);
    return;
  }
  const inList = dts.map((_, i) => `CAST($${i + 2} AS DATE)`).join(", ");
  const params = [run.job, ...dts];
  await conn.run("DROP TABLE IF EXISTS temp.main.__sluice_q_in");
  await conn.run("CREATE TEMP TABLE __sluice_q_in (dt VARCHAR, table_name VARCHAR, record VARCHAR, reason VARCHAR)");
  try {
    await appendIncomingQuarantine(conn, run, quarantine.rows);
    // Occurrence numbers make identical records (same record, same reason) count as many as they are.
    const occ = "row_number() OVER (PARTITION BY dt, table_name, record, reason ORDER BY rid)";
    await conn.run(`CREATE OR REPLACE TEMP TABLE __sluice_q_new AS
      SELECT dt, table_name, record, reason, ${occ} AS occ
      FROM (SELECT CAST(dt AS DATE) AS dt, table_name, record, reason, rowid AS rid FROM __sluice_q_in)`);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE __sluice_q_old AS
       SELECT rid, dt, table_name, record, reason, ${occ} AS occ
       FROM (SELECT rowid AS rid, dt, table_name, record, reason FROM sluice.quarantine WHERE job = $1 AND dt IN (${inList}))`,
      params,
    );
    const same = "n.dt = o.dt AND n.table_name = o.table_name AND n.record = o.record AND n.reason = o.reason AND n.occ = o.occ";
    await conn.run(`DELETE FROM sluice.quarantine WHERE rowid IN (
      SELECT o.rid FROM __sluice_q_old o WHERE NOT EXISTS (SELECT 1 FROM __sluice_q_new n WHERE ${same}))`);
    await conn.run(
      `INSERT INTO sluice.quarantine (run_id, job, dt, table_name, record, reason)
       SELECT $1, $2, n.dt, n.table_name, n.record, n.reason FROM __sluice_q_new n
       WHERE NOT EXISTS (SELECT 1 FROM __sluice_q_old o WHERE ${same})`,
      [run.runId, run.job],
    );
  } finally {
    for (const t of ["__sluice_q_in", "__sluice_q_new", "__sluice_q_old"]) await conn.run(`DROP TABLE IF EXISTS temp.main.${t}`);
  }
}

/** Appends the run's quarantine rows to the temp table __sluice_q_in, in order. */
async function appendIncomingQuarantine(conn: DuckDBConnection, run: RunRecord, rows: QuarantineSet["rows"]): Promise<void> {
  const appender = await conn.createAppender("__sluice_q_in", "main", "temp");
  try {
    for (const row of rows) {
      appender.appendVarchar(row.dt ?? run.dt);
      appender.appendVarchar(row.table);
      appender.appendVarchar(row.record);
      appender.appendVarchar(row.reason);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Appends check results to sluice.checks with the run's run_id and job, all stamped with one checked_at. */
export async function appendChecks(conn: DuckDBConnection, run: RunRecord, checks: readonly PartitionCheck[]): Promise<void> {
  if (checks.length === 0) return;
  const checkedAt = sqlValue(new Date().toISOString());
  const rows = checks.map((c) => {
    const v = [run.runId, run.job, c.table, c.dt, c.check, c.columns.join(","), c.severity, c.action, c.passed, c.failingRows, jsonText(c.sample)].map(sqlValue);
    const [runId, job, table, dt, check, columns, severity, action, passed, failing, sample] = v;
    const numbers = [c.observed, c.lower, c.upper].map((n) => `CAST(${sqlValue(finiteOrNull(n))} AS DOUBLE)`).join(", ");
    return `(${runId}, ${job}, ${table}, CAST(${dt} AS DATE), ${check}, ${columns}, ${severity}, ${action}, ${passed}, CAST(${failing} AS BIGINT), ${sample}, CAST(${checkedAt} AS TIMESTAMPTZ), ${numbers}, ${sqlValue(c.skipped ?? false)}, CAST(${sqlValue(c.detail ?? null)} AS VARCHAR))`;
  });
  await conn.run(
    `INSERT INTO sluice.checks (run_id, job, table_name, dt, check_name, columns, severity, action, passed, failing_rows, sample, checked_at, observed, lower_bound, upper_bound, skipped, detail)
     VALUES ${rows.join(", ")}`,
  );
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Earlier observed values of a table's checks: per series, the partitions before `query.before`
 * (by date, whatever order they ran in), newest first, each from its last successful run; a
 * partition whose runs all failed (e.g. blocked by the very check) has none. Empty before any run.
 */
export async function readCheckHistory(conn: DuckDBConnection, query: HistoryQuery): Promise<CheckHistory> {
  const out = emptyHistory(query);
  if (query.series.length === 0 || !(await tableExists(conn, "sluice", "checks")) || !(await checksHaveColumn(conn, "observed"))) return out;
  for (const s of query.series) {
    const r = await conn.runAndReadAll(
      `SELECT strftime(c.dt, '%Y-%m-%d') AS dt, c.observed
       FROM sluice.checks c JOIN sluice.runs r ON r.run_id = c.run_id AND r.status = 'succeeded'
       WHERE c.job = $1 AND c.table_name = $2 AND c.check_name = $3 AND c.dt < CAST($4 AS DATE) AND c.observed IS NOT NULL
         ${s.weekday === null ? "" : "AND dayofweek(c.dt) = $6"}
       QUALIFY row_number() OVER (PARTITION BY c.dt ORDER BY r.started_at DESC, c.checked_at DESC) = 1
       ORDER BY c.dt DESC
       LIMIT $5`,
      s.weekday === null ? [query.job, query.table, s.check, query.before, s.limit] : [query.job, query.table, s.check, query.before, s.limit, s.weekday],
    );
    out[s.check] = r.getRows().map((row) => ({ dt: String(row[0]), value: Number(row[1]) }));
  }
  return out;
}

/** The history of a warehouse without runs: no point for any series. */
export function emptyHistory(query: HistoryQuery): CheckHistory {
  return Object.fromEntries(query.series.map((s) => [s.check, []]));
}

/** One row of readCheckResults: a check's result in the last run of a partition that recorded checks. */
export interface CheckResultRow {
  dt: string;
  table: string;
  check: string;
  result: "passed" | "failed" | "skipped";
  severity: string;
  action: string;
  failing_rows: number;
  observed: number | null;
  lower_bound: number | null;
  upper_bound: number | null;
  detail: string | null;
  run_id: string;
  checked_at: string;
}

/** Filters of readCheckResults. */
export interface CheckResultFilter {
  job: string;
  /** Only the checks that did not pass. */
  failed?: boolean;
  /** Only partitions on or after this day (YYYY-MM-DD). */
  since?: string;
}

/** The check results of each partition's last run that recorded checks, by dt then table, in suite order. */
export async function readCheckResults(conn: DuckDBConnection, filter: CheckResultFilter): Promise<CheckResultRow[]> {
  if (!(await tableExists(conn, "sluice", "checks"))) return [];
  const evolved = await checksHaveColumn(conn, "observed");
  const extra = evolved ? "observed, lower_bound, upper_bound, coalesce(skipped, false), detail" : "NULL, NULL, NULL, false, NULL";
  const params: string[] = [filter.job];
  if (filter.since !== undefined) params.push(filter.since);
  const r = await conn.runAndReadAll(
    `SELECT strftime(dt, '%Y-%m-%d'), table_name, check_name, passed, severity, action, failing_rows, ${extra}, run_id, checked_at
     FROM (SELECT *, rowid AS rid FROM sluice.checks WHERE job = $1 ${filter.since === undefined ? "" : "AND dt >= CAST($2 AS DATE)"})
     QUALIFY dense_rank() OVER (PARTITION BY dt ORDER BY checked_at DESC, run_id DESC) = 1
     ORDER BY dt, rid`,
    params,
  );
  const rows = r.getRows().map((row): CheckResultRow => ({
    dt: String(row[0]),
    table: String(row[1]),
    check: String(row[2]),
    result: row[10] === true ? "skipped" : row[3] === true ? "passed" : "failed",
    severity: String(row[4]),
    action: String(row[5]),
    failing_rows: Number(row[6] ?? 0),
    observed: numberOrNull(row[7]),
    lower_bound: numberOrNull(row[8]),
    upper_bound: numberOrNull(row[9]),
    detail: row[11] === null || row[11] === undefined ? null : String(row[11]),
    run_id: String(row[12]),
    checked_at: String(toJsonValue(row[13] ?? null)),
  }));
  return filter.failed ? rows.filter((row) => row.result === "failed") : rows;
}

function numberOrNull(value: unknown): number | null {
  if (typeof value === "bigint") return Number(value);
  return typeof value === "number" ? value : null;
}

/** Inserts or updates the run row by run_id; one MERGE statement, so it is atomic even outside a transaction. */
export async function upsertRun(conn: DuckDBConnection, run: RunRecord): Promise<void> {
  await conn.run(
    `MERGE INTO sluice.runs AS t
     USING (${runSelect(run)}) AS s
     ON t.run_id = s.run_id
     WHEN MATCHED THEN UPDATE SET job = s.job, dt = s.dt, status = s.status, started_at = s.started_at, finished_at = s.finished_at,
       rows_in = s.rows_in, rows_loaded = s.rows_loaded, rows_quarantined = s.rows_quarantined, error = s.error
     WHEN NOT MATCHED THEN INSERT (run_id, job, dt, status, started_at, finished_at, rows_in, rows_loaded, rows_quarantined, error)
       VALUES (s.run_id, s.job, s.dt, s.status, s.started_at, s.finished_at, s.rows_in, s.rows_loaded, s.rows_quarantined, s.error)`,
  );
}

/** A runs row as a one-row SELECT of sluice.runs' columns, its values written out (see sqlValue). */
function runSelect(run: RunRecord): string {
  const v = (x: string | number | null): string => sqlValue(x);
  return `SELECT ${v(run.runId)} AS run_id, ${v(run.job)} AS job, CAST(${v(run.dt)} AS DATE) AS dt, ${v(run.status)} AS status,
    CAST(${v(run.startedAt.toISOString())} AS TIMESTAMPTZ) AS started_at, CAST(${v(run.finishedAt ? run.finishedAt.toISOString() : null)} AS TIMESTAMPTZ) AS finished_at,
    CAST(${v(run.rowsIn)} AS BIGINT) AS rows_in, CAST(${v(run.rowsLoaded)} AS BIGINT) AS rows_loaded, CAST(${v(run.rowsQuarantined)} AS BIGINT) AS rows_quarantined,
    CAST(${v(run.error)} AS VARCHAR) AS error`;
}

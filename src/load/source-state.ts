/**
 * sluice.state: the high-water marks of incremental sources (job, source, key, value), written in
 * the same transaction as the load that used them, so a mark never runs ahead of the data.
 * `key` is "" for a source's own mark, or a parent's key for marks kept per parent.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { STATE_DDL, sluiceSchemaEnsured, tableExists } from "./schema.ts";
import { sqlValue, toJsonValue } from "./sql-values.ts";
import type { RunRecord } from "./types.ts";

/** One stored mark. */
export interface SourceMark {
  source: string;
  key: string;
  value: string;
}

/** A mark as `sluice status` shows it. */
export interface StoredMark extends SourceMark {
  job: string;
  runId: string;
  updatedAt: string;
}

/** Creates sluice.state if missing (the sluice schema exists). */
export async function ensureStateTable(conn: DuckDBConnection): Promise<void> {
  await conn.run(STATE_DDL);
}

/** The marks of a job (of every job when omitted); [] before any. */
export async function readMarks(conn: DuckDBConnection, job?: string): Promise<StoredMark[]> {
  if (!sluiceSchemaEnsured(conn) && !(await tableExists(conn, "sluice", "state"))) return [];
  const r = await conn.runAndReadAll(`SELECT job, source, key, value, run_id, updated_at FROM sluice.state ${job === undefined ? "" : `WHERE job = ${sqlValue(job)}`} ORDER BY job, source, key`);
  return r.getRows().map((row) => ({ job: String(row[0]), source: String(row[1]), key: String(row[2]), value: String(row[3]), runId: String(row[4]), updatedAt: String(toJsonValue(row[5] ?? null)) }));
}

/** Upserts the run's marks (inside the load transaction); `replaceAll` first drops the job's other marks (full refresh). */
export async function writeMarks(conn: DuckDBConnection, run: RunRecord, marks: readonly SourceMark[], replaceAll = false): Promise<void> {
  if (marks.length === 0 && !replaceAll) return;
  await ensureStateTable(conn);
  if (replaceAll) await conn.run("DELETE FROM sluice.state WHERE job = $1", [run.job]);
  for (const m of marks) {
    await conn.run(
      `MERGE INTO sluice.state AS t
       USING (SELECT $1 AS job, $2 AS source, $3 AS key, $4 AS value, $5 AS run_id, now() AS updated_at) AS s
       ON t.job = s.job AND t.source = s.source AND t.key = s.key
       WHEN MATCHED THEN UPDATE SET value = s.value, run_id = s.run_id, updated_at = s.updated_at
       WHEN NOT MATCHED THEN INSERT (job, source, key, value, run_id, updated_at) VALUES (s.job, s.source, s.key, s.value, s.run_id, s.updated_at)`,
      [run.job, m.source, m.key, m.value, run.runId],
    );
  }
}

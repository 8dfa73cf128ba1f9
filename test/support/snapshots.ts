/** What a data dir's warehouse holds, in comparable form: for checking runs against each other or an oracle. */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { lakePartitionPath } from "../../src/load/lake.ts";
import { query, withWarehouse } from "../../src/load/warehouse.ts";

/** Every row of events, sessions and quarantine, in a stable order, without columns that name a run. */
export async function dataTables(dataDir: string): Promise<Record<string, unknown[][]>> {
  return withWarehouse(dataDir, "read", async (conn) => {
    const out: Record<string, unknown[][]> = {};
    out["events"] = (await query(conn, "select * from events order by all")).rows;
    out["sessions"] = (await query(conn, "select * from sessions order by all")).rows;
    out["quarantine"] = (await query(conn, "select job, dt, table_name, record, reason from sluice.quarantine order by all")).rows;
    return out;
  });
}

/** Sessions and events' session ids, as sorted strings (`id|count|dt|end_us|action|revenue`, `event|session|dt`). */
export async function sessionState(dataDir: string): Promise<{ sessions: string[]; eventSessions: string[] }> {
  return withWarehouse(dataDir, "read", async (conn) => ({
    sessions: (await query(conn, "select session_id, event_count, dt::varchar, epoch_us(session_end)::varchar, primary_action, revenue from sessions")).rows
      .map(([id, count, dt, end, action, revenue]) => `${id}|${count}|${dt}|${end}|${action ?? "-"}|${Number(Number(revenue).toFixed(6))}`)
      .sort(),
    eventSessions: (await query(conn, "select event_id || '|' || session_id || '|' || dt::varchar from events order by 1")).rows.map((r) => String(r[0])),
  }));
}

/** Every row of every table (dataTables), and every check result without run ids and times: for comparing a chunked run's data dir with a one-frame run's. */
export async function warehouseSnapshot(dataDir: string): Promise<Record<string, unknown[][]>> {
  const out = await dataTables(dataDir);
  out["checks"] = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "select table_name, dt, check_name, columns, severity, action, passed, failing_rows, sample from sluice.checks order by all")).rows);
  return out;
}

/** Every events and sessions lake partition of `expectedDir` is in `actualDir` with equal rows, in the same order. */
export async function assertLakesEqual(actualDir: string, expectedDir: string): Promise<void> {
  for (const table of ["events", "sessions"]) {
    for (const part of await readdir(path.join(expectedDir, "lake", table))) {
      const dt = part.slice("dt=".length);
      const expected = pl.readParquet(lakePartitionPath(expectedDir, table, dt));
      const actual = pl.readParquet(lakePartitionPath(actualDir, table, dt));
      // Row order too: range groups in key order give the rows one sort of the whole day gives.
      assert.ok(actual.frameEqual(expected), `lake ${table}/${part} differs (${actual.height} vs ${expected.height} rows)`);
    }
  }
}

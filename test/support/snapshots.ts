/** What a data dir's warehouse holds, in comparable form: for checking runs against each other or an oracle. */
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

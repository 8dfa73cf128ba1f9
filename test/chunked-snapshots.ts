/** Snapshots of a data dir's warehouse and lake, for comparing a chunked run with a one-frame run (test/chunked*.test.ts). */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import pl from "nodejs-polars";
import { lakePartitionPath } from "../src/load/lake.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { dataTables } from "./support/snapshots.ts";

/** Every row of every table (the kit's dataTables), and every check result without run ids and times, for comparing two data dirs. */
export async function warehouseSnapshot(dataDir: string): Promise<Record<string, unknown[][]>> {
  const out = await dataTables(dataDir);
  out["checks"] = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "select table_name, dt, check_name, columns, severity, action, passed, failing_rows, sample from sluice.checks order by all")).rows);
  return out;
}

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


/**
 * The in-memory DuckDB instance a process writes one warehouse file through: it attaches the file
 * for each write session and detaches it after, which checkpoints the file and lets go of its lock
 * exactly as closing an instance of the file would.
 *
 * Why not an instance per open: creating one costs ~20 ms (DuckDB builds its catalog of built-in
 * functions) and its first statements fault in fresh memory; an incremental rerun opened and closed
 * ~45 ms of its ~180 ms that way. A host kept between sessions pays that once per process.
 */
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { adoptCatalog, knownCatalog, type KnownCatalog } from "./schema.ts";
import { ident, literal } from "./sql-values.ts";

/** How long a host with nothing attached stays up for the next session (the timer never keeps the process alive). */
const HOST_IDLE_MS = 30_000;

/** The name the file is attached as: current_database() reads "warehouse", as it did when the file was opened as an instance of its own. */
const ALIAS = "warehouse";

/** DuckDB's memory limit for writes (its default, 80% of RAM, would let a large day's load take gigabytes); beyond it DuckDB spills to <warehouse>.tmp. */
export const LOAD_MEMORY_LIMIT = "384MB";

/**
 * The settings every warehouse session runs under, for a whole instance (GLOBAL) or one connection
 * (SESSION): naive timestamps and casts of timestamp strings mean UTC, whatever the machine's zone;
 * lake views and lake paths resolve in the data dir, so a copied or moved data dir reads its own lake.
 */
export function warehouseSettings(dataDir: string, scope: "GLOBAL" | "SESSION"): string[] {
  return [`SET ${scope} TimeZone = 'UTC'`, `SET ${scope} file_search_path = ${literal(dataDir)}`];
}

/** One warehouse file's host instance: a fresh, attached connection per write session. */
export class WarehouseHost {
  private instance: DuckDBInstance | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /**
   * What the last session learned of the catalog (the sluice schema is current, which tables and
   * lake views exist), and the file as it left it: the next session starts from that knowledge if
   * the file is still exactly that (~5 ms of catalog statements a run saves).
   */
  private left: { stamp: string; catalog: KnownCatalog } | undefined;

  /** `options`: the block size of a file the host creates, and the directory relative paths resolve in. */
  constructor(
    private readonly file: string,
    private readonly options: { blockSize: number; searchPath: string },
  ) {}

  /** Attaches the file read-write (creating it if missing) and returns a connection whose default database it is. DuckDB's errors pass through as they are: a lock conflict is the caller's to retry. */
  async attach(): Promise<DuckDBConnection> {
    this.cancelIdleClose();
    const instance = await this.host();
    const conn = await instance.connect();
    try {
      await conn.run(`ATTACH ${literal(this.file)} AS ${ident(ALIAS)}`);
      await conn.run(`USE ${ident(ALIAS)}`);
      // Stamped once attached: no other process can change the file from here on.
      const left = this.left;
      this.left = undefined;
      if (left && left.stamp !== "" && left.stamp === (await fileStamp(this.file))) adoptCatalog(conn, left.catalog);
      return conn;
    } catch (error) {
      conn.closeSync();
      // An attach that got halfway must not leave the file attached (the next one would fail on it).
      await this.detachQuietly();
      this.scheduleIdleClose();
      throw error;
    }
  }

  /** Detaches the file if it is attached, for an attach that failed after ATTACH; a failure closes the host. */
  private async detachQuietly(): Promise<void> {
    const admin = await this.instance?.connect().catch(() => undefined);
    if (!admin) return;
    const detached = await admin.run(`DETACH DATABASE IF EXISTS ${ident(ALIAS)}`).then(
      () => true,
      () => false,
    );
    admin.closeSync();
    if (!detached) this.close();
  }

  /**
   * Ends a session: closes its connection (rolling back whatever it left open and dropping its temp
   * tables), then detaches the file (DuckDB checkpoints it: no WAL is left beside the file) and
   * anything else the session attached. If that fails the host is closed, so the next session
   * starts on a new one.
   */
  async detach(conn: DuckDBConnection): Promise<void> {
    const catalog = knownCatalog(conn);
    conn.closeSync();
    const instance = this.instance;
    if (!instance) return;
    const admin = await instance.connect();
    try {
      const attached = await admin.runAndReadAll("SELECT database_name FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'");
      for (const [name] of attached.getRows()) await admin.run(`DETACH ${ident(String(name))}`);
      this.left = { stamp: await fileStamp(this.file), catalog };
    } catch (error) {
      admin.closeSync();
      this.close();
      throw error;
    }
    admin.closeSync();
    this.scheduleIdleClose();
  }

  /** Closes the host instance now (nothing may be attached to it any more, or its changes since the last commit are lost). */
  close(): void {
    this.cancelIdleClose();
    const instance = this.instance;
    this.instance = undefined;
    instance?.closeSync();
  }

  /** The host instance, created on first use: writes in UTC, relative paths from the data dir, spills next to the file. */
  private async host(): Promise<DuckDBInstance> {
    if (this.instance) return this.instance;
    const instance = await DuckDBInstance.create(":memory:", {
      default_block_size: String(this.options.blockSize),
      temp_directory: `${this.file}.tmp`,
      memory_limit: LOAD_MEMORY_LIMIT,
      // Inserts may store rows in any order (tables are sets; readers that need an order ask for it):
      // an order-preserving parallel insert of a 10M-event day made the checkpoint take 5-7 s and the
      // file 400 MB, against 0.1 s and 240 MB (same rows, less memory).
      preserve_insertion_order: "false",
    });
    try {
      const conn = await instance.connect();
      try {
        for (const sql of warehouseSettings(this.options.searchPath, "GLOBAL")) await conn.run(sql);
      } finally {
        conn.closeSync();
      }
    } catch (error) {
      instance.closeSync();
      throw error;
    }
    this.instance = instance;
    return instance;
  }

  /** Starts the idle timer: a host nobody attached to for HOST_IDLE_MS is closed. */
  private scheduleIdleClose(): void {
    this.cancelIdleClose();
    if (this.instance) this.idleTimer = setTimeout(() => this.close(), HOST_IDLE_MS).unref();
  }

  /** Stops the idle timer (a session is starting). */
  private cancelIdleClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/**
 * The file's identity and last change (inode, size, change and modification times in ns), or ""
 * when a WAL lies beside it (its replay may change the catalog). Any write by anyone changes it.
 */
async function fileStamp(file: string): Promise<string> {
  if (existsSync(`${file}.wal`)) return "";
  const s = await stat(file, { bigint: true }).catch(() => null);
  return s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : "";
}

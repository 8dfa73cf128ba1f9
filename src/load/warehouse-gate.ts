/**
 * The way into the warehouse file, `<dataDir>/warehouse.duckdb`.
 *
 * A process holding the file read-write locks out every other process, READ_ONLY openers included.
 * So nothing keeps it open: withWarehouse opens, does one short thing and closes (a run's start
 * may keep it up to half a second for its own load: `lingerMs`). Inside this
 * process a readers/writer gate serializes the users of a file; across processes every opener
 * retries lock conflicts with backoff until its wait runs out.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { CancelledError, LockError, SluiceError, WarehouseBusyError } from "../core/errors.ts";
import { ReadersWriterGate, type AccessMode, type WaitPolicy } from "./readers-writer-gate.ts";
import { WarehouseHost, warehouseSettings } from "./warehouse-host.ts";

export type { DuckDBConnection };

const DEFAULT_WAIT_MS = 60_000;
const WAIT_MESSAGE = "warehouse is busy (a load is running); waiting…";

/**
 * The block size of a warehouse file this process creates (an existing file keeps its own until
 * `sluice warehouse rebuild` makes it anew). DuckDB's default, 256 KiB, makes every small commit and its
 * checkpoint at close fault in two fresh blocks per column of each table written: 104 ms of an
 * incremental rerun's ~280 ms went to committing and closing its few bookkeeping rows. 64 KiB took
 * that to ~50 ms, with the same file size and load time at 10M events (16 KiB: ~37 ms, but a 17%
 * larger file).
 */
export const WAREHOUSE_BLOCK_SIZE = 65_536;

/** The warehouse file of a data directory. */
export function warehousePath(dataDir: string): string {
  return path.join(dataDir, "warehouse.duckdb");
}

export interface WarehouseOptions {
  signal?: AbortSignal;
  /** How long to wait for another process (or in-process user) to let go of the file; default 60 s. */
  waitMs?: number;
  /** Called once when we have to wait, so the CLI can say so. */
  onWait?: (message: string) => void;
  /**
   * After a write, keep the file open this long for this process's next write (a run's start and
   * its load, a second apart or less in an incremental rerun, share one open and one checkpoint);
   * other processes wait that much longer. Default 0: close at once.
   */
  lingerMs?: number;
}

/**
 * Opens the warehouse, runs `fn` on one connection and closes it again, waiting (with backoff) while
 * another process holds the file. `read` opens READ_ONLY; a missing file then reads as an empty
 * in-memory database instead of creating one. Aborting the signal interrupts the running query.
 */
export async function withWarehouse<T>(
  dataDir: string,
  mode: AccessMode,
  fn: (conn: DuckDBConnection) => Promise<T>,
  options: WarehouseOptions = {},
): Promise<T> {
  return WarehouseGate.of(warehousePath(dataDir)).use(mode, fn, options);
}

/** One warehouse file as this process uses it: its readers/writer gate, and opening it with retry. */
export class WarehouseGate {
  private static readonly byFile = new Map<string, WarehouseGate>();
  /** Warehouse files the current async call chain has open (to catch nested withWarehouse calls). */
  private static readonly heldHere = new AsyncLocalStorage<Set<string>>();

  private readonly access = new ReadersWriterGate();
  /** Where this process's writes attach the file (reads open READ_ONLY instances of their own). */
  private readonly host: WarehouseHost;
  /** A write session kept open after a write that asked to linger, closed by its timer unless a write takes it first. */
  private idle: (Session & { timer: NodeJS.Timeout }) | undefined;
  /** The lingering session's close while it runs. */
  private closing: Promise<void> | undefined;

  private constructor(private readonly file: string) {
    this.host = new WarehouseHost(file, { blockSize: WAREHOUSE_BLOCK_SIZE, searchPath: path.dirname(file) });
  }

  /** The gate of a warehouse file: one per file (by absolute path) in this process. */
  static of(file: string): WarehouseGate {
    const key = path.resolve(file);
    let gate = WarehouseGate.byFile.get(key);
    if (!gate) {
      gate = new WarehouseGate(key);
      WarehouseGate.byFile.set(key, gate);
    }
    return gate;
  }

  /** Opens the file in `mode` once this process's gate and other processes let us, runs `fn`, closes. */
  async use<T>(mode: AccessMode, fn: (conn: DuckDBConnection) => Promise<T>, options: WarehouseOptions): Promise<T> {
    const wait = this.waitPolicy(options);
    throwIfAborted(options.signal);
    if (WarehouseGate.heldHere.getStore()?.has(this.file)) {
      // Would wait on ourselves until waitMs: say what is wrong at once.
      throw new SluiceError("withWarehouse was called inside another withWarehouse on the same warehouse; use the outer connection", {
        context: { stage: "warehouse" },
      });
    }
    // Two DuckDB instances on one file in one process do not lock each other out (the OS lock is
    // per process) and would corrupt it: serialize this process's users first. Waiting for our own
    // operations (a backfill's partitions take turns loading) is by design: nothing to say then.
    const release = await this.access.acquire(mode, { ...wait, onWait: () => undefined, timeoutError: () => ownBusyError(this.file, options.waitMs ?? DEFAULT_WAIT_MS) });
    try {
      const session = await this.sessionFor(mode, wait);
      let linger = 0;
      try {
        const result = await this.runOnConnection(session.conn, fn, options.signal);
        linger = mode === "write" ? (options.lingerMs ?? 0) : 0;
        return result;
      } finally {
        if (linger > 0) this.park(session, linger);
        else await session.close();
      }
    } finally {
      release();
    }
  }

  /** True while a lingering write session holds the file open (or is still letting go of it). */
  get lingering(): boolean {
    return this.idle !== undefined || this.closing !== undefined;
  }

  /**
   * Closes the lingering session now, if any; the caller holds the gate. Readers share the gate, so
   * all of them wait for the one close: none may open the file while its checkpoint is written.
   */
  private closeIdle(): Promise<void> {
    const idle = this.idle;
    if (!idle) return this.closing ?? Promise.resolve();
    this.idle = undefined;
    clearTimeout(idle.timer);
    // Its data was committed (the WAL is durable); a failed close only skips the checkpoint.
    const closing: Promise<void> = idle.close().then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      if (this.closing === closing) this.closing = undefined;
    });
    this.closing = closing;
    return closing;
  }

  /** The linger timer's close: waits its turn at the gate, as any user of the file. */
  private async expireIdle(): Promise<void> {
    const release = await this.access
      .acquire("write", { deadline: Date.now() + DEFAULT_WAIT_MS, signal: undefined, onWait: () => undefined, timeoutError: () => ownBusyError(this.file, DEFAULT_WAIT_MS) })
      .catch(() => undefined);
    if (!release) return;
    try {
      await this.closeIdle();
    } finally {
      release();
    }
  }

  /**
   * The connection for one use under the gate: the lingering session for a write (its connection
   * already set up, and what it learned of the schema still true), else the file attached to this
   * process's host (a write) or opened READ_ONLY in an instance of its own (a read).
   */
  private async sessionFor(mode: AccessMode, wait: WaitPolicy): Promise<Session> {
    if (mode === "write") {
      const idle = this.idle;
      if (idle) {
        this.idle = undefined;
        clearTimeout(idle.timer);
        return { conn: idle.conn, close: idle.close };
      }
      await mkdir(path.dirname(this.file), { recursive: true });
      const conn = await openWithRetry(this.file, () => this.host.attach(), wait);
      return { conn, close: () => this.host.detach(conn) };
    }
    await this.closeIdle();
    const target = existsSync(this.file) ? this.file : ":memory:";
    const instance = await openWithRetry(target, () => DuckDBInstance.create(target, target === ":memory:" ? {} : { access_mode: "READ_ONLY" }), wait);
    try {
      const conn = await this.connect(instance);
      return { conn, close: async () => closeInstance(instance, conn) };
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  /** A connection in UTC whose relative paths resolve in the data dir. */
  private async connect(instance: DuckDBInstance): Promise<DuckDBConnection> {
    const conn = await instance.connect();
    try {
      for (const sql of warehouseSettings(path.dirname(this.file), "SESSION")) await conn.run(sql);
      return conn;
    } catch (error) {
      conn.closeSync();
      throw error;
    }
  }

  /** Keeps a session open for `ms` (the timer does not keep the process alive); only the session just used can be parked, so none is idle. */
  private park(session: Session, ms: number): void {
    this.idle = { ...session, timer: setTimeout(() => void this.expireIdle(), ms).unref() };
  }

  /** Runs `fn` on `conn`, interrupting its query when the signal aborts. */
  private async runOnConnection<T>(conn: DuckDBConnection, fn: (conn: DuckDBConnection) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const onAbort = (): void => conn.interrupt();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const held = new Set(WarehouseGate.heldHere.getStore() ?? []).add(this.file);
      return await WarehouseGate.heldHere.run(held, () => fn(conn));
    } catch (error) {
      if (signal?.aborted && !(error instanceof SluiceError)) throw new CancelledError("cancelled while using the warehouse", { cause: error });
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The caller's wait: one deadline for the gate and the opening together, onWait told only once. */
  private waitPolicy(options: WarehouseOptions): WaitPolicy {
    const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
    let waited = false;
    return {
      deadline: Date.now() + waitMs,
      signal: options.signal,
      onWait: () => {
        if (waited) return;
        waited = true;
        options.onWait?.(WAIT_MESSAGE);
      },
      timeoutError: () => busyError(this.file, waitMs),
    };
  }
}

/** An open warehouse: the connection this process uses on it, and how to let go of it. */
interface Session {
  conn: DuckDBConnection;
  /** Closes the connection and lets go of the file (a written file is checkpointed). */
  close: () => Promise<void>;
}

/** Closes the connection, then the instance. */
function closeInstance(instance: DuckDBInstance, conn: DuckDBConnection): void {
  try {
    conn.closeSync();
  } finally {
    instance.closeSync();
  }
}

/** Opens the DuckDB file `target` with `open`, retrying with jittered backoff while another process holds its lock. */
async function openWithRetry<T>(target: string, open: () => Promise<T>, wait: WaitPolicy): Promise<T> {
  let delay = 20;
  for (;;) {
    throwIfAborted(wait.signal);
    try {
      return await open();
    } catch (error) {
      if (!isLockConflict(error)) {
        throw new SluiceError(`could not open the warehouse ${target}: ${(error as Error).message}`, { cause: error, context: { stage: "warehouse" } });
      }
      const left = wait.deadline - Date.now();
      if (left <= 0) throw wait.timeoutError();
      wait.onWait();
      // Full jitter so several waiting processes do not retry in lockstep.
      await sleep(Math.min(left, Math.random() * delay + 5), undefined, wait.signal ? { signal: wait.signal } : undefined).catch(() => undefined);
      delay = Math.min(delay * 2, 500);
    }
  }
}

/** DuckDB reports a file lock conflict only through its message; this is the one place we read it. */
function isLockConflict(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Could not set lock on file|Conflicting lock/i.test(message);
}

function busyError(file: string, waitMs: number): LockError {
  return new WarehouseBusyError(`the warehouse ${file} stayed busy for ${Math.round(waitMs / 1000)} s`, {
    context: { stage: "warehouse" },
    hint: "another process has it open (a sluice load, or a DuckDB session on the file); retry when it is done, and close long-lived DuckDB sessions (query through `sluice query` instead)",
  });
}

/** This process's own operations on the file kept it longer than the wait (one stuck operation, or far too many queued). */
function ownBusyError(file: string, waitMs: number): LockError {
  return new WarehouseBusyError(`waited ${Math.round(waitMs / 1000)} s for this process's other operations on the warehouse ${file}`, {
    context: { stage: "warehouse" },
    hint: "one of them is waiting for another process (see the messages above) or is stuck; lower --concurrency, or retry when the others are done",
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("cancelled before the warehouse was opened");
}

/**
 * `sluice query`'s way into the warehouse: read-only in fact, not only in name.
 *
 * The file is opened READ_ONLY, and that alone still lets SQL write and read anywhere through
 * DuckDB's file functions (COPY TO, EXPORT DATABASE, ATTACH, read_text, glob). So the session is
 * locked down before the user's SQL runs: external access off except the lake (the `lake.*` views
 * read its Parquet files), extensions never loaded, the configuration locked so SQL cannot undo it;
 * and the SQL must be exactly one SELECT or EXPLAIN, which also stops COPY into the lake itself.
 * A Parquet extract (`--format parquet --output FILE`) is the one write, to the one file allowed.
 */
import { realpathSync } from "node:fs";
import path from "node:path";
import { StatementType, type DuckDBConnection, type DuckDBPreparedStatement } from "@duckdb/node-api";
import { CancelledError, DeadlineExceededError, UsageError } from "../core/errors.ts";
import { literal, toJsonValue } from "./sql-values.ts";
import { withWarehouse, type WarehouseOptions } from "./warehouse-gate.ts";

/** Statements a read-only query may be: DESCRIBE, SHOW and SUMMARIZE are SELECTs too. */
const READ_ONLY_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

/** What a locked-down session may touch besides the warehouse. */
export interface QuerySandbox {
  /** Directories whose files may be read (with a trailing separator: a prefix of whole names). */
  readDirectories: string[];
  /** The one file a Parquet extract may write, if any. */
  writeFile?: string;
}

/** The sandbox of a data directory: its lake, under both its given and its real path. */
export function lakeSandbox(dataDir: string): QuerySandbox {
  const lake = path.resolve(dataDir, "lake");
  const spellings = new Set([lake]);
  try {
    spellings.add(realpathSync(lake));
  } catch {
    // No lake yet: nothing to read there anyway.
  }
  // The lake views name their files relative to the data dir (file_search_path, so a moved data
  // dir reads its own lake), and DuckDB checks the path as written: "lake/" is allowed as such.
  // DuckDB normalizes ".." before the check, so "lake/../x" stays refused.
  return { readDirectories: [...[...spellings].map((d) => d + path.sep), `lake${path.sep}`] };
}

/**
 * Opens the warehouse read-only, locks the session down to `sandbox`, and runs `fn` on it.
 * Waits for loads like withWarehouse (options.onWait says so).
 */
export function withReadOnlyQuery<T>(dataDir: string, sandbox: QuerySandbox, fn: (conn: DuckDBConnection) => Promise<T>, options: WarehouseOptions = {}): Promise<T> {
  return withWarehouse(
    dataDir,
    "read",
    async (conn) => {
      await lockDown(conn, sandbox);
      return fn(conn);
    },
    options,
  );
}

/** Turns off every way out of the warehouse but `sandbox`, then locks the configuration. Order matters: the lists cannot change once access is off. */
export async function lockDown(conn: DuckDBConnection, sandbox: QuerySandbox): Promise<void> {
  const list = (items: string[]): string => `[${items.map(literal).join(", ")}]`;
  await conn.run("SET autoinstall_known_extensions = false");
  await conn.run("SET autoload_known_extensions = false");
  await conn.run(`SET allowed_directories = ${list(sandbox.readDirectories)}`);
  await conn.run(`SET allowed_paths = ${list(sandbox.writeFile ? [sandbox.writeFile] : [])}`);
  await conn.run("SET enable_external_access = false");
  await conn.run("SET lock_configuration = true");
}

/** A DuckDB error of the user's SQL: theirs to fix, so a UsageError; the sandbox's refusals say what it allows. */
function rejected(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  const sandboxed = /^Permission Error/.test(message);
  return new UsageError(`query failed: ${message}`, {
    cause: error,
    ...(sandboxed ? { hint: "sluice query reads the warehouse and the lake's files only, and writes nothing (extracts: --output FILE)" } : {}),
  });
}

/**
 * Prepares `sql` as exactly one read-only statement, running nothing: several statements are
 * refused as a whole (none of them runs), and so is anything but SELECT/EXPLAIN.
 */
export async function prepareReadOnly(conn: DuckDBConnection, sql: string, allowed: ReadonlySet<StatementType> = READ_ONLY_STATEMENTS): Promise<DuckDBPreparedStatement> {
  if (sql.trim() === "") throw new UsageError("query is empty", { hint: 'pass one SELECT, e.g. sluice query "select * from events limit 5"' });
  const statements = await conn.extractStatements(sql).catch((error: unknown) => Promise.reject(rejected(error)));
  if (statements.count === 0) throw new UsageError("query is empty", { hint: 'pass one SELECT, e.g. sluice query "select * from events limit 5"' });
  if (statements.count > 1) {
    throw new UsageError(`query has ${statements.count} statements; sluice query runs one at a time and ran none of them`, { hint: "run each SELECT with its own sluice query" });
  }
  const prepared = await statements.prepare(0).catch((error: unknown) => Promise.reject(rejected(error)));
  if (!allowed.has(prepared.statementType)) {
    const kind = StatementType[prepared.statementType] ?? String(prepared.statementType);
    prepared.destroySync();
    throw new UsageError(`sluice query is read-only: ${kind} statements are not allowed, only ${[...allowed].map((t) => StatementType[t]).join(" or ")}`, {
      hint: "to extract data to a file, use --format parquet --output FILE (or csv/json)",
    });
  }
  return prepared;
}

/** A read-only query under a time limit: its columns, then its rows in batches as they come. */
export class ReadOnlyQuery {
  private timedOut = false;
  private readonly timer: NodeJS.Timeout;
  private readonly deadline: number;

  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly sql: string,
    private readonly prepared: DuckDBPreparedStatement,
    private readonly limit: { timeoutMs: number; timeoutText: string; signal: AbortSignal | undefined },
  ) {
    this.deadline = Date.now() + limit.timeoutMs;
    // DuckDB stops a running query when interrupted; the batches check the deadline themselves too,
    // because a write to a slow consumer can hold the event loop past the timer.
    this.timer = setTimeout(() => {
      this.timedOut = true;
      conn.interrupt();
    }, limit.timeoutMs);
  }

  /** Prepares `sql` (one SELECT or EXPLAIN) and starts its clock. */
  static async start(conn: DuckDBConnection, sql: string, limit: { timeoutMs: number; timeoutText: string; signal?: AbortSignal }): Promise<ReadOnlyQuery> {
    const prepared = await prepareReadOnly(conn, sql);
    return new ReadOnlyQuery(conn, sql, prepared, { ...limit, signal: limit.signal });
  }

  /** True for EXPLAIN (its result is a plan to read, not rows). */
  get isExplain(): boolean {
    return this.prepared.statementType === StatementType.EXPLAIN;
  }

  get columns(): string[] {
    return Array.from({ length: this.prepared.columnCount }, (_, i) => this.prepared.columnName(i));
  }

  get types(): string[] {
    return Array.from({ length: this.prepared.columnCount }, (_, i) => this.prepared.columnType(i).toString());
  }

  /** The rows as JSON-friendly values, a DuckDB chunk (~2,048 rows) at a time, never all at once. */
  async *batches(): AsyncGenerator<unknown[][]> {
    const result = await this.prepared.stream().catch((error: unknown) => Promise.reject(this.failure(error)));
    for (;;) {
      this.throwIfStopped();
      const chunk = await result.fetchChunk().catch((error: unknown) => Promise.reject(this.failure(error)));
      // An interrupted stream ends like a finished one: only the flags tell them apart.
      if (!chunk || chunk.rowCount === 0) break;
      yield chunk.getRows().map((row) => row.map(toJsonValue));
    }
    this.throwIfStopped();
  }

  /** Writes the result to `file` as Parquet (the sandbox must allow that file); resolves to the rows written. */
  async copyToParquet(file: string): Promise<number> {
    const select = this.sql.trim().replace(/;+\s*$/, "");
    if (this.prepared.statementType !== StatementType.SELECT) throw new UsageError("--format parquet takes a SELECT");
    // Wrapped text is checked again: still one statement, a COPY, and the sandbox allows only `file`.
    const copy = await prepareReadOnly(this.conn, `COPY (\n${select}\n) TO ${literal(file)} (FORMAT parquet)`, new Set([StatementType.COPY]));
    try {
      const result = await copy.run().catch((error: unknown) => Promise.reject(this.failure(error)));
      this.throwIfStopped();
      return Number(result.rowsChanged);
    } finally {
      copy.destroySync();
    }
  }

  /** Stops the clock and frees the statement (call once, whatever happened). */
  close(): void {
    clearTimeout(this.timer);
    this.prepared.destroySync();
  }

  private throwIfStopped(): void {
    if (this.limit.signal?.aborted) throw new CancelledError("query cancelled");
    if (this.timedOut || Date.now() > this.deadline) {
      this.timedOut = true;
      throw new DeadlineExceededError(`the query ran longer than --timeout ${this.limit.timeoutText} and was stopped`, {
        hint: "loads wait while a query holds the warehouse: pass a longer --timeout only when no load needs it, or write big extracts with --format parquet --output FILE",
      });
    }
  }

  private failure(error: unknown): Error {
    try {
      this.throwIfStopped();
    } catch (stopped) {
      return stopped as Error;
    }
    return rejected(error);
  }
}

/**
 * The loader: the one process that opens the DuckDB warehouse. It consumes the warehouse queue
 * with concurrency 1, so every MERGE, run record and check-history read of every worker happens one
 * after the other, each as its own short open/close of the file (analysts can query in between).
 */
import path from "node:path";
import { Queue, Worker, type Job } from "bullmq";
import { SluiceError, UsageError, formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { LoadTransaction } from "../load/warehouse.ts";
import { readPartitionStatus, withWarehouse } from "../load/warehouse.ts";
import { localWarehouse } from "../pipeline/warehouse-gateway.ts";
import { decode, encode, encodeError, type Wire } from "./codec.ts";
import { LOADER_NAME, WAREHOUSE_QUEUE, closeWhileRedisAnswers, connectionFor, pingRedis, processLabel, resolveTuning, type QueueTuning } from "./connection.ts";
import { redact } from "./queue-url.ts";
import type { WarehouseOp, WarehouseReply } from "./warehouse-client.ts";

export interface LoaderOptions {
  queueUrl: string;
  dataDir: string;
  log: Logger;
  /** Stops the loader (after the operation in progress). */
  signal: AbortSignal;
  tuning?: Partial<QueueTuning>;
}

/** A running loader. */
export interface LoaderHandle {
  /** Finishes the operation in progress, then disconnects. */
  close(): Promise<void>;
  /** Operations executed so far. */
  readonly executed: number;
}

/** Starts the loader and returns once it consumes the warehouse queue; refuses when another loader is connected. */
export async function startLoader(options: LoaderOptions): Promise<LoaderHandle> {
  const tuning = resolveTuning(options.tuning);
  await pingRedis(options.queueUrl);
  const other = await connectedLoaders(options.queueUrl);
  if (other.length > 0) {
    throw new UsageError(`another loader is already serving ${redact(options.queueUrl)}: ${other.join(", ")}`, {
      hint: "there may be only one warehouse writer: stop it, or let it do the loads (run the backfill with --queue against it)",
    });
  }
  const log = options.log.child({ component: "loader" });
  // Stopping the loader lets the operation in progress finish (worker.close waits for it) rather
  // than interrupting a commit: operations get a signal of their own that never aborts.
  const opSignal = new AbortController().signal;
  const warehouse = localWarehouse(options.dataDir, { signal: opSignal, log });
  let executed = 0;
  const processor = async (job: Job): Promise<WarehouseReply> => {
    const op = decode(job.data as Wire) as WarehouseOp;
    const t0 = performance.now();
    try {
      const value = await execute(op, options.dataDir, warehouse, opSignal);
      log.debug({ op: op.op, ms: Math.round(performance.now() - t0) }, "warehouse operation done");
      return { ok: true, value: encode(value) };
    } catch (error) {
      // The requesting run decides what the error means (retry, fail); the operation itself is done.
      log.warn({ op: op.op, err: formatError(error) }, "warehouse operation failed");
      return { ok: false, error: encodeError(error) };
    } finally {
      executed++;
    }
  };
  const worker = new Worker(WAREHOUSE_QUEUE, processor, {
    connection: connectionFor(options.queueUrl),
    concurrency: 1,
    name: `${LOADER_NAME}@${processLabel()}`,
    lockDuration: tuning.lockDurationMs,
    stalledInterval: tuning.stalledIntervalMs,
    // A loader killed mid-operation: its DuckDB transaction rolled back, so running it again is safe.
    maxStalledCount: 2,
  });
  worker.on("error", (e) => log.warn({ err: e.message }, "loader queue connection error"));
  await worker.waitUntilReady();
  log.info({ queue: redact(options.queueUrl), data_dir: options.dataDir }, "loader started");
  let closing: Promise<void> | undefined;
  // Lets the operation in progress finish; bounded, and not waiting for a Redis that is gone.
  const close = (): Promise<void> =>
    (closing ??= closeWhileRedisAnswers(worker.close(), options.queueUrl, 60_000).then((clean) => {
      if (!clean) void worker.disconnect().catch(() => undefined);
      log.info({ executed }, "loader stopped");
    }));
  options.signal.addEventListener("abort", () => void close(), { once: true });
  return {
    close,
    get executed() {
      return executed;
    },
  };
}

/** Runs the loader until the signal aborts (`sluice loader`). */
export async function runLoader(options: LoaderOptions): Promise<void> {
  const handle = await startLoader(options);
  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await handle.close();
}

/** Loaders connected to the warehouse queue, as "host:pid" (from Redis' client list, via BullMQ). */
export async function connectedLoaders(queueUrl: string): Promise<string[]> {
  const queue = new Queue(WAREHOUSE_QUEUE, { connection: connectionFor(queueUrl) });
  try {
    const workers = await queue.getWorkers();
    const prefix = `:w:${LOADER_NAME}@`;
    return workers.map((w) => w["rawname"] ?? "").filter((n) => n.includes(prefix)).map((n) => n.slice(n.indexOf(prefix) + prefix.length));
  } finally {
    await queue.close();
  }
}

async function execute(op: WarehouseOp, dataDir: string, warehouse: ReturnType<typeof localWarehouse>, signal: AbortSignal): Promise<unknown> {
  switch (op.op) {
    case "startRun":
      return warehouse.startRun(op.run, op.tables);
    case "commit":
      return warehouse.commit(absolutePaths(op.tx, dataDir));
    case "fail":
      return warehouse.fail(absolutePaths(op.tx, dataDir));
    case "checkHistory":
      return warehouse.checkHistory(op.query);
    case "readMarks":
      return warehouse.readMarks(op.job);
    case "partitionStatus":
      return withWarehouse(dataDir, "read", (conn) => readPartitionStatus(conn, op.job ?? undefined), { signal });
    default:
      throw new SluiceError(`unknown warehouse operation ${JSON.stringify((op as { op: unknown }).op)}: is this loader older than the workers?`);
  }
}

/** Lake paths arrive relative to the data dir (see WarehouseClient); resolve them against ours. */
function absolutePaths(tx: LoadTransaction, dataDir: string): LoadTransaction {
  return { ...tx, loads: tx.loads.map((l) => ({ ...l, parquetPath: path.resolve(dataDir, l.parquetPath) })) };
}

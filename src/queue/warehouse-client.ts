/**
 * The warehouse as seen from a worker: every operation becomes a job on the warehouse queue, and
 * the one loader process executes them in order. Workers never open the DuckDB file.
 */
import path from "node:path";
import { Queue, QueueEvents, type Job } from "bullmq";
import { CancelledError, ServiceUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { SourceMark } from "../load/source-state.ts";
import type { RunRecord, TableSpec } from "../load/types.ts";
import type { LoadTransaction, PartitionStatusRow } from "../load/warehouse.ts";
import type { LoadCounts, RunStart, WarehouseGateway } from "../pipeline/warehouse-gateway.ts";
import type { CheckHistory, HistoryQuery } from "../validate/types.ts";
import { decode, decodeError, encode, type Wire, type WireError } from "./codec.ts";
import { WAREHOUSE_QUEUE, connectionFor, type QueueTuning } from "./connection.ts";
import { redact } from "./queue-url.ts";

/** One warehouse operation, as the loader receives it. Lake paths are relative to the data dir. */
export type WarehouseOp =
  | { op: "startRun"; run: RunRecord; tables: TableSpec[] }
  | { op: "commit"; tx: LoadTransaction }
  | { op: "fail"; tx: LoadTransaction }
  | { op: "checkHistory"; query: HistoryQuery }
  | { op: "partitionStatus"; job: string | null }
  | { op: "readMarks"; job: string };

/** The loader's answer: operations never fail as BullMQ jobs, errors travel as data with their class. */
export type WarehouseReply = { ok: true; value: Wire } | { ok: false; error: WireError };

/** Sends warehouse operations to the loader and waits for their results. */
export class WarehouseClient {
  private readonly queue: Queue;
  private readonly events: QueueEvents;

  constructor(
    private readonly queueUrl: string,
    private readonly dataDir: string,
    private readonly tuning: QueueTuning,
    private readonly log: Logger,
  ) {
    const connection = connectionFor(queueUrl);
    this.queue = new Queue(WAREHOUSE_QUEUE, { connection });
    this.events = new QueueEvents(WAREHOUSE_QUEUE, { connection });
    this.queue.on("error", (e) => log.warn({ err: e.message }, "warehouse queue connection error"));
    this.events.on("error", (e) => log.warn({ err: e.message }, "warehouse queue events connection error"));
  }

  /** Resolves once both connections are up. */
  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  /** A WarehouseGateway for runPartition whose calls go through the loader. */
  gateway(signal: AbortSignal): WarehouseGateway {
    return {
      startRun: async (run, tables) => (await this.call({ op: "startRun", run, tables }, signal)) as RunStart,
      commit: async (tx) => (await this.call({ op: "commit", tx: this.relativePaths(tx) }, signal)) as LoadCounts,
      // Like the local gateway: recording a failure must work even after the run's signal was aborted.
      fail: async (tx) => {
        await this.call({ op: "fail", tx: this.relativePaths(tx) });
      },
      checkHistory: async (query) => (await this.call({ op: "checkHistory", query }, signal)) as CheckHistory,
      readMarks: async (job) => (await this.call({ op: "readMarks", job }, signal)) as SourceMark[],
    };
  }

  /** The last run of every partition (of one job), read by the loader from sluice.runs. */
  async partitionStatus(job: string | null, signal?: AbortSignal): Promise<PartitionStatusRow[]> {
    return (await this.call({ op: "partitionStatus", job }, signal)) as PartitionStatusRow[];
  }

  /**
   * Queues one operation and waits for its result. Aborting, or no loader taking the operation up
   * within loaderWaitMs, withdraws it while it is still waiting; once the loader has taken it up
   * we wait for the result, so a commit is never left in doubt.
   */
  async call(op: WarehouseOp, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) throw new CancelledError(`cancelled before the warehouse ${op.op}`, { context: { stage: "warehouse" } });
    // BullMQ's job data type is `any`; the loader decodes it.
    const job: Job = await this.queue.add(op.op, encode(op), { attempts: 1, removeOnComplete: { age: 600, count: 1000 }, removeOnFail: { age: 24 * 3600 } });
    const id = job.id as string;
    const waiter = this.waitFor(id);
    let reply: WarehouseReply | undefined;
    let withdrawn: "cancelled" | "timeout" | undefined;
    try {
      for (;;) {
        const outcome = await raceFinished(waiter.result, signal, this.tuning.loaderWaitMs);
        if (outcome.kind === "finished") {
          reply = outcome.reply;
          break;
        }
        if (outcome.kind === "error") {
          throw new ServiceUnavailableError(`warehouse ${op.op} failed in the loader: ${outcome.message}`, { context: { stage: "warehouse" } });
        }
        // Withdraw the operation if the loader has not taken it up yet (remove() returns 0 when it is active).
        if ((await this.queue.remove(id)) === 1) {
          withdrawn = outcome.kind;
          break;
        }
        this.log.debug({ op: op.op, job_id: id }, "the loader is executing the operation: waiting for its result");
        if (outcome.kind === "cancelled") signal = undefined; // from now on wait for the result, however long
      }
    } finally {
      waiter.stop();
    }
    if (withdrawn === "cancelled") throw new CancelledError(`cancelled while waiting for the warehouse ${op.op}`, { context: { stage: "warehouse" } });
    if (!reply) {
      throw new ServiceUnavailableError(`no loader took up the warehouse ${op.op} within ${Math.round(this.tuning.loaderWaitMs / 1000)} s (queue ${redact(this.queueUrl)})`, {
        context: { stage: "warehouse" },
        hint: "run the loader: sluice backfill ... --queue (runs one while it waits) or sluice loader --queue ... on the warehouse's machine",
      });
    }
    if (!reply.ok) throw decodeError(reply.error);
    return decode(reply.value);
  }

  /**
   * The result of job `id`: from its completed/failed event, or from polling the job hash (an event
   * that fired before the listeners were attached is not lost that way).
   */
  private waitFor(id: string): { result: Promise<unknown>; stop: () => void } {
    let stop = (): void => undefined;
    const result = new Promise<unknown>((resolve, reject) => {
      const onCompleted = (args: { returnvalue: unknown }): void => finish(() => resolve(args.returnvalue));
      const onFailed = (args: { failedReason: string }): void => finish(() => reject(new Error(args.failedReason)));
      let stopped = false;
      const poll = setInterval(() => {
        void this.queue.getJob(id).then(
          (job) => {
            if (stopped) return;
            if (!job) finish(() => reject(new Error(`warehouse operation ${id} disappeared from the queue`)));
            else if (job.finishedOn && job.failedReason) finish(() => reject(new Error(job.failedReason)));
            else if (job.finishedOn) finish(() => resolve(job.returnvalue));
          },
          () => undefined, // Redis hiccup: the next poll or the event will tell
        );
      }, POLL_MS);
      const finish = (settle: () => void): void => {
        if (stopped) return;
        stop();
        settle();
      };
      stop = () => {
        stopped = true;
        clearInterval(poll);
        this.events.off(`completed:${id}` as "completed", onCompleted);
        this.events.off(`failed:${id}` as "failed", onFailed);
      };
      this.events.on(`completed:${id}` as "completed", onCompleted);
      this.events.on(`failed:${id}` as "failed", onFailed);
    });
    result.catch(() => undefined); // always observed by the caller's race; never unhandled
    return { result, stop: () => stop() };
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }

  /** Drops the connections at once (Redis gone: a clean close would wait for it). */
  disconnect(): void {
    void this.events.disconnect().catch(() => undefined);
    void this.queue.disconnect().catch(() => undefined);
  }

  /** Lake paths relative to the data dir, so the loader may mount the shared dir elsewhere. */
  private relativePaths(tx: LoadTransaction): LoadTransaction {
    return { ...tx, loads: tx.loads.map((l) => ({ ...l, parquetPath: relativeTo(this.dataDir, l.parquetPath) })) };
  }
}

function relativeTo(dataDir: string, file: string): string {
  const rel = path.relative(dataDir, file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** How often a waiting worker also polls the job (a safety net under the events stream). */
const POLL_MS = 2_000;

type Raced = { kind: "finished"; reply: WarehouseReply } | { kind: "error"; message: string } | { kind: "cancelled" } | { kind: "timeout" };

/** Waits for the job's result, the signal or the timeout, whichever comes first. */
function raceFinished(finished: Promise<unknown>, signal: AbortSignal | undefined, timeoutMs: number): Promise<Raced> {
  return new Promise<Raced>((resolve) => {
    const timer = setTimeout(() => done({ kind: "timeout" }), timeoutMs);
    const onAbort = (): void => done({ kind: "cancelled" });
    const done = (r: Raced): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(r);
    };
    if (signal?.aborted) return done({ kind: "cancelled" });
    signal?.addEventListener("abort", onAbort, { once: true });
    finished.then(
      (value) => done({ kind: "finished", reply: value as WarehouseReply }),
      (error: unknown) => done({ kind: "error", message: error instanceof Error ? error.message : String(error) }),
    );
  });
}

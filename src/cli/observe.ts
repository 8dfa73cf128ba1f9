/** After each partition: metrics and the run report; after each command: the textfile and the push. */
import { formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { RunMetrics, pushMetrics, writeMetricsTextfile } from "../metrics/index.ts";
import type { JobDefinition, ReportChart } from "../pipeline/job.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import { jobCharts, writeRunReport } from "../report/index.ts";

/** Observes the partitions of one command; reporting failures never change a run's outcome. */
export class RunObserver {
  private readonly metrics = new RunMetrics();
  /** Charts started while the warehouse commits (see startCharts), by partition. */
  private readonly early = new Map<string, Promise<ReportChart[] | null>>();

  constructor(
    private readonly dataDir: string,
    private readonly job: JobDefinition,
    private readonly log: Logger,
    private readonly pushgatewayUrl: string | undefined,
  ) {}

  /** Records a finished partition: metrics, and the HTML report of a run that happened. */
  async partition(outcome: PartitionOutcome): Promise<string | undefined> {
    this.metrics.observe(outcome);
    if (outcome.status === "skipped") return undefined;
    const charts = outcome.status === "succeeded" ? ((await this.early.get(outcome.dt)) ?? (await this.chartsOf(outcome.dt))) : [];
    this.early.delete(outcome.dt);
    try {
      return await writeRunReport(outcome, { dataDir: this.dataDir, charts });
    } catch (error) {
      this.log.warn({ err: formatError(error), dt: outcome.dt }, "could not write the run report");
      return undefined;
    }
  }

  /**
   * Computes partition `dt`'s charts from its lake files now, while the warehouse commits them
   * (~0.1 s at 1M events, on a main thread that waits for DuckDB). A failure here is not reported:
   * the run may still fail, and partition() computes them again.
   */
  startCharts(dt: string): void {
    const charts = jobCharts(this.job, this.dataDir, dt).catch(() => null);
    this.early.set(dt, charts);
  }

  /** The job's own charts; a failing hook (user code) costs the report its charts, not the report. */
  private async chartsOf(dt: string): Promise<ReportChart[]> {
    try {
      return await jobCharts(this.job, this.dataDir, dt);
    } catch (error) {
      this.log.warn({ err: formatError(error), dt }, "could not compute the report charts");
      return [];
    }
  }

  /** Writes <data-dir>/metrics/<job>.prom and pushes to the Pushgateway when one is configured. */
  async finish(signal?: AbortSignal): Promise<void> {
    try {
      await writeMetricsTextfile(this.dataDir, this.job.name, this.metrics);
    } catch (error) {
      this.log.warn({ err: formatError(error) }, "could not write the metrics textfile");
    }
    if (this.pushgatewayUrl) {
      await pushMetrics(this.pushgatewayUrl, this.job.name, this.metrics, signal).catch((error: unknown) =>
        this.log.warn({ err: formatError(error) }, "could not push metrics to the Pushgateway"),
      );
    }
  }
}

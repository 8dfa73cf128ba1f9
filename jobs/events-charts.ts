/**
 * The events job's charts in its run report, computed from the lake with Polars: sessions per UTC
 * hour of session_start, the session duration distribution (minutes), and events by event_type.
 */
import pl from "nodejs-polars";
import type { ChartsInput, ReportChart } from "../src/pipeline/job.ts";

/** Session duration buckets, in minutes: [lower, upper) with labels. */
const DURATION_BUCKETS: Array<{ upper: number; label: string }> = [
  { upper: 1, label: "<1" },
  { upper: 2, label: "1–2" },
  { upper: 5, label: "2–5" },
  { upper: 10, label: "5–10" },
  { upper: 15, label: "10–15" },
  { upper: 30, label: "15–30" },
  { upper: 60, label: "30–60" },
  { upper: 120, label: "60–120" },
  { upper: Number.POSITIVE_INFINITY, label: "≥120" },
];

/** The charts of day `dt`: those of the sessions partition, then that of the events partition, each when the lake has it. */
export async function eventsCharts({ dt, lake }: ChartsInput): Promise<ReportChart[]> {
  const [sessionsFile, eventsFile] = await Promise.all([lake.partitionFile("sessions", dt), lake.partitionFile("events", dt)]);
  const charts: ReportChart[] = [];
  if (sessionsFile !== null) {
    const sessions = pl.readParquet(sessionsFile, { columns: ["session_start", "duration_s"] }).lazy();
    charts.push(sessionsPerHour(sessions, dt), sessionDurations(sessions));
  }
  if (eventsFile !== null) charts.push(eventsByType(eventsFile, dt));
  return charts;
}

function sessionsPerHour(sessions: pl.LazyDataFrame, dt: string): ReportChart {
  const byHour = sessions
    .select(pl.col("session_start").dt.hour().cast(pl.Int32).alias("hour"))
    .groupBy("hour")
    .len()
    .collectSync();
  const perHour = new Array<number>(24).fill(0);
  // At most 24 aggregated rows: a plain loop is fine here.
  const hours = byHour.getColumn("hour").toArray() as Array<number | null>;
  const hourCounts = byHour.getColumn("len").toArray() as number[];
  hours.forEach((h, i) => {
    if (h !== null && h >= 0 && h < 24) perHour[h] = Number(hourCounts[i] ?? 0);
  });
  return {
    title: `Sessions per hour of session_start (UTC), ${dt}`,
    kind: "bar",
    labels: perHour.map((_, h) => String(h).padStart(2, "0")),
    values: perHour,
    xLabel: "hour (UTC)",
    yLabel: "sessions",
  };
}

function sessionDurations(sessions: pl.LazyDataFrame): ReportChart {
  const minutes = pl.col("duration_s").div(60);
  let bucket = pl.when(minutes.lt(DURATION_BUCKETS[0]?.upper ?? 1)).then(pl.lit(0));
  DURATION_BUCKETS.slice(1, -1).forEach((b, i) => {
    bucket = bucket.when(minutes.lt(b.upper)).then(pl.lit(i + 1));
  });
  const byBucket = sessions
    .filter(pl.col("duration_s").isNotNull())
    .select(bucket.otherwise(pl.lit(DURATION_BUCKETS.length - 1)).cast(pl.Int32).alias("bucket"))
    .groupBy("bucket")
    .len()
    .collectSync();
  const perBucket = new Array<number>(DURATION_BUCKETS.length).fill(0);
  const buckets = byBucket.getColumn("bucket").toArray() as number[];
  const bucketCounts = byBucket.getColumn("len").toArray() as number[];
  buckets.forEach((b, i) => {
    perBucket[b] = Number(bucketCounts[i] ?? 0);
  });
  return {
    title: "Session duration",
    kind: "histogram",
    labels: DURATION_BUCKETS.map((b) => b.label),
    values: perBucket,
    xLabel: "minutes",
    yLabel: "sessions",
  };
}

function eventsByType(eventsFile: string, dt: string): ReportChart {
  const byType = pl
    .readParquet(eventsFile, { columns: ["event_type"] })
    .lazy()
    .groupBy("event_type")
    .len()
    .sort({ by: ["len", "event_type"], descending: [true, false], nullsLast: true })
    .collectSync();
  return {
    title: `Events by event_type, ${dt}`,
    kind: "hbar",
    labels: (byType.getColumn("event_type").toArray() as Array<string | null>).map((t) => t ?? "(null)"),
    values: (byType.getColumn("len").toArray() as number[]).map(Number),
    xLabel: "events",
  };
}

/** A step's output as the run's record keeps it (schema, first rows, row count): frames, chunked frames, or named ones of either. */
import type pl from "nodejs-polars";
import { ChunkedFrame } from "./chunked-frame.ts";
import { isDataFrame } from "./frames.ts";
import type { StepRecord } from "./outcome.ts";
import type { RunState } from "./run-state.ts";

/** What a transform step may return. */
export type StepOutput = pl.DataFrame | ChunkedFrame | Record<string, pl.DataFrame> | Record<string, ChunkedFrame>;

/** Records a step's output; named outputs become one record each (`<step>: <name>`), sharing the step's time. */
export async function recordStep(state: RunState, step: Omit<StepRecord, "schema" | "head" | "rows">, out: StepOutput): Promise<void> {
  if (isDataFrame(out) || out instanceof ChunkedFrame) return recordOne(state, step, out);
  for (const [key, value] of Object.entries(out)) await recordOne(state, { ...step, name: `${step.name}: ${key}` }, value);
}

async function recordOne(state: RunState, step: Omit<StepRecord, "schema" | "head" | "rows">, out: pl.DataFrame | ChunkedFrame): Promise<void> {
  if (isDataFrame(out)) state.record(step, out);
  else state.record(step, await out.head()).rows = out.height;
}

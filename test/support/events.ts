/** Synthetic event types for tests, benchmarks and scripts, named by the contract (jobs/sources.ts). */
import { EVENT_TYPES } from "../../jobs/sources.ts";

/** One of the contract's event types. */
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * A list to draw event types from with a uniform index: each type repeated by its weight, in the
 * weights' order. The weights name every type, so a type added to the contract must be weighed here.
 */
export function weightedEventTypes(weights: Record<EventType, number>): EventType[] {
  return Object.entries(weights).flatMap(([type, weight]) => Array<EventType>(weight).fill(type as EventType));
}

/** The events frame's schema as a run report's step shows it (column, Polars dtype): a fresh copy per call. */
export function eventStepSchema(): Array<[string, string]> {
  return [
    ["event_id", "DataType(String)"],
    ["user_id", "DataType(Int64)"],
    ["ts", "DataType(Datetime(us,UTC))"],
    ["event_type", "DataType(String)"],
    ["page", "DataType(String)"],
    ["amount", "DataType(Float64)"],
  ];
}

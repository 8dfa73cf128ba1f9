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

/**
 * Events per day of the demo API for tests whose days are relative to today. The API dirties at
 * least one record of each dirty kind a day, so a day of ~100 events is over the default 5% decode
 * allowance on about a third of calendar days (CI failed on 2026-11-30 this way); at 500 even a day
 * whose every dirty record failed to decode stays inside it (test/demo-api.test.ts checks 2026-2030).
 */
export const EVENTS_PER_DAY_ANY_DATE = 500;

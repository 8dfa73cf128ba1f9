/** The built-in demo source API: a deterministic server of the source API contract and its data. */
export { startDemoApi } from "./server.ts";
export type { DemoApi, DemoApiStats } from "./server.ts";
export type { DemoApiOptions } from "./server-options.ts";
export { FAULT_KINDS } from "./faults.ts";
export type { FaultKind } from "./faults.ts";
export { parseRfc3339Micros } from "./rfc3339.ts";
export { DAY_ANOMALIES } from "./anomalies.ts";
export type { DayAnomaly } from "./anomalies.ts";
export { dayEvents, allUsers } from "./records.ts";
export type { UsersQuery } from "./records.ts";
export { clearDemoApiCache, demoApiCacheBytes } from "./cache.ts";
export { DIRTY_EVENT_KINDS, DIRTY_USER_KINDS, EVENT_TYPES } from "./vocabulary.ts";
export type { DirtyEventKind } from "./vocabulary.ts";
export type { DatasetOptions } from "./dataset.ts";

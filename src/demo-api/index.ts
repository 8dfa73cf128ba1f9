/** The built-in demo source API: a deterministic server of the source API contract and its data. */
export { startDemoApi, parseRfc3339Micros, FAULT_KINDS } from "./server.ts";
export type { DemoApi, DemoApiOptions, DemoApiStats, FaultKind } from "./server.ts";
export {
  dayEvents,
  allUsers,
  clearDemoApiCache,
  demoApiCacheBytes,
  DIRTY_EVENT_KINDS,
  DIRTY_USER_KINDS,
  EVENT_TYPES,
} from "./data.ts";
export type { DirtyEventKind, DatasetOptions } from "./data.ts";

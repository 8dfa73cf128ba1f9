/** What demo records may contain: event types, pages, clock offsets, countries, plans, and the dirty kinds. */

/** Every kind of dirty event record the contract warns about; each appears in a day of ~20,000 events. */
export const DIRTY_EVENT_KINDS = [
  "missing_event_id",
  "numeric_event_id",
  "missing_user_id",
  "null_user_id",
  "string_user_id",
  "fractional_user_id",
  "zero_user_id",
  "negative_user_id",
  "missing_ts",
  "unparseable_ts",
  "ts_outside_day",
  "unknown_event_type",
  "missing_event_type",
  "properties_not_object",
] as const;
export type DirtyEventKind = (typeof DIRTY_EVENT_KINDS)[number];

/** Dirty user records of the users snapshot. */
export const DIRTY_USER_KINDS = ["bad_country", "bad_plan", "null_user_id"] as const;

/** The contract's event types. A deliberate copy of jobs/sources.ts EVENT_TYPES: the engine's demo API never imports user code (jobs/). */
export const EVENT_TYPES = ["login", "view_page", "add_to_cart", "purchase", "logout"] as const;

export const LOGIN = 0;
export const VIEW = 1;
export const ADD = 2;
export const PURCHASE = 3;
export const LOGOUT = 4;

const STATIC_PAGES = [
  "/", "/pricing", "/features", "/docs", "/docs/getting-started", "/docs/api", "/blog",
  "/blog/launch-week", "/blog/how-we-scale", "/about", "/careers", "/contact", "/search",
  "/account", "/account/settings", "/cart", "/checkout", "/help", "/integrations", "/changelog",
];
export const PRODUCTS = 400;
export const PAGES = [...STATIC_PAGES, ...Array.from({ length: PRODUCTS }, (_, i) => `/product/${i + 1}`)];
export const PRODUCT_BASE = STATIC_PAGES.length;

export const OFFSETS = [
  "+00:00", "+01:00", "+02:00", "+03:00", "+05:30", "+07:00", "+09:00", "+10:00",
  "-03:00", "-05:00", "-06:00", "-08:00", "-05:30", "+05:45", "-09:30",
] as const;
export const OFFSET_MINUTES = OFFSETS.map((s) => (s[0] === "-" ? -1 : 1) * (Number(s.slice(1, 3)) * 60 + Number(s.slice(4, 6))));
/** Offset index meaning "print as Z". */
export const OFF_Z = 255;
/** Odd device clocks (offsets no country of ours uses). */
export const ODD_OFFSETS = [12, 13, 14];

/** Countries with a market weight and the offsets their clocks report (indexes into OFFSETS). */
export const COUNTRIES: Array<[code: string, weight: number, offsets: number[]]> = [
  ["US", 22, [9, 11, 10]], ["DE", 9, [1, 2]], ["GB", 7, [0, 1]], ["FR", 6, [1, 2]], ["IN", 7, [4]],
  ["BR", 5, [8]], ["JP", 4, [6]], ["CA", 4, [9, 11]], ["ES", 3, [1, 2]], ["IT", 3, [1, 2]],
  ["NL", 3, [1, 2]], ["PL", 2, [1, 2]], ["SE", 2, [1, 2]], ["MX", 3, [10]], ["AU", 3, [7]],
  ["KR", 2, [6]], ["CH", 1, [1, 2]], ["AT", 1, [1, 2]], ["BE", 1, [1, 2]], ["NG", 2, [1]],
  ["ZA", 1, [2]], ["AR", 1, [8]], ["ID", 2, [5]], ["TR", 1, [3]],
];
export const COUNTRY_WEIGHT_TOTAL = COUNTRIES.reduce((s, c) => s + c[1], 0);

/** The contract's plans. A deliberate copy of jobs/sources.ts PLANS, for the same reason as EVENT_TYPES. */
export const PLANS = ["free", "pro", "enterprise"] as const;

/** Formatting helpers of the report: HTML escaping, numbers, durations, and guards for step details. */
import type { CheckResult } from "../validate/types.ts";

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function plural(n: number, noun: string): string {
  return `${formatInt(n)} ${noun}${n === 1 ? "" : "s"}`;
}

export function formatMaybeInt(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? formatInt(v) : "—";
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? formatInt(n) : n.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

/** 850 ms, 1.2 s, 1m 02s, 1h 02m. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, "0")}s`;
  return `${Math.floor(total / 3600)}h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")}m`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isCheckResult(value: unknown): value is CheckResult {
  return isRecord(value) && typeof value["check"] === "string" && typeof value["passed"] === "boolean" && Array.isArray(value["columns"]) && Array.isArray(value["sample"]);
}

/** JSON safe inside a <script> element: no "</script>", no "<!--", no U+2028/2029 surprises. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

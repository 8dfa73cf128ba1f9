/**
 * Polars expressions built once and shared. nodejs-polars allocates a heavy JS object per
 * expression node (~1 ms of CPU each), which every small partition, and every chunk of a streamed
 * day, would pay again for the same few nodes. Expressions are immutable, so sharing is safe.
 */
import type pl from "nodejs-polars";

const aliases = new WeakMap<pl.Expr, Map<string, pl.Expr>>();
const byKey = new Map<string, pl.Expr>();
/** Keys are made of check and column names: a bound only against a process that sees unbounded suites. */
const MAX_KEYS = 4096;

/** `expr.alias(name)`, built once per expression object and name. */
export function aliasOnce(expr: pl.Expr, name: string): pl.Expr {
  let named = aliases.get(expr);
  if (!named) aliases.set(expr, (named = new Map()));
  let out = named.get(name);
  if (!out) named.set(name, (out = expr.alias(name)));
  return out;
}

/** The expression `key` names, built by `build` the first time. */
export function exprOnce(key: string, build: () => pl.Expr): pl.Expr {
  let out = byKey.get(key);
  if (!out) {
    if (byKey.size >= MAX_KEYS) byKey.clear();
    byKey.set(key, (out = build()));
  }
  return out;
}

/**
 * Paths into JSON bodies, declared three ways: dotted ("paging.next.after"), as a list of keys for
 * keys that hold dots (["@odata.nextLink"]), or as a JSON Pointer ("/paging/next/after").
 * Reading distinguishes "absent" from null: an absent next pointer may be a mistyped path.
 */
import { z } from "zod";
/**
 * Where a value sits in a JSON body: a dotted path ("meta.next_cursor"), the list of keys when a
 * key holds a dot (["@odata.nextLink"]), or a JSON Pointer ("/paging/next/after"). "" is the body.
 */
export type JsonPath = string | readonly string[];

/** How a declared path is checked. */
export const jsonPathSchema = z.union([z.string(), z.array(z.string().min(1)).min(1)]);

/** The keys of a declared path. */
export function pathKeys(path: JsonPath): readonly string[] {
  if (typeof path !== "string") return path;
  if (path === "" || path === ".") return [];
  if (path.startsWith("/")) return path.slice(1).split("/").map((k) => k.replaceAll("~1", "/").replaceAll("~0", "~"));
  return path.split(".");
}

/** How a path reads in messages: as declared. */
export function showPath(path: JsonPath): string {
  return typeof path === "string" ? JSON.stringify(path) : JSON.stringify([...path]);
}

/** What lies at a path: `present` false means some key on the way is missing (null is present). */
export interface PathValue {
  present: boolean;
  value: unknown;
}

/**
 * Reads `path` in `json`. A dotted path whose keys are missing but whose whole text is a literal
 * key of the object ("@odata.nextLink") reads that key: the trap of dlt issue 2505.
 */
export function readPath(json: unknown, path: JsonPath): PathValue {
  const keys = pathKeys(path);
  let v: unknown = json;
  for (const key of keys) {
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, key)) {
      if (typeof path === "string" && keys.length > 1 && isObject(json) && Object.hasOwn(json, path)) return { present: true, value: json[path] };
      return { present: false, value: undefined };
    }
    v = (v as Record<string, unknown>)[key];
  }
  return { present: true, value: v };
}

/** The value at a path, undefined when absent. */
export function getPath(json: unknown, path: JsonPath): unknown {
  return readPath(json, path).value;
}

/** Sets `value` at `path` in a plain object, creating objects on the way (request bodies). */
export function setPath(target: Record<string, unknown>, path: JsonPath, value: unknown): void {
  const keys = pathKeys(path);
  if (keys.length === 0) throw new Error("cannot set the root of a body");
  let obj = target;
  for (const key of keys.slice(0, -1)) {
    const next = obj[key];
    if (!isObject(next)) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[keys[keys.length - 1] as string] = value;
}

/** The top-level keys of a body, for messages that say what the body does have. */
export function describeKeys(json: unknown): string {
  if (Array.isArray(json)) return "(the body is an array)";
  if (!isObject(json)) return `(the body is ${json === null ? "null" : typeof json})`;
  const keys = Object.keys(json);
  return keys.length === 0 ? "(no keys)" : keys.map((k) => JSON.stringify(k)).join(", ");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A next token in the body (`next_cursor`), sent back as a query parameter. */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { pathKeys } from "../json-path.ts";
import { BasePaginator, NextPointer, SeenSet, buildUrl, loopError, requestedPageSize, saysEnd, saysNoMore, shorten, type PageView, type Position, type RawPage, type RequestTemplate } from "./paginator.ts";
import { scanLastKeyValue } from "./scan.ts";
import type { JsonPath } from "../json-path.ts";

/** JSON next token in the body, sent back as query param `param`. */
export interface CursorPaginator {
  kind: "cursor";
  /** Path of the next cursor; null/""/absent-at-the-end ends the listing. */
  nextPath: JsonPath;
  param: string;
  /** Path of a has_more-style flag: false ends the listing whatever the cursor says. */
  hasMorePath?: JsonPath;
  /** Path of an end-of-stream flag: true ends the listing (Zendesk's end_of_stream). */
  endPath?: JsonPath;
  /** The API drops the cursor key on its last page: absence ends the listing even on a full page. */
  absentAtEnd?: boolean;
}

/** How the declaration of a CursorPaginator is checked. */
export const CURSOR_SCHEMA = z.strictObject({ kind: z.literal("cursor"), nextPath: jsonPathSchema, param: z.string().min(1), hasMorePath: jsonPathSchema.optional(), endPath: jsonPathSchema.optional(), absentAtEnd: z.boolean().optional() });

export class CursorListing extends BasePaginator {
  readonly kind = "cursor" as const;
  private readonly seen = new SeenSet();
  private readonly pointer: NextPointer;

  constructor(
    private readonly spec: CursorPaginator,
    template: RequestTemplate,
  ) {
    super(template);
    this.pointer = new NextPointer(spec.nextPath, "next cursor", spec.absentAtEnd ? undefined : requestedPageSize(template));
  }

  start(): Position {
    return { kind: "cursor", cursor: null };
  }

  override urlFor(pos: Position): string {
    const cursor = pos["cursor"];
    const { base, params } = this.template;
    return cursor === null || cursor === undefined ? buildUrl(base, params) : buildUrl(base, { ...params, [this.spec.param]: cursor });
  }

  next(pos: Position, page: PageView): Position | null {
    if (saysNoMore(page.json, this.spec.hasMorePath) || saysEnd(page.json, this.spec.endPath)) return null;
    const cursor = this.pointer.read(page);
    if (cursor === null) return null;
    if (pos["cursor"] === cursor) throw loopError(`cursor "${shorten(cursor)}" was returned twice`, page.pageNo);
    this.seen.claim(cursor, "cursor", page.pageNo);
    return { kind: "cursor", cursor };
  }

  override speculate(raw: RawPage): Position | undefined {
    const key = pathKeys(this.spec.nextPath).at(-1);
    if (key === undefined) return undefined;
    const v = scanLastKeyValue(raw.body, key);
    return typeof v === "string" && v !== "" && !this.seen.has(v) ? { kind: "cursor", cursor: v } : undefined;
  }

  override visited(pos: Position): void {
    const cursor = pos["cursor"];
    if (typeof cursor === "string") this.seen.add(cursor);
  }
}

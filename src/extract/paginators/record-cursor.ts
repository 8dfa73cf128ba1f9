/** Stripe's pagination: `starting_after=<id of the last record>` while `has_more` is true. */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { PaginationError } from "../../core/errors.ts";
import { describeKeys, readPath, showPath } from "../json-path.ts";
import { BasePaginator, SeenSet, buildUrl, type PageView, type Position, type RequestTemplate } from "./paginator.ts";
import type { JsonPath } from "../json-path.ts";

/** Stripe's style: the cursor is a field of the last record (`starting_after=<id>`), a has_more flag stops. */
/** Stripe's style: the cursor is a field of the last record, a has_more flag stops. */
export interface RecordCursorPaginator {
  kind: "record_cursor";
  /** Field of the last record whose value is the next cursor, e.g. "id". */
  field: JsonPath;
  /** Query parameter that takes it, e.g. "starting_after". */
  param: string;
  /** Path of the flag that says whether more records exist, e.g. "has_more". */
  hasMorePath: JsonPath;
}

/** How the declaration of a RecordCursorPaginator is checked. */
export const RECORD_CURSOR_SCHEMA = z.strictObject({ kind: z.literal("record_cursor"), field: jsonPathSchema, param: z.string().min(1), hasMorePath: jsonPathSchema });

export class RecordCursorListing extends BasePaginator {
  readonly kind = "record_cursor" as const;
  private readonly seen = new SeenSet();

  constructor(
    private readonly spec: RecordCursorPaginator,
    template: RequestTemplate,
  ) {
    super(template);
  }

  start(): Position {
    return { kind: "record_cursor", cursor: null };
  }

  override urlFor(pos: Position): string {
    const cursor = pos["cursor"];
    const { base, params } = this.template;
    return cursor === null || cursor === undefined ? buildUrl(base, params) : buildUrl(base, { ...params, [this.spec.param]: cursor });
  }

  next(_pos: Position, page: PageView): Position | null {
    const more = readPath(page.json, this.spec.hasMorePath);
    if (!more.present) {
      throw new PaginationError(`the has-more flag at ${showPath(this.spec.hasMorePath)} is absent from page ${page.pageNo}; the body has the keys ${describeKeys(page.json)}`, {
        hint: "declare hasMorePath as the API sends it (Stripe: \"has_more\")",
      });
    }
    if (more.value !== true && more.value !== "true") return null;
    const last = page.records.at(-1);
    const field = readPath(last, this.spec.field);
    if (page.records.length === 0 || (typeof field.value !== "string" && typeof field.value !== "number")) {
      throw new PaginationError(`page ${page.pageNo} says there are more records, but its last record has no ${showPath(this.spec.field)} to continue from`);
    }
    const cursor = String(field.value);
    this.seen.claim(cursor, `last record ${showPath(this.spec.field)}`, page.pageNo);
    return { kind: "record_cursor", cursor };
  }

  override visited(pos: Position): void {
    const cursor = pos["cursor"];
    if (typeof cursor === "string") this.seen.add(cursor);
  }
}

/** The next cursor in a response header (e.g. `x-next-cursor`), sent back as a query parameter. */
import { z } from "zod";
import { BasePaginator, SeenSet, buildUrl, type PageView, type Position, type RawPage, type RequestTemplate } from "./paginator.ts";

/** The next cursor in a response header, sent back as query param `param`. */
export interface HeaderCursorPaginator {
  kind: "header_cursor";
  header: string;
  param: string;
}

/** How the declaration of a HeaderCursorPaginator is checked. */
export const HEADER_CURSOR_SCHEMA = z.strictObject({ kind: z.literal("header_cursor"), header: z.string().min(1), param: z.string().min(1) });

export class HeaderCursorListing extends BasePaginator {
  readonly kind = "header_cursor" as const;
  private readonly seen = new SeenSet();

  constructor(
    private readonly spec: HeaderCursorPaginator,
    template: RequestTemplate,
  ) {
    super(template);
  }

  start(): Position {
    return { kind: "header_cursor", cursor: null };
  }

  override urlFor(pos: Position): string {
    const cursor = pos["cursor"];
    const { base, params } = this.template;
    return cursor === null || cursor === undefined ? buildUrl(base, params) : buildUrl(base, { ...params, [this.spec.param]: cursor });
  }

  next(_pos: Position, page: PageView): Position | null {
    const cursor = this.cursorOf(page.headers);
    if (cursor === undefined) return null;
    this.seen.claim(cursor, `cursor in header ${this.spec.header}`, page.pageNo);
    return { kind: "header_cursor", cursor };
  }

  override speculate(raw: RawPage): Position | undefined {
    const cursor = this.cursorOf(raw.headers);
    return cursor === undefined || this.seen.has(cursor) ? undefined : { kind: "header_cursor", cursor };
  }

  override visited(pos: Position): void {
    const cursor = pos["cursor"];
    if (typeof cursor === "string") this.seen.add(cursor);
  }

  private cursorOf(headers: PageView["headers"]): string | undefined {
    const raw = headers[this.spec.header.toLowerCase()];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    return value ? value : undefined;
  }
}

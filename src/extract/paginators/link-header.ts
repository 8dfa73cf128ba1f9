/** RFC 8288 Link header pagination: follow rel="next" until there is none. */
import { z } from "zod";
import { BasePaginator, SeenSet, buildUrl, type PageView, type Position, type RawPage, type RequestTemplate } from "./paginator.ts";
import { nextLink } from "./link-header-parse.ts";

/** RFC 8288 Link header pagination: follow rel="next" until there is none. */
export interface LinkHeaderPaginator {
  kind: "link";
}

/** How the declaration of a LinkHeaderPaginator is checked. */
export const LINK_SCHEMA = z.strictObject({ kind: z.literal("link") });

export class LinkHeaderListing extends BasePaginator {
  readonly kind = "link" as const;
  private readonly seen = new SeenSet();

  constructor(template: RequestTemplate) {
    super(template);
    this.seen.add(buildUrl(template.base, template.params));
  }

  start(): Position {
    return { kind: "link", url: null };
  }

  override urlFor(pos: Position): string {
    const url = pos["url"];
    return typeof url === "string" ? url : buildUrl(this.template.base, this.template.params);
  }

  next(_pos: Position, page: PageView): Position | null {
    const link = nextLink(page.headers["link"], page.url);
    if (link === undefined) return null;
    const url = this.withoutSecrets(link);
    this.seen.claim(url, "next link", page.pageNo);
    return { kind: "link", url };
  }

  override speculate(raw: RawPage): Position | undefined {
    // the next link is in the headers: known before the body is parsed
    const link = nextLink(raw.headers["link"], raw.url);
    if (link === undefined) return undefined;
    const url = this.withoutSecrets(link);
    return this.seen.has(url) ? undefined : { kind: "link", url };
  }

  override visited(pos: Position): void {
    const url = pos["url"];
    if (typeof url === "string") this.seen.add(url);
  }
}

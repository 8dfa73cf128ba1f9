/** A next URL in the body (`next`, `links.next`, `["@odata.nextLink"]`), absolute or relative to the page. */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { pathKeys } from "../json-path.ts";
import { BasePaginator, NextPointer, SeenSet, buildUrl, requestedPageSize, saysEnd, type PageView, type Position, type RawPage, type RequestTemplate } from "./paginator.ts";
import { scanLastKeyValue } from "./scan.ts";
import type { JsonPath } from "../json-path.ts";

/** A next URL (absolute or relative) in the body: `next`, `links.next`, `["@odata.nextLink"]`. */
/** A next URL (absolute or relative) in the body. */
export interface NextUrlPaginator {
  kind: "next_url";
  nextPath: JsonPath;
  /** Path of an end-of-stream flag: true ends the listing (Zendesk's end_of_stream). */
  endPath?: JsonPath;
  /** The API drops the next URL on its last page (Graph's @odata.nextLink): absence ends the listing even on a full page. */
  absentAtEnd?: boolean;
}

/** How the declaration of a NextUrlPaginator is checked. */
export const NEXT_URL_SCHEMA = z.strictObject({ kind: z.literal("next_url"), nextPath: jsonPathSchema, endPath: jsonPathSchema.optional(), absentAtEnd: z.boolean().optional() });

export class NextUrlListing extends BasePaginator {
  readonly kind = "next_url" as const;
  private readonly seen = new SeenSet();
  private readonly pointer: NextPointer;

  constructor(
    private readonly spec: NextUrlPaginator,
    template: RequestTemplate,
  ) {
    super(template);
    this.pointer = new NextPointer(spec.nextPath, "next URL", spec.absentAtEnd ? undefined : requestedPageSize(template));
    this.seen.add(buildUrl(template.base, template.params));
  }

  start(): Position {
    return { kind: "next_url", url: null };
  }

  override urlFor(pos: Position): string {
    const url = pos["url"];
    return typeof url === "string" ? url : buildUrl(this.template.base, this.template.params);
  }

  next(_pos: Position, page: PageView): Position | null {
    if (saysEnd(page.json, this.spec.endPath)) return null;
    const next = this.pointer.read(page);
    if (next === null) return null;
    const url = this.withoutSecrets(new URL(next, page.url).href);
    this.seen.claim(url, "next URL", page.pageNo);
    return { kind: "next_url", url };
  }

  override speculate(raw: RawPage): Position | undefined {
    const keys = pathKeys(this.spec.nextPath);
    const key = typeof this.spec.nextPath === "string" && keys.length > 1 && raw.body.includes(JSON.stringify(this.spec.nextPath)) ? this.spec.nextPath : keys.at(-1);
    if (key === undefined) return undefined;
    const v = scanLastKeyValue(raw.body, key);
    if (typeof v !== "string" || v === "") return undefined;
    try {
      const url = this.withoutSecrets(new URL(v, raw.url).href);
      return this.seen.has(url) ? undefined : { kind: "next_url", url };
    } catch {
      return undefined;
    }
  }

  override visited(pos: Position): void {
    const url = pos["url"];
    if (typeof url === "string") this.seen.add(url);
  }
}

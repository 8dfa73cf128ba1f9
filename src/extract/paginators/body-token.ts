/** A page token carried in a JSON request body (search endpoints: HubSpot's `after`). */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { pathKeys, setPath } from "../json-path.ts";
import { BasePaginator, NextPointer, SeenSet, requestedPageSize, type PageRequest, type PageView, type Position, type RawPage, type RequestTemplate } from "./paginator.ts";
import { scanLastKeyValue } from "./scan.ts";
import type { JsonPath } from "../json-path.ts";

/** A page token in a JSON request body (search endpoints): read at `nextPath`, sent at `bodyPath`. */
export interface BodyTokenPaginator {
  kind: "body_token";
  nextPath: JsonPath;
  /** Key path in the request body that carries the token, e.g. "after". */
  bodyPath: JsonPath;
  /** The API drops the token on its last page (HubSpot's paging): absence ends the listing even on a full page. */
  absentAtEnd?: boolean;
}

/** How the declaration of a BodyTokenPaginator is checked. */
export const BODY_TOKEN_SCHEMA = z.strictObject({ kind: z.literal("body_token"), nextPath: jsonPathSchema, bodyPath: jsonPathSchema, absentAtEnd: z.boolean().optional() });

export class BodyTokenListing extends BasePaginator {
  readonly kind = "body_token" as const;
  private readonly seen = new SeenSet();
  private readonly pointer: NextPointer;

  constructor(
    private readonly spec: BodyTokenPaginator,
    template: RequestTemplate,
  ) {
    super(template);
    this.pointer = new NextPointer(spec.nextPath, "next page token", spec.absentAtEnd ? undefined : requestedPageSize(template));
  }

  start(): Position {
    return { kind: "body_token", token: null };
  }

  override request(pos: Position): PageRequest {
    const body: Record<string, unknown> = structuredClone(this.template.body ?? {});
    const token = pos["token"];
    if (token !== null && token !== undefined) setPath(body, this.spec.bodyPath, token);
    return { method: "POST", url: this.urlFor(pos), body };
  }

  next(_pos: Position, page: PageView): Position | null {
    const token = this.pointer.read(page);
    if (token === null) return null;
    this.seen.claim(token, "page token", page.pageNo);
    return { kind: "body_token", token };
  }

  override speculate(raw: RawPage): Position | undefined {
    const key = pathKeys(this.spec.nextPath).at(-1);
    if (key === undefined) return undefined;
    const v = scanLastKeyValue(raw.body, key);
    return typeof v === "string" && v !== "" && !this.seen.has(v) ? { kind: "body_token", token: v } : undefined;
  }

  override visited(pos: Position): void {
    const token = pos["token"];
    if (typeof token === "string") this.seen.add(token);
  }
}

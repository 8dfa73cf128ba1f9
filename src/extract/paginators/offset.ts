/** Offset/limit pagination; parallel pages when the API reports its total. */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { BasePaginator, SameBodyGuard, buildUrl, numberAt, saysNoMore, type PageView, type ParallelPlan, type Position, type RequestTemplate } from "./paginator.ts";
import type { JsonPath } from "../json-path.ts";

/** Offset/limit pagination: stops on `offset >= total`, a has_more flag, an empty page or a short page. */
export interface OffsetPaginator {
  kind: "offset";
  offsetParam: string;
  limitParam: string;
  limit: number;
  /** Path of the total count, when the API reports it (enables parallel pages). */
  totalPath?: JsonPath;
  hasMorePath?: JsonPath;
}

/** How the declaration of a OffsetPaginator is checked. */
export const OFFSET_SCHEMA = z.strictObject({ kind: z.literal("offset"), offsetParam: z.string().min(1), limitParam: z.string().min(1), limit: z.number().int().positive(), totalPath: jsonPathSchema.optional(), hasMorePath: jsonPathSchema.optional() });

// Shaped like page-number.ts on purpose: a class per paginator, each readable on its own.
export class OffsetListing extends BasePaginator {
  readonly kind = "offset" as const;
  private readonly bodies = new SameBodyGuard("offset");

  constructor(
    private readonly spec: OffsetPaginator,
    template: RequestTemplate,
  ) {
    super(template);
  }

  start(): Position {
    return { kind: "offset", offset: 0 };
  }

  override urlFor(pos: Position): string {
    const offset = typeof pos["offset"] === "number" ? pos["offset"] : 0;
    const limit = typeof pos["limit"] === "number" ? pos["limit"] : this.spec.limit;
    return buildUrl(this.template.base, { ...this.template.params, [this.spec.offsetParam]: offset, [this.spec.limitParam]: limit });
  }

  next(pos: Position, page: PageView): Position | null {
    const n = page.records.length;
    if (n === 0 || saysNoMore(page.json, this.spec.hasMorePath)) return null;
    const offset = typeof pos["offset"] === "number" ? pos["offset"] : 0;
    const limit = typeof pos["limit"] === "number" ? pos["limit"] : undefined;
    const nextOffset = offset + n; // not + limit: a server may cap the page size
    const more: Position = { kind: "offset", offset: nextOffset, ...(limit === undefined ? {} : { limit }) };
    const total = numberAt(page.json, this.spec.totalPath);
    if (total !== undefined) return nextOffset >= total ? null : more;
    if (this.spec.hasMorePath === undefined && n < (limit ?? this.spec.limit)) return null;
    return more;
  }

  override planParallel(first: PageView): ParallelPlan | null {
    const total = numberAt(first.json, this.spec.totalPath);
    if (total === undefined) return null;
    const n = first.records.length;
    if (n === 0 || n >= total) return { pages: 1, pageSize: Math.max(1, n) };
    // a first page shorter than asked while more exist: the server caps the page size
    const pageSize = n < this.spec.limit ? n : this.spec.limit;
    return { pages: Math.ceil(total / pageSize), pageSize };
  }

  override positionOfPage(pageNo: number, plan: ParallelPlan): Position {
    return { kind: "offset", offset: (pageNo - 1) * plan.pageSize, limit: plan.pageSize };
  }

  override guard(page: PageView): void {
    this.bodies.check(page);
  }
}

/** Page-number pagination; parallel pages when the API reports the number of pages. */
import { z } from "zod";
import { jsonPathSchema } from "../json-path.ts";
import { BasePaginator, SameBodyGuard, buildUrl, numberAt, saysNoMore, type PageView, type ParallelPlan, type Position, type RequestTemplate } from "./paginator.ts";
import type { JsonPath } from "../json-path.ts";

/** Page-number pagination: stops after the total number of pages, a has_more flag or an empty page. */
export interface PageNumberPaginator {
  kind: "page";
  pageParam: string;
  /** First page number, usually 1. */
  firstPage: number;
  sizeParam?: string;
  size?: number;
  /** Path of the total number of pages, when the API reports it (enables parallel pages). */
  totalPagesPath?: JsonPath;
  hasMorePath?: JsonPath;
}

/** How the declaration of a PageNumberPaginator is checked. */
export const PAGE_SCHEMA = z.strictObject({ kind: z.literal("page"), pageParam: z.string().min(1), firstPage: z.number().int().min(0), sizeParam: z.string().min(1).optional(), size: z.number().int().positive().optional(), totalPagesPath: jsonPathSchema.optional(), hasMorePath: jsonPathSchema.optional() });

// Shaped like offset.ts on purpose: a class per paginator, each readable on its own.
export class PageNumberListing extends BasePaginator {
  readonly kind = "page" as const;
  private readonly bodies = new SameBodyGuard("page number");

  constructor(
    private readonly spec: PageNumberPaginator,
    template: RequestTemplate,
  ) {
    super(template);
  }

  start(): Position {
    return { kind: "page", page: this.spec.firstPage };
  }

  override urlFor(pos: Position): string {
    const page = typeof pos["page"] === "number" ? pos["page"] : this.spec.firstPage;
    const size = this.spec.sizeParam !== undefined && this.spec.size !== undefined ? { [this.spec.sizeParam]: this.spec.size } : {};
    return buildUrl(this.template.base, { ...this.template.params, [this.spec.pageParam]: page, ...size });
  }

  next(pos: Position, page: PageView): Position | null {
    const current = pos["page"];
    if (page.records.length === 0 || typeof current !== "number" || saysNoMore(page.json, this.spec.hasMorePath)) return null;
    const totalPages = numberAt(page.json, this.spec.totalPagesPath);
    if (totalPages !== undefined && current - this.spec.firstPage + 1 >= totalPages) return null;
    return { kind: "page", page: current + 1 };
  }

  override planParallel(first: PageView): ParallelPlan | null {
    const totalPages = numberAt(first.json, this.spec.totalPagesPath);
    if (totalPages === undefined) return null;
    return { pages: Math.max(1, first.records.length === 0 ? 1 : totalPages), pageSize: this.spec.size ?? first.records.length };
  }

  override positionOfPage(pageNo: number): Position {
    return { kind: "page", page: this.spec.firstPage + pageNo - 1 };
  }

  override guard(page: PageView): void {
    this.bodies.check(page);
  }
}

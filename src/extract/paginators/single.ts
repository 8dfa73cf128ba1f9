/** One request, one page: endpoints that are not paginated. */
import { z } from "zod";
import { BasePaginator, type Position } from "./paginator.ts";

/** One request, one page. */
export interface SinglePagePaginator {
  kind: "single";
}

/** How the declaration of a SinglePagePaginator is checked. */
export const SINGLE_SCHEMA = z.strictObject({ kind: z.literal("single") });

export class SinglePage extends BasePaginator {
  readonly kind = "single" as const;

  start(): Position {
    return { kind: "single" };
  }

  next(): Position | null {
    return null;
  }
}

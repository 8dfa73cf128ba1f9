/**
 * The paginators, by kind. A new paginator is one file in this folder (its declared spec, the zod
 * schema of that spec, and its class) plus one line in PAGINATORS below.
 */
import { z } from "zod";
import { BODY_TOKEN_SCHEMA, BodyTokenListing, type BodyTokenPaginator } from "./body-token.ts";
import { CURSOR_SCHEMA, CursorListing, type CursorPaginator } from "./cursor.ts";
import { HEADER_CURSOR_SCHEMA, HeaderCursorListing, type HeaderCursorPaginator } from "./header-cursor.ts";
import { LINK_SCHEMA, LinkHeaderListing, type LinkHeaderPaginator } from "./link-header.ts";
import { NEXT_URL_SCHEMA, NextUrlListing, type NextUrlPaginator } from "./next-url.ts";
import { OFFSET_SCHEMA, OffsetListing, type OffsetPaginator } from "./offset.ts";
import { PAGE_SCHEMA, PageNumberListing, type PageNumberPaginator } from "./page-number.ts";
import type { Paginator, RequestTemplate } from "./paginator.ts";
import { RECORD_CURSOR_SCHEMA, RecordCursorListing, type RecordCursorPaginator } from "./record-cursor.ts";
import { SINGLE_SCHEMA, SinglePage, type SinglePagePaginator } from "./single.ts";

export * from "./paginator.ts";
export { parseLinkHeader, nextLink, type LinkValue } from "./link-header-parse.ts";
export { scanLastKeyValue } from "./scan.ts";
export type {
  BodyTokenPaginator,
  CursorPaginator,
  HeaderCursorPaginator,
  LinkHeaderPaginator,
  NextUrlPaginator,
  OffsetPaginator,
  PageNumberPaginator,
  RecordCursorPaginator,
  SinglePagePaginator,
};

/** Every declarable paginator. */
export type PaginatorSpec =
  | CursorPaginator
  | RecordCursorPaginator
  | NextUrlPaginator
  | LinkHeaderPaginator
  | HeaderCursorPaginator
  | OffsetPaginator
  | PageNumberPaginator
  | BodyTokenPaginator
  | SinglePagePaginator;

type Factory<K extends PaginatorSpec["kind"]> = (spec: Extract<PaginatorSpec, { kind: K }>, template: RequestTemplate) => Paginator;

/** kind -> how its declaration is checked, and how it is built. */
const PAGINATORS: { [K in PaginatorSpec["kind"]]: { schema: z.ZodType; create: Factory<K> } } = {
  cursor: { schema: CURSOR_SCHEMA, create: (s, t) => new CursorListing(s, t) },
  record_cursor: { schema: RECORD_CURSOR_SCHEMA, create: (s, t) => new RecordCursorListing(s, t) },
  next_url: { schema: NEXT_URL_SCHEMA, create: (s, t) => new NextUrlListing(s, t) },
  link: { schema: LINK_SCHEMA, create: (_s, t) => new LinkHeaderListing(t) },
  header_cursor: { schema: HEADER_CURSOR_SCHEMA, create: (s, t) => new HeaderCursorListing(s, t) },
  offset: { schema: OFFSET_SCHEMA, create: (s, t) => new OffsetListing(s, t) },
  page: { schema: PAGE_SCHEMA, create: (s, t) => new PageNumberListing(s, t) },
  body_token: { schema: BODY_TOKEN_SCHEMA, create: (s, t) => new BodyTokenListing(s, t) },
  single: { schema: SINGLE_SCHEMA, create: (_s, t) => new SinglePage(t) },
};

/** The declared paginator kinds. */
export const PAGINATOR_KINDS = Object.keys(PAGINATORS) as Array<PaginatorSpec["kind"]>;

/** The zod schema of a paginator declaration of `kind`, or undefined for an unknown kind. */
export function paginatorSchema(kind: string): z.ZodType | undefined {
  return (PAGINATORS as Record<string, { schema: z.ZodType }>)[kind]?.schema;
}

/** The paginator of a spec, bound to one request template. */
export function paginatorFor(spec: PaginatorSpec, template: RequestTemplate): Paginator {
  const entry = PAGINATORS[spec.kind] as { create: (s: PaginatorSpec, t: RequestTemplate) => Paginator };
  return entry.create(spec, template);
}

/** A GET paginator over `base` with `params` (tests and simple callers). */
export function createPaginator(spec: PaginatorSpec, base: string, params: Record<string, string | number>): Paginator {
  const stringParams = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
  return paginatorFor(spec, { method: spec.kind === "body_token" ? "POST" : "GET", base, params: stringParams, secretParams: [] });
}

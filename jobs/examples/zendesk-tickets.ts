/**
 * Zendesk-style incremental export: every ticket change since the last run, `after_url` pages until
 * `end_of_stream`, whose `after_cursor` is the mark the next run continues from (the first run
 * starts at the partition's day); Basic `email/token`.
 */
import { z } from "zod";
import { defineJob, defineSource, defineSuite, tableFromRecord } from "../../src/index.ts";

const Ticket = z.object({
  id: z.int(),
  subject: z.string(),
  status: z.enum(["new", "open", "pending", "hold", "solved", "closed", "deleted"]),
  priority: z.string().nullable(),
  requester_id: z.int(),
  tags: z.array(z.string()),
  custom_fields: z.array(z.object({ id: z.int(), value: z.unknown() })),
  created_at: z.iso.datetime({ offset: true }),
  updated_at: z.iso.datetime({ offset: true }),
});

const tickets = defineSource({
  name: "tickets",
  baseUrl: { env: "ZENDESK_URL" }, // https://<subdomain>.zendesk.com
  path: "/api/v2/incremental/tickets/cursor.json",
  params: (w, from) => (from.cursor === undefined ? { start_time: w.startEpoch } : { cursor: from.cursor }),
  auth: { kind: "basic", username: { env: "ZENDESK_EMAIL", suffix: "/token" }, password: { env: "ZENDESK_API_TOKEN" } },
  records: "tickets",
  paginator: { kind: "next_url", nextPath: "after_url", endPath: "end_of_stream" },
  schema: Ticket,
  incremental: { cursorPath: "after_cursor" },
});

/** The latest version of every ticket (the export repeats a ticket each time it changes); a deleted ticket's row is deleted. */
export const TICKETS = { ...tableFromRecord(Ticket, { name: "zendesk_tickets", key: ["id"], partitioned: false, versionColumn: "updated_at" }), deleteWhen: { column: "status", equals: "deleted" } };

const suite = defineSuite({ table: TICKETS, checks: [{ name: "id: not_null", kind: "not_null", column: "id" }] });

// Shaped like jobs/users.ts on purpose: each job reads top to bottom on its own (extract, validate, latest version, materialize).
export default defineJob({
  name: "zendesk_tickets",
  description: "Zendesk ticket changes since the last run (an incremental export), latest version per ticket.",
  tables: [TICKETS],
  async run(ctx) {
    const raw = await ctx.extract(tickets);
    const valid = await ctx.validate(raw, suite);
    const latest = await ctx.step("latest version per ticket", () => valid.sort("updated_at", true).unique({ subset: ["id"], keep: "first", maintainOrder: true }));
    await ctx.materialize(TICKETS, latest);
  },
});

/** Query parameters and response shape shared by the list endpoints (offset paging, newest first). */
import { z } from "zod";

/** ISO-8601 time or epoch milliseconds. */
export const timeParam = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const n = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isNaN(n)) {
      ctx.addIssue({ code: "custom", message: "expected an ISO-8601 time or epoch milliseconds" });
      return z.NEVER;
    }
    return n;
  });

export const listQuery = z.strictObject({
  since: timeParam.optional().describe("Only records at or after this time (ISO-8601 or epoch ms)"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const pageSchema = z.object({
  items: z.array(z.looseObject({})),
  limit: z.number(),
  offset: z.number(),
  next_offset: z.number().nullable().describe("Offset of the next page, or null on the last one"),
});

export function page(items: Record<string, unknown>[], limit: number, offset: number) {
  return { items, limit, offset, next_offset: items.length === limit ? offset + limit : null };
}

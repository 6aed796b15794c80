/**
 * The frame every extractor runs in: a collector, an array body taken as several requests' worth of items
 * (within the budget), and a last-resort guard so that `extract` never throws, whatever the body.
 */
import { Collector } from "./collector.ts";
import type { ExtractOptions, ExtractResult } from "./types.ts";

export type BodyVisitor = (c: Collector, body: unknown, path: string, ipFields: readonly string[]) => void;

export function runExtractor(
  kind: string,
  body: unknown,
  options: ExtractOptions,
  defaultFields: readonly string[],
  visit: BodyVisitor,
  opts: { arrays?: boolean } = {},
): ExtractResult {
  const c = new Collector(kind, options);
  const fields = options.ipFields?.length ? options.ipFields : defaultFields;
  try {
    if (Array.isArray(body) && opts.arrays !== false) c.each(body, "", (b, p) => visit(c, b, p, fields));
    else visit(c, body, "", fields);
  } catch (e) {
    // A bug, not the input's fault; still never thrown at the webhook handler: what was found is kept.
    c.reject(
      null,
      "(body)",
      `internal error while reading the body: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const r = c.result();
  if (!r.alerts.length && !r.rejected.length) {
    r.rejected.push({
      value: null,
      path: "(body)",
      reason: "nothing to read: no alert, hit or address in the body",
    });
  }
  return r;
}

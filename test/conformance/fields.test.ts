/**
 * Parsers that declare their fields (ParserDefinition.fields) must not make an event with any other field:
 * replay skips the events of actions no rule can read, and decides that from these lists, so a field missing
 * from a list would hide events from a rule that reads it. Every event the parsers make from the corpora (the
 * fail2ban sample logs in ../shared/ when present, the bundled sample log, the inputs of the rule test cases)
 * is checked against its parser's list.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { SecurityEvent } from "../../src/core/event.ts";
import { readCase } from "../../src/detect/casefile.ts";
import { LineFramer } from "../../src/framing/framer.ts";
import { Zone } from "../../src/framing/zone.ts";
import { ParserSet } from "../../src/parsers/dispatch.ts";
import { PARSERS } from "../../src/parsers/registry.ts";
import { COMMON_FIELDS } from "../../src/parsers/types.ts";
import { SHARED_MISSING, repoRoot, sharedDir } from "../support/shared.ts";

/** The full paths of an event's leaf values (arrays are leaves: `event.category`, `related.user`). */
function leaves(v: unknown, prefix: string, out: Set<string>): void {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined) out.add(prefix);
}

function corpora(): { name: string; lines: string[] }[] {
  const out: { name: string; lines: string[] }[] = [];
  const shared = sharedDir();
  if (shared) {
    const dir = join(shared, "conformance", "fail2ban-logs");
    for (const f of readdirSync(dir).filter((f) => f !== "COPYING")) {
      out.push({ name: `fail2ban-logs/${f}`, lines: readFileSync(join(dir, f), "utf8").split("\n") });
    }
  } else {
    console.log(`fields: ${SHARED_MISSING}; checking the bundled sample and the rule cases only`);
  }
  out.push({
    name: "samples/auth.log",
    lines: readFileSync(join(repoRoot, "samples", "auth.log"), "utf8").split("\n"),
  });
  for (const dir of [join(repoRoot, "rules", "tests"), join(repoRoot, "test", "rules", "cases")]) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
      out.push({ name: f, lines: readCase(join(dir, f)).input.split("\n") });
    }
  }
  return out;
}

test("parsers that declare their fields make no event with another field", () => {
  const declared = PARSERS.filter((d) => d.fields);
  assert.ok(declared.length >= 2, "sshd and pam declare their fields");
  const seen = new Map<string, number>();
  // Each undeclared field once, with the first line that made it.
  const problems = new Map<string, string>();
  const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2026, 11, 31) };
  for (const { name, lines } of corpora()) {
    const framer = new LineFramer(time);
    const parsers = new ParserSet({ time, allActions: true });
    lines.forEach((line, i) => {
      if (line.startsWith("#")) return;
      const frame = framer.frame(line);
      if (!frame) return;
      const events: SecurityEvent[] = [];
      parsers.parse(frame, events);
      for (const e of events) {
        e.log = { file: { path: name, line: i + 1 } };
        const def = declared.find((d) => d.id === e.event.dataset);
        if (!def) continue;
        seen.set(def.id, (seen.get(def.id) ?? 0) + 1);
        const allowed = new Set([...COMMON_FIELDS, ...def.fields!]);
        const paths = new Set<string>();
        leaves(e, "", paths);
        for (const p of paths) {
          const key = `${def.id}: ${p}`;
          if (!allowed.has(p) && !problems.has(key)) problems.set(key, `${key} (${name}:${i + 1})`);
        }
      }
    });
  }
  for (const d of declared) assert.ok((seen.get(d.id) ?? 0) > 0, `no ${d.id} event in the corpora`);
  console.log(
    `fields: ${[...seen].map(([id, n]) => `${n} ${id} events`).join(", ")} checked against their declarations`,
  );
  assert.deepEqual([...problems.values()], [], "fields missing from the parsers' `fields` lists");
});

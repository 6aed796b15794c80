/**
 * The ufw story's detection, done by Portcullis: Filebeat's ECS documents (system module, auth fileset) judged by
 * the Kibana query of the story, as is (`event.dataset: "system.auth" and system.auth.ssh.event: "Failed"`), in a
 * threshold rule grouped by source.ip (>= 10 in 5 minutes). The documents come from
 * ../shared/conformance/siem-payloads/ecs-filebeat-system-auth.json, replayed as JSON lines at a burst rate.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCase } from "../../src/detect/casefile.ts";
import { SHARED_MISSING, sharedDir } from "../support/shared.ts";

const shared = sharedDir();
if (!shared && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);
const dir = mkdtempSync(join(tmpdir(), "portcullis-kql-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  "the Kibana query of the ufw story works unchanged on Filebeat ECS documents",
  { skip: shared ? false : SHARED_MISSING },
  async () => {
    const docs = JSON.parse(
      readFileSync(join(shared!, "conformance", "siem-payloads", "ecs-filebeat-system-auth.json"), "utf8"),
    ) as Record<string, unknown>[];
    const failed = docs.filter(
      (d) => (d.system as { auth?: { ssh?: { event?: string } } } | undefined)?.auth?.ssh?.event === "Failed",
    );
    assert.ok(failed.length >= 1, "the fixture has Failed documents");
    // Ten failures in 90 seconds from the fixture's first Failed document (its address and fields, new times).
    const base = Date.parse("2024-07-02T08:15:01.000Z");
    const lines = Array.from({ length: 10 }, (_, i) =>
      JSON.stringify({ ...failed[0], "@timestamp": new Date(base + i * 10_000).toISOString() }),
    );
    // Documents that must not count: an Invalid user event, and a success.
    const other = docs.filter(
      (d) => (d.system as { auth?: { ssh?: { event?: string } } } | undefined)?.auth?.ssh?.event !== "Failed",
    );
    const ip = (failed[0]!.source as { ip: string }).ip;
    const caseFile = join(dir, "kibana.yaml");
    writeFileSync(
      caseFile,
      JSON.stringify({
        description: "Kibana query on Filebeat documents",
        rules: [
          {
            id: "kibana-ssh-failed",
            type: "threshold",
            query: 'event.dataset: "system.auth" and system.auth.ssh.event: "Failed"',
            group_by: ["source.ip"],
            threshold: 10,
            window: "5m",
            response: "ban",
            attack: ["T1110.001"],
          },
        ],
        input: [...lines, ...other.map((d) => JSON.stringify(d))].join("\n"),
        expect: {
          alerts: [
            {
              rule: "kibana-ssh-failed",
              group: { "source.ip": ip },
              count: 10,
              at: new Date(base + 90_000).toISOString(),
            },
          ],
          decisions: [{ "source.ip": ip, at: new Date(base + 90_000).toISOString() }],
        },
      }),
    );
    const r = await runCase(caseFile);
    assert.deepEqual(r.problems, []);
  },
);

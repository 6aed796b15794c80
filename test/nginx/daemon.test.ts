/**
 * The daemon live behind a real nginx (Debian package nginx-light on loopback, its own error log): the file
 * source tails nginx's error log while requests make nginx write complete-looking lines naming VICTIM (see
 * test/support/nginx.ts). The daemon (real pipeline, policy, SQLite store, the `command` responder driving the
 * stand-in firewall of test/support/fake-firewall.mjs) must ban nobody for them, and say what it left unread.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { validateConfig } from "../../src/config/load.ts";
import { SystemClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { Daemon } from "../../src/daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../../src/daemon/plugins.ts";
import { fakeFirewall, until } from "../support/daemon.ts";
import { sendForgeries, startNginx } from "../support/nginx.ts";

const VICTIM = "198.51.100.7";

test("a daemon tailing nginx's error log bans nobody for lines forged through paths and user names", async () => {
  const nginx = await startNginx();
  const fw = join(nginx.dir, "fw.json");
  const config = validateConfig(
    {
      data_dir: join(nginx.dir, "data"),
      timezone: "UTC",
      // Small batches: the file source must still hand each record over in one batch.
      sources: [
        { type: "file", paths: [nginx.errorLog], start: "beginning", poll_interval: "50ms", batch_lines: 3 },
      ],
      responders: [{ type: "command", name: "fakefw", ...fakeFirewall(fw) }],
      policy: { allow_admin_sessions: false },
      api: { listen: "127.0.0.1:0" },
    },
    "nginx-daemon.yaml",
    REGISTRIES,
  );
  const logger = memoryLogger();
  const d = new Daemon({ config, clock: SystemClock, logger, plugins: FACTORIES });
  await d.start();
  try {
    await sendForgeries(nginx, VICTIM);
    const total = readFileSync(nginx.errorLog, "utf8").split("\n").length - 1;
    await until("every line of nginx's error log read", () => d.pipeline.counters.lines >= total, 30_000);
    assert.ok(d.pipeline.counters.forged >= 13 + 14 + 12 + 10 + 8, JSON.stringify(d.pipeline.counters));
    const decisions = await d.store.activeDecisions(SystemClock.now());
    assert.deepEqual(
      decisions.filter((x) => x.target.startsWith("198.51.100.")),
      [],
    );
    const firewall = existsSync(fw) ? (JSON.parse(readFileSync(fw, "utf8")) as Record<string, number>) : {};
    assert.equal(firewall[VICTIM], undefined);
    assert.equal((await d.store.listAlerts({ sourceIp: VICTIM })).length, 0);
    const said = logger.records.filter(
      (r) => r.level === "warn" && String(r.msg).includes("nginx error record"),
    );
    assert.ok(said.length >= 6, JSON.stringify(said));
  } finally {
    await d.stop();
    nginx.stop();
  }
});

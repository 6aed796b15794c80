/**
 * The shipped deployment (deploy/): the example configs load, the two systemd units say what docs/deploy.md
 * promises and agree with each other and with the configs, and systemd itself accepts them
 * (`systemd-analyze verify`) with a low exposure score (`systemd-analyze security --offline=yes`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { loadConfigFile } from "../config/load.ts";
import { REGISTRIES } from "../daemon/plugins.ts";
import { loadEnforcerConfig } from "./config.ts";

const deploy = fileURLToPath(new URL("../../deploy/", import.meta.url));
const units = join(deploy, "systemd");
const read = (f: string) => readFileSync(join(units, f), "utf8");

/** `Key=value` lines of a unit (comments dropped); repeated keys keep every value. */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const daemon = directives(read("portcullis.service"));
const enforcer = directives(read("portcullis-enforcer.service"));
const one = (d: Map<string, string[]>, key: string) => d.get(key)?.at(-1);

describe("deploy/: example configs", () => {
  it("enforcer.yaml and portcullis.yaml load, and point at the same socket and responder", () => {
    const e = loadEnforcerConfig(join(deploy, "enforcer.yaml"));
    const d = loadConfigFile(join(deploy, "portcullis.yaml"), REGISTRIES);
    const via = d.responders.find((r) => r.type === "enforcer")?.config as {
      socket: string;
      responder: string;
    };
    assert.ok(via, "the daemon's example bans through the enforcer");
    assert.equal(via.socket, e.raw.socket);
    assert.ok(
      e.responders.some((r) => r.name === via.responder),
      `${via.responder} is not in enforcer.yaml`,
    );
    assert.equal(e.raw.allow_teardown, false);
    assert.equal(e.raw.group, one(enforcer, "Group"), "the socket's group is the enforcer unit's group");
    assert.equal(one(daemon, "Group"), e.raw.group, "the daemon's group may connect");
  });
});

describe("deploy/systemd: units", () => {
  it("the daemon runs unprivileged and hardened", () => {
    assert.equal(one(daemon, "User"), "portcullis");
    assert.equal(one(daemon, "SupplementaryGroups"), "adm systemd-journal");
    assert.equal(one(daemon, "CapabilityBoundingSet"), "");
    assert.equal(one(daemon, "NoNewPrivileges"), "yes");
    assert.equal(one(daemon, "ProtectSystem"), "strict");
    assert.equal(one(daemon, "StateDirectory"), "portcullis");
    assert.equal(one(daemon, "ReadWritePaths"), "/var/lib/portcullis");
    assert.equal(one(daemon, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert.equal(one(daemon, "Restart"), "on-failure");
    assert.equal(one(daemon, "SystemCallFilter"), "@system-service");
    // V8's JIT writes code pages: W^X would stop Node at start
    assert.equal(daemon.has("MemoryDenyWriteExecute"), false);
    // /run/portcullis is the enforcer's: declaring it here would delete the socket whenever the daemon stops
    assert.equal(daemon.has("RuntimeDirectory"), false);
    assert.match(one(daemon, "ExecStart")!, /portcullis run --config \/etc\/portcullis\/portcullis\.yaml$/);
    assert.match(one(daemon, "After")!, /portcullis-enforcer\.service/);
  });

  it("the enforcer keeps CAP_NET_ADMIN only and owns the socket directory", () => {
    assert.equal(one(enforcer, "CapabilityBoundingSet"), "CAP_NET_ADMIN");
    assert.equal(one(enforcer, "RuntimeDirectory"), "portcullis");
    assert.equal(one(enforcer, "RuntimeDirectoryMode"), "0750");
    assert.equal(one(enforcer, "NoNewPrivileges"), "yes");
    assert.equal(one(enforcer, "ProtectSystem"), "strict");
    assert.equal(one(enforcer, "PrivateNetwork"), "no");
    assert.equal(one(enforcer, "IPAddressDeny"), "any");
    assert.equal(enforcer.has("MemoryDenyWriteExecute"), false);
    assert.match(
      one(enforcer, "ExecStart")!,
      /portcullis enforcer --config \/etc\/portcullis\/enforcer\.yaml$/,
    );
    assert.match(read("portcullis.tmpfiles.conf"), /^f \/run\/xtables\.lock 0600 root root -$/m);
  });

  const analyze = spawnSync("sh", ["-c", "command -v systemd-analyze && command -v unshare"]).status === 0;
  const skip = !analyze
    ? "systemd-analyze not installed"
    : process.getuid?.() !== 0
      ? "needs root (a private mount namespace provides /usr/bin/portcullis for ExecStart= checks)"
      : false;
  const tmp = mkdtempSync(join(tmpdir(), "pcl-units-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /**
   * Runs systemd-analyze in a private mount namespace where /usr/bin also holds a stand-in `portcullis`
   * (an overlay of /usr/bin; the host's /usr/bin is not changed), since verify checks that ExecStart= exists.
   */
  function systemdAnalyze(args: string[]): { code: number | null; out: string } {
    writeFileSync(join(tmp, "portcullis"), "#!/bin/sh\n");
    chmodSync(join(tmp, "portcullis"), 0o755);
    const script =
      'mount -t overlay overlay -o "lowerdir=$1:/usr/bin" /usr/bin && shift && exec systemd-analyze "$@"';
    const r = spawnSync(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", script, "sh", tmp, ...args],
      {
        cwd: units,
        encoding: "utf8",
      },
    );
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  it("systemd-analyze verify accepts both units", { skip }, () => {
    const r = systemdAnalyze(["verify", "./portcullis.service", "./portcullis-enforcer.service"]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), "", "no warnings");
  });

  it("systemd-analyze security --offline: exposure stays low (daemon < 2, enforcer < 2.5)", { skip }, (t) => {
    for (const [unit, max] of [
      ["portcullis.service", 2],
      ["portcullis-enforcer.service", 2.5],
    ] as const) {
      const r = systemdAnalyze(["security", "--offline=yes", `./${unit}`]);
      const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.out);
      assert.ok(m, r.out);
      t.diagnostic(`${unit}: exposure ${m[1]}`);
      assert.ok(Number(m[1]) < max, `${unit}: exposure ${m[1]}\n${r.out}`);
    }
  });
});

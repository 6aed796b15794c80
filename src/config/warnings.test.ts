import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseYamlDocs } from "../core/yaml.ts";
import { REGISTRIES } from "../daemon/plugins.ts";
import { loadConfigFile } from "./load.ts";
import { configWarnings } from "./warnings.ts";

const tmp = mkdtempSync(join(tmpdir(), "portcullis-config-warnings-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function warnings(name: string, lines: string[], rules = ["ssh-brute-force"]): string {
  const file = join(tmp, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  chmodSync(file, 0o640);
  const c = loadConfigFile(file, REGISTRIES);
  const located = parseYamlDocs(readFileSync(file, "utf8")).docs[0];
  return configWarnings(c, located, new Set(rules))
    .map((w) => `${w.path}: ${w.message}`)
    .join("\n");
}

test("a safe configuration has no warning", () => {
  const secret = join(tmp, "secret");
  writeFileSync(secret, "0123456789abcdef0123\n", { mode: 0o600 });
  chmodSync(secret, 0o600);
  const text = warnings("safe.yaml", [
    "sources: [{ type: journald }]",
    "responders: [{ type: nftables }]",
    "policy:",
    "  allowlist: [203.0.113.0/24, 2001:DB8:42::/48]",
    "  rules: { ssh-brute-force: { duration: 1h } }",
    `api: { signatures: { secret_file: ${secret} } }`,
  ]);
  assert.equal(text, "");
});

test("an empty allowlist while bans are enforced, and no source at all, are warned about", () => {
  const text = warnings("empty.yaml", ["responders: [{ type: nftables }]", "policy:", "  allowlist: []"]);
  assert.match(text, /empty\.yaml:1 sources: no source/);
  assert.match(text, /empty\.yaml:3 policy\.allowlist: empty while bans are enforced/);
  // In dry run nothing is enforced: no allowlist warning.
  const dry = warnings("dry.yaml", [
    "sources: [{ type: journald }]",
    "responders: [{ type: nftables }]",
    "policy: { dry_run: true }",
  ]);
  assert.equal(dry, "");
});

test("allowlist entries covering everything or with host bits set, unknown policy.rules ids", () => {
  const text = warnings("wide.yaml", [
    "sources: [{ type: journald }]",
    "policy:",
    "  allowlist:",
    "    - 0.0.0.0/0",
    '    - "::/0"',
    "    - 10.0.0.1/8",
    "  rules:",
    "    ssh-brute-forse: { duration: 1h }",
  ]);
  assert.match(text, /wide\.yaml:4 policy\.allowlist\[0\]: allowlists every IPv4 address/);
  assert.match(text, /wide\.yaml:5 policy\.allowlist\[1\]: allowlists every IPv6 address/);
  assert.match(
    text,
    /wide\.yaml:6 policy\.allowlist\[2\]: 10\.0\.0\.1\/8 has host bits set: it allowlists all of 10\.0\.0\.0\/8/,
  );
  assert.match(
    text,
    /wide\.yaml:8 policy\.rules\.ssh-brute-forse: no rule in use has the id "ssh-brute-forse"/,
  );
});

test("a network written in another spelling (leading zeros, uncompressed or mapped IPv6) has no host bits", () => {
  const text = warnings("spelled.yaml", [
    "sources: [{ type: journald }]",
    "policy:",
    '  allowlist: [2001:0db8::/32, "2001:db8:0:0::/64", 192.168.001.0/24, "::ffff:10.0.0.0/104", 2001:0db8::1/32]',
  ]);
  assert.doesNotMatch(text, /allowlist\[[0-3]\]/);
  assert.match(
    text,
    /allowlist\[4\]: 2001:0db8::1\/32 has host bits set: it allowlists all of 2001:db8::\/32/,
  );
});

test("a secret file readable by everyone or missing, and a world-writable configuration, are warned about", () => {
  const secret = join(tmp, "open-secret");
  writeFileSync(secret, "0123456789abcdef0123\n");
  chmodSync(secret, 0o644);
  const text = warnings("secrets.yaml", [
    "sources:",
    "  - type: splunk",
    "    url: https://splunk.example:8089",
    "    search: index=auth",
    `    auth: { type: token, token: { file: ${join(tmp, "absent")} } }`,
    `api: { signatures: { secret_file: ${secret} } }`,
  ]);
  assert.match(
    text,
    /secrets\.yaml:6 api\.signatures\.secret_file: .*open-secret holds a secret and is readable by every user/,
  );
  assert.match(text, /secrets\.yaml:5 sources\[0\]\.auth\.token\.file: .*absent does not exist/);
  const file = join(tmp, "secrets.yaml");
  chmodSync(file, 0o666);
  const c = loadConfigFile(file, REGISTRIES);
  assert.ok(configWarnings(c, undefined, new Set()).some((w) => /writable by every user/.test(w.message)));
});

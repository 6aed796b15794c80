/**
 * Configurations that load but are probably not what was meant, or are unsafe: `portcullis config check` prints
 * them as warnings (exit 0), each at its file:line. Errors are load.ts's; these never stop the daemon.
 */
import { statSync } from "node:fs";
import type { Issue } from "../core/errors.ts";
import { parseCidr, type Cidr } from "../core/ip.ts";
import { keyAt, type LocatedDoc, type Path } from "../core/yaml.ts";
import type { LoadedConfig } from "./load.ts";

/** `ruleIds`: the ids of the rules the configuration enables. */
export function configWarnings(
  c: LoadedConfig,
  located: LocatedDoc | undefined,
  ruleIds: ReadonlySet<string>,
): Issue[] {
  const at = (path: Path) => keyAt(c.file, located, path);
  const out: Issue[] = [];
  const { policy, api } = c.raw;
  if (!c.sources.length) {
    out.push({ path: at(["sources"]), message: "no source: no log is read (only API and SIEM alerts ban)" });
  }
  if (c.responders.length && !policy.dry_run && !policy.allowlist.length) {
    out.push({
      path: at(["policy", "allowlist"]),
      message:
        "empty while bans are enforced: put the networks you administer this host from in it, or a ban may " +
        "lock you out (docs/deploy.md, step 4)",
    });
  }
  policy.allowlist.forEach((entry, i) => {
    const cidr = parseCidr(entry);
    if (cidr?.prefix === 0) {
      out.push({
        path: at(["policy", "allowlist", i]),
        message: `allowlists every IPv${cidr.family} address: none is ever banned`,
      });
    } else if (cidr && hasHostBits(entry, cidr)) {
      out.push({
        path: at(["policy", "allowlist", i]),
        message: `${entry} has host bits set: it allowlists all of ${cidr.text} (write that, or the address alone)`,
      });
    }
  });
  for (const id of Object.keys(policy.rules)) {
    if (ruleIds.has(id)) continue;
    out.push({
      path: at(["policy", "rules", id]),
      message: `no rule in use has the id "${id}" (portcullis rules list): it applies only to SIEM alerts of that rule`,
    });
  }
  const secrets: [Path, string][] = [];
  if (api.signatures.secret_file !== undefined) {
    secrets.push([["api", "signatures", "secret_file"], api.signatures.secret_file]);
  }
  c.sources.forEach((s, i) => {
    const auth = (s.config as { auth?: { token?: { file?: string }; password?: { file?: string } } }).auth;
    const key = auth?.token ? "token" : "password";
    const file = auth?.[key]?.file;
    if (file !== undefined) secrets.push([["sources", i, "auth", key, "file"], file]);
  });
  for (const [path, file] of secrets) {
    const mode = modeOf(file);
    if (mode === undefined) {
      out.push({
        path: at(path),
        message: `${file} does not exist or cannot be reached (the daemon reads it)`,
      });
    } else if (mode & 0o004) {
      out.push({
        path: at(path),
        message: `${file} holds a secret and is readable by every user: chmod o-r`,
      });
    }
  }
  const mode = modeOf(c.file);
  if (mode !== undefined && mode & 0o002) {
    out.push({
      path: c.file,
      message: "writable by every user, who could then allowlist anyone or ban anyone: chmod o-w",
    });
  }
  return out;
}

/**
 * Whether the address part of `entry` differs from its network (`10.0.0.1/8`). Compared as numbers, not as text:
 * `2001:0db8::/32`, `192.168.001.0/24` and `::ffff:10.0.0.0/104` are other spellings of a network, not host bits.
 */
function hasHostBits(entry: string, cidr: Cidr): boolean {
  const slash = entry.indexOf("/");
  const host = slash < 0 ? undefined : parseCidr(entry.slice(0, slash));
  return host !== undefined && host.groups.some((g, i) => g !== cidr.groups[i]);
}

function modeOf(file: string): number | undefined {
  try {
    return statSync(file).mode;
  } catch {
    return undefined;
  }
}

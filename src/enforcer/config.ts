/**
 * The enforcer's own config file (YAML, strict, every problem with file:line), separate from the daemon's:
 * it is read by root and names the only firewall responders the socket can reach.
 *
 *   socket: /run/portcullis/enforcer.sock
 *   group: portcullis
 *   protect: [203.0.113.0/24]     # never banned, whatever a client asks (the admins' network)
 *   max_duration: 30d             # no ban longer than this (default 3650d, the daemon's own maximum)
 *   responders:
 *     - type: nftables
 *       name: nft
 *
 * Responder entries use the same schemas as the daemon's `responders:` (src/responders/registry.ts); the type
 * `enforcer` itself is refused here (an enforcer forwarding to another socket would only widen the door).
 */
import { z } from "zod";
import { readConfigYaml } from "../config/file.ts";
import { formatDuration, isDuration, MAX_DURATION_MS, parseDuration } from "../core/duration.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { keyAt, keyLineOf, plainValue, zodIssues, type LocatedDoc } from "../core/yaml.ts";
import { RESPONDERS } from "../responders/registry.ts";
import { checkTarget, DEFAULT_SOCKET, socketPath } from "./protocol.ts";

export const DEFAULT_ENFORCER_CONFIG = "/etc/portcullis/enforcer.yaml";

/** Shortest `max_duration` accepted: a cap below the daemon's usual bans (10m) would refuse them all. */
export const MIN_MAX_DURATION_MS = 60_000;
/**
 * Default `max_duration`: the longest ban the daemon itself ever asks for (its policy, API and CLI all cap a
 * ban at MAX_DURATION_MS), so the default refuses only what no legitimate daemon sends: bans without expiry
 * (`expires: null`) and expiries beyond ten years.
 */
export const DEFAULT_MAX_DURATION = "3650d";

/** A protected address or range: exactly an address or CIDR in the protocol's address alphabet. */
const protectEntry = z.string().refine((v) => !("error" in checkTarget(v)), {
  message: "expected an IP address or CIDR, e.g. 192.0.2.7 or 203.0.113.0/24",
});

const DURATION_EXPECTED = "expected a duration such as 12h, 7d, 365d (or a number of seconds)";
const maxDuration = z
  // a negative number is no duration either (not "Too small: expected number to be >=0")
  .union([z.string(), z.number().nonnegative({ error: DURATION_EXPECTED })], { error: DURATION_EXPECTED })
  .refine((v) => typeof v === "number" || isDuration(v), { message: DURATION_EXPECTED, abort: true })
  .default(DEFAULT_MAX_DURATION)
  .transform((v) => parseDuration(v))
  .refine((ms) => ms >= MIN_MAX_DURATION_MS, {
    message: `expected a duration of at least ${formatDuration(MIN_MAX_DURATION_MS)}`,
  })
  .refine((ms) => ms <= MAX_DURATION_MS, {
    message: `expected a duration of at most ${formatDuration(MAX_DURATION_MS)} (the daemon's longest ban)`,
  });

const RESPONDERS_MISSING =
  "missing: the firewall responders the socket reaches, at least one (e.g. responders: [{type: nftables}])";

export const enforcerConfig = z.strictObject({
  socket: socketPath
    .default(DEFAULT_SOCKET)
    .describe(
      "Unix socket to listen on; created with mode 0660 (its directory is created 0750 when missing)",
    ),
  group: z
    .union(
      [
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, "a group name"),
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 32 - 2),
      ],
      { error: "expected a group name or a numeric gid" },
    )
    .default("portcullis")
    .describe(
      "Group owning the socket (a name or a numeric gid): its members (the daemon's user) may connect and " +
        "change bans; nobody else can (mode 0660)",
    ),
  max_connections: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(16)
    .describe("Connections served at once; more get a BUSY reply and are closed"),
  max_message_bytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024)
    .describe("Longest request line; a longer one gets a TOO_LARGE reply and the connection is closed"),
  max_entries: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(50_000)
    .describe("Most entries (apply) or targets (remove) in one request; clients split bigger batches"),
  idle_timeout_ms: z
    .number()
    .int()
    .min(1_000)
    .max(86_400_000)
    .default(900_000)
    .describe("A connection with no traffic for this long is closed (clients reconnect)"),
  line_timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe("A request line must be complete within this long after its first byte"),
  allow_teardown: z
    .boolean()
    .default(false)
    .describe(
      "Accept the `teardown` verb (removes the responder's tables/sets/rules, lifting every ban); for tests " +
        "and cleanup only",
    ),
  protect: z
    .array(protectEntry)
    // matched one by one against every apply entry: a list is a few networks, not a feed
    .max(1000)
    .default([])
    .describe(
      "Addresses and ranges the enforcer never bans, whatever a client (the daemon, any member of the group) " +
        "asks: the admins' networks, jump hosts, monitoring. An apply entry that overlaps one in either " +
        "direction (the address itself, a range inside it, a range holding it) is refused alone, with the " +
        "reason. Loopback and this host's own addresses are always protected. Existing bans are not lifted",
    ),
  max_duration: maxDuration.describe(
    "Longest ban the enforcer applies: an apply entry without expiry (`expires: null`) or expiring later " +
      "than this from now is refused alone, with the reason (not shortened: the daemon's reconcile would " +
      "re-apply it, and ufw/iptables have no expiry to shorten). Default 3650d, the longest ban the daemon " +
      "asks for; set it to the longest your policy gives (escalation.max, default or rule durations; bans " +
      "by hand through the API go up to 365d)",
  ),
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Log level (stderr)"),
  responders: z
    .array(z.looseObject({ type: z.string().describe("Responder type") }), {
      error: (iss) => (iss.input === undefined ? RESPONDERS_MISSING : undefined),
    })
    .min(1, "at least one responder (e.g. [{type: nftables}])")
    .describe("The firewall responders the socket reaches, by name; same schemas as the daemon's responders"),
});

export type RawEnforcerConfig = z.infer<typeof enforcerConfig>;

export interface LoadedEnforcerConfig {
  raw: RawEnforcerConfig;
  /** Validated responder configs (defaults applied), with their names. */
  responders: { name: string; type: string; config: unknown }[];
  file: string;
  /** The parsed file, for the line of a key (absent when validated from an object). */
  located?: LocatedDoc | undefined;
}

const WHAT = "enforcer configuration";

function invalid(file: string, issues: Issue[]): PortcullisError {
  return new PortcullisError(
    "CONFIG_INVALID",
    `invalid ${WHAT} ${file} (${issues.length} problem${issues.length > 1 ? "s" : ""}):`,
    { issues },
  );
}

/**
 * A problem found after validation (the group does not exist on this host) reported as the schema's are:
 * `invalid enforcer configuration FILE (1 problem):` and the file:line and path of the key.
 */
export function enforcerConfigProblem(
  loaded: LoadedEnforcerConfig,
  path: (string | number)[],
  message: string,
): PortcullisError {
  const { file, located } = loaded;
  const unset = located && !located.doc.hasIn(path) ? " (not set: the default)" : "";
  return invalid(file, [
    {
      path: keyAt(file, located, path),
      message: `${message}${unset}`,
    },
  ]);
}

/**
 * Validates an enforcer config object; every problem is reported at once (the responder entries are checked
 * by their own schemas even when a top-level key is wrong).
 */
export function validateEnforcerConfig(
  value: unknown,
  file: string,
  located?: LocatedDoc,
): LoadedEnforcerConfig {
  const res = enforcerConfig.safeParse(value ?? {});
  const issues: Issue[] = res.success ? [] : zodIssues(res.error.issues, [], file, located);
  const input = (value ?? {}) as { responders?: unknown };
  const list: unknown[] = Array.isArray(input.responders) ? input.responders : [];
  const responders: LoadedEnforcerConfig["responders"] = [];
  const names = new Set<string>();
  const known = Object.keys(RESPONDERS).filter((t) => t !== "enforcer");
  list.forEach((entry, i) => {
    const type = (entry as { type?: unknown } | null)?.type;
    if (typeof type !== "string") return; // reported by the top-level schema
    const at = located ? `${file}:${keyLineOf(located, ["responders", i, "type"])}` : file;
    if (type === "enforcer" || !Object.hasOwn(RESPONDERS, type)) {
      issues.push({
        path: `${at} responders[${i}].type`,
        message:
          type === "enforcer"
            ? "an enforcer cannot host an `enforcer` responder (it would forward to another socket)"
            : `unknown responder type "${type}" (known: ${known.join(", ")})`,
      });
      return;
    }
    const r = RESPONDERS[type]!.schema.safeParse(entry);
    if (!r.success) {
      issues.push(...zodIssues(r.error.issues, ["responders", i], file, located));
      return;
    }
    const name = (r.data as { name?: string }).name ?? type;
    if (names.has(name)) {
      issues.push({
        path: `${at} responders[${i}]`,
        message: `two responders are named "${name}": give each a distinct \`name\``,
      });
      return;
    }
    names.add(name);
    responders.push({ name, type, config: r.data });
  });
  if (issues.length || !res.success) throw invalid(file, issues);
  return { raw: res.data, responders, file, located };
}

/**
 * Reads and validates an enforcer config file, as the daemon's loader reads its own (config/file.ts): at most
 * 4 MiB, not a directory, UTF-8, one YAML document, YAML errors, duplicate keys and unknown tags reported with
 * their file:line and path, then every schema problem at once.
 */
export function loadEnforcerConfig(file: string): LoadedEnforcerConfig {
  const located = readConfigYaml(file, WHAT);
  // Empty, or comments only: no line to point at but the first; `responders` is the one required key.
  if (!located)
    throw invalid(file, [
      { path: `${file}:1 responders`, message: `${RESPONDERS_MISSING} (the file is empty)` },
    ]);
  return validateEnforcerConfig(plainValue(located, file) ?? {}, file, located);
}

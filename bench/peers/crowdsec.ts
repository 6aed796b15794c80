/**
 * CrowdSec peer for `npm run bench`: its replay ("time machine") mode over the generated auth.log, with the hub's
 * crowdsecurity/linux collection (syslog-logs, dateparse-enrich, sshd-logs, ssh-bf, ssh-slow-bf).
 *
 * Everything lives in a private directory, <repo>/.bench-cache/crowdsec/ (config.yaml, etc/, hub/, data/): the hub
 * items are copied from the hub snapshot the Debian package ships (/usr/share/crowdsec/hub, checked against its
 * .index.json digests, installed as symlinks like `cscli collections install` does; cscli itself cannot install
 * offline, it always downloads), the grok patterns from /etc/crowdsec/patterns. /etc/crowdsec is only read. The two
 * scenarios are installed as local copies without `reprocess: true` (see setup(): avoids a shutdown deadlock of
 * 1.4.6 in replay mode, changes no detection here), and the run is under a generous `timeout` watchdog.
 *
 * CrowdSec 1.4.6's agent must log in to a local API even in replay mode (`-no-api` ends with "authenticate
 * watcher: connection refused"), so the replay runs its own local API in the same process: loopback only, on a
 * free port picked at each call, sqlite database in the private directory, machine registered once with
 * `cscli machines add`, no Central API (`-no-capi`). The process exits when the file is consumed. Each run starts
 * from a copy of the freshly registered database, so repeated runs measure the same work. Alerts are printed
 * ("Ip ... performed 'crowdsecurity/ssh-bf' ...") and turned into ban decisions by the default profile (4h ban).
 *
 * CROWDSEC_CONFIG=<config.yaml> runs with that configuration instead (it must provide the parsers, scenarios and
 * a reachable local API). Setup is idempotent; when it cannot be done, the reason goes to stderr and the result is
 * undefined.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { repoRoot } from "../../test/support/shared.ts";

const CROWDSEC = "/usr/bin/crowdsec";
const CSCLI = "/usr/bin/cscli";
const HUB_SNAPSHOT = process.env.CROWDSEC_HUB ?? "/usr/share/crowdsec/hub";
const PATTERNS = process.env.CROWDSEC_PATTERNS ?? "/etc/crowdsec/patterns";
const COLLECTION = "crowdsecurity/linux";
const MACHINE = "portcullis-bench";

type Kind = "collections" | "parsers" | "scenarios" | "postoverflows";
interface IndexItem {
  path: string;
  version: string;
  stage?: string;
  versions: Record<string, { digest: string }>;
  parsers?: string[];
  scenarios?: string[];
  postoverflows?: string[];
  collections?: string[];
}
type HubIndex = Record<Kind, Record<string, IndexItem>>;

class SetupError extends Error {}

export function crowdsecReplay(file: string): { argv: string[]; note: string } | undefined {
  const dsn = ["-dsn", `file://${resolve(file)}`, "-type", "syslog"];
  if (!existsSync(CROWDSEC)) return skip(`${CROWDSEC} not found`);
  const own = process.env.CROWDSEC_CONFIG;
  if (own) {
    return { argv: [CROWDSEC, "-c", own, ...dsn, "-no-capi"], note: `crowdsec replay, config ${own}` };
  }
  try {
    const dir = join(repoRoot, ".bench-cache", "crowdsec");
    const { config, template, db } = setup(dir, file);
    // Watchdog: a replay that hangs anyway fails the bench instead of blocking it (over 10x a quiet run: 380 s for
    // 100k lines, which take 23 s).
    const limit = Math.ceil(120 + statSync(file).size / 40_000);
    return {
      // Fresh database for every run (same work each time), then crowdsec under the watchdog (/usr/bin/time
      // counts it: timeout waits for it).
      argv: [
        "/bin/sh",
        "-c",
        'cp -f -- "$1" "$2" && shift 2 && exec "$@"',
        "crowdsec-replay",
        template,
        db,
        "timeout",
        "--kill-after=10",
        String(limit),
        CROWDSEC,
        "-c",
        config,
        ...dsn,
        "-no-capi",
      ],
      note: `crowdsec 1.4 replay, ${COLLECTION} (syslog, sshd, ssh-bf), in-process local API, ${dir}`,
    };
  } catch (e) {
    return skip(e instanceof SetupError ? e.message : `setup failed: ${String(e)}`);
  }
}

function skip(reason: string): undefined {
  process.stderr.write(`  crowdsec: skipped: ${reason}\n`);
  return undefined;
}

function setup(dir: string, file: string): { config: string; template: string; db: string } {
  if (!existsSync(CSCLI)) throw new SetupError(`${CSCLI} not found`);
  const indexFile = join(HUB_SNAPSHOT, ".index.json");
  if (!existsSync(indexFile)) throw new SetupError(`no hub snapshot (${indexFile} missing)`);
  if (!existsSync(join(PATTERNS, "ssh"))) throw new SetupError(`grok patterns not found (${PATTERNS}/ssh)`);
  const index = JSON.parse(readFileSync(indexFile, "utf8")) as HubIndex;

  const etc = join(dir, "etc");
  const hub = join(dir, "hub");
  const data = join(dir, "data");
  for (const d of [etc, hub, data]) mkdirSync(d, { recursive: true });

  // Hub: copy the index and the collection's items, install them as cscli would (symlink etc/... -> hub/...).
  copyIfChanged(indexFile, join(hub, ".index.json"));
  const patterns = join(etc, "patterns");
  if (lstatSync(patterns, { throwIfNoEntry: false })?.isSymbolicLink()) rmSync(patterns); // never write through a link
  cpSync(PATTERNS, patterns, { recursive: true, dereference: true });
  for (const [kind, name] of resolveCollection(index, COLLECTION)) {
    const item = index[kind][name]!;
    const src = join(HUB_SNAPSHOT, item.path);
    if (!existsSync(src)) throw new SetupError(`hub item ${kind}/${name} missing from the snapshot (${src})`);
    const digest = createHash("sha256").update(readFileSync(src)).digest("hex");
    if (!Object.values(item.versions).some((v) => v.digest === digest)) {
      throw new SetupError(`${src} does not match any version of ${name} in the hub index`);
    }
    const copy = join(hub, item.path);
    mkdirSync(dirname(copy), { recursive: true });
    copyIfChanged(src, copy);
    const link = join(etc, kind, ...(item.stage ? [item.stage] : []), basename(item.path));
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    if (kind === "scenarios") {
      // Local copy without `reprocess: true`: in 1.4.6's replay shutdown the parsers are stopped before the
      // buckets, and an overflow re-injected after that blocks the output routine forever (all bucket routines
      // then wait on it; seen here on a loaded machine: process idle for 10 min after "Bucket routine exiting").
      // Reprocessing only feeds scenarios that consume other scenarios' overflows; none is installed, so the
      // detections are unchanged.
      writeFileSync(link, readFileSync(src, "utf8").replace(/^reprocess:\s*true\s*\n/gm, ""));
    } else {
      symlinkSync(copy, link);
    }
  }
  writeIfChanged(join(etc, "simulation.yaml"), "simulation: off\n");
  writeIfChanged(join(etc, "acquis.yaml"), ""); // unused: replay reads -dsn
  writeIfChanged(
    join(etc, "profiles.yaml"),
    [
      "name: default_ip_remediation",
      "filters:",
      ' - Alert.Remediation == true && Alert.GetScope() == "Ip"',
      "decisions:",
      " - type: ban",
      "   duration: 4h",
      "on_success: break",
      "",
    ].join("\n"),
  );

  // Config: new free loopback ports at each call (local API, Prometheus), everything else in `dir`.
  const [apiPort, promPort] = freePorts(2);
  const q = (s: string) => JSON.stringify(s);
  const config = join(dir, "config.yaml");
  const db = join(data, "crowdsec.db");
  const credentials = join(etc, "local_api_credentials.yaml");
  writeFileSync(
    config,
    `# Generated by bench/peers/crowdsec.ts; rewritten at each run.
common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: ${q(dir)}
config_paths:
  config_dir: ${q(etc + "/")}
  data_dir: ${q(data + "/")}
  simulation_path: ${q(join(etc, "simulation.yaml"))}
  hub_dir: ${q(hub + "/")}
  index_path: ${q(join(hub, ".index.json"))}
  notification_dir: ${q(join(etc, "notifications/"))}
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: ${q(join(etc, "acquis.yaml"))}
  parser_routines: 1
cscli:
  output: human
  hub_branch: master
db_config:
  log_level: info
  type: sqlite
  db_path: ${q(db)}
  use_wal: false
api:
  client:
    insecure_skip_verify: false
    credentials_path: ${q(credentials)}
  server:
    log_level: info
    listen_uri: 127.0.0.1:${apiPort}
    profiles_path: ${q(join(etc, "profiles.yaml"))}
    trusted_ips: [127.0.0.1, "::1"]
prometheus:
  enabled: true
  level: full
  listen_addr: 127.0.0.1
  listen_port: ${promPort}
`,
  );

  // Database with the machine registered, once; each run starts from a copy of it.
  const template = join(data, "registered.db");
  const secret = join(data, "machine-password");
  if (!existsSync(template) || !existsSync(secret)) {
    rmSync(db, { force: true });
    const password = randomBytes(24).toString("hex");
    const r = spawnSync(
      CSCLI,
      ["-c", config, "machines", "add", MACHINE, "--password", password, "-f", credentials],
      {
        cwd: dir,
        encoding: "utf8",
      },
    );
    if (r.status !== 0 || !existsSync(db)) {
      throw new SetupError(
        `cscli machines add failed (${r.status}): ${lastLine(r.stderr ?? r.error?.message)}`,
      );
    }
    copyFileSync(db, template);
    writeFileSync(secret, password, { mode: 0o600 });
  }
  const password = readFileSync(secret, "utf8").trim();
  writeFileSync(credentials, `url: http://127.0.0.1:${apiPort}\nlogin: ${MACHINE}\npassword: ${password}\n`, {
    mode: 0o600,
  });

  // Config test: loads the parsers and scenarios and opens the input, starts nothing.
  const t = spawnSync(
    CROWDSEC,
    ["-c", config, "-t", "-dsn", `file://${resolve(file)}`, "-type", "syslog", "-no-capi"],
    { cwd: dir, encoding: "utf8" },
  );
  if (t.status !== 0) {
    throw new SetupError(
      `crowdsec -t failed (${t.status}): ${lastLine(`${t.stdout ?? ""}${t.stderr ?? ""}`)}`,
    );
  }
  return { config, template, db };
}

/** The collection's items, recursively (as `cscli collections install` resolves them), collections included. */
function resolveCollection(index: HubIndex, name: string, seen = new Set<string>()): [Kind, string][] {
  const item = index.collections[name];
  if (!item) throw new SetupError(`collection ${name} is not in the hub index`);
  if (seen.has(name)) return [];
  seen.add(name);
  const out: [Kind, string][] = [["collections", name]];
  for (const kind of ["parsers", "scenarios", "postoverflows"] as const) {
    for (const n of item[kind] ?? []) {
      if (!index[kind][n]) throw new SetupError(`${kind}/${n} (from ${name}) is not in the hub index`);
      out.push([kind, n]);
    }
  }
  for (const c of item.collections ?? []) out.push(...resolveCollection(index, c, seen));
  return out;
}

/** Ports the kernel hands out for an ephemeral bind on 127.0.0.1, released before returning. */
function freePorts(n: number): number[] {
  const script = `const net=require("node:net");const ss=[];let k=0;
for(let i=0;i<${n};i++){const s=net.createServer();ss.push(s);s.listen(0,"127.0.0.1",()=>{if(++k===${n}){
console.log(ss.map(x=>x.address().port).join(" "));ss.forEach(x=>x.close());}});}`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  const ports = (r.stdout ?? "").trim().split(" ").map(Number);
  if (r.status !== 0 || ports.length !== n || ports.some((p) => !(p > 0))) {
    throw new SetupError(`could not find free loopback ports: ${lastLine(r.stderr)}`);
  }
  return ports;
}

function copyIfChanged(src: string, dst: string): void {
  const content = readFileSync(src);
  if (!existsSync(dst) || !readFileSync(dst).equals(content)) writeFileSync(dst, content);
}

function writeIfChanged(path: string, content: string): void {
  if (!existsSync(path) || readFileSync(path, "utf8") !== content) writeFileSync(path, content);
}

function lastLine(text: string | undefined): string {
  const lines = (text ?? "").trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

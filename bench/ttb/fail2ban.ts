/**
 * fail2ban-server (Debian's 1.0.2) for the same scenario, started in the foreground inside the server namespace
 * (`ip netns exec <ns> fail2ban-server -f -x -c DIR -s SOCK -p PID`), so its nftables action only touches that
 * namespace. Its configuration is a private copy of /etc/fail2ban (never modified) with jail.d emptied and one
 * jail on our log: filter sshd, maxretry 5, findtime 10m, bantime 10m, banaction nftables-multiport on the
 * listener's port, an in-memory database, and the backend under test (`auto` = fail2ban's default, which picks
 * pyinotify when python3-pyinotify is installed, else polling; or `polling`, `pyinotify`).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasBinary, sh, start, until, type Child } from "./common.ts";
import { NET } from "./netns.ts";

export const JAIL = "pclbench";

export function fail2banSkipReason(): string | undefined {
  if (!hasBinary("fail2ban-server") || !hasBinary("fail2ban-client")) return "fail2ban is not installed";
  if (!existsSync("/etc/fail2ban/filter.d/sshd.conf")) return "/etc/fail2ban/filter.d/sshd.conf not found";
  return undefined;
}

/** Whether fail2ban's python has pyinotify (its `auto` backend then uses it). */
export function hasPyinotify(): boolean {
  const py = readFileSync("/usr/bin/fail2ban-server", "utf8")
    .split("\n")[0]!
    .replace(/^#!\s*/, "")
    .split(" ")[0]!;
  return sh([py, "-c", "import pyinotify"]).code === 0;
}

export function fail2banVersion(): string {
  return sh(["fail2ban-server", "-V"]).stdout.trim() || "?";
}

export interface RunningFail2ban {
  child: Child;
  pid: number;
  /** The backend fail2ban reports it initiated ("pyinotify", "polling", ...). */
  backend: string;
  logFile: string;
  stop(): Promise<void>;
}

export async function startFail2ban(o: {
  ns: string;
  dir: string;
  logFile: string;
  backend: string;
}): Promise<RunningFail2ban> {
  const conf = join(o.dir, "conf");
  rmSync(conf, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true });
  cpSync("/etc/fail2ban", conf, { recursive: true });
  // Debian enables [sshd] in jail.d; only our jail runs here
  for (const f of readdirSync(join(conf, "jail.d"))) rmSync(join(conf, "jail.d", f), { force: true });
  const sock = join(o.dir, "f2b.sock");
  const pid = join(o.dir, "f2b.pid");
  const log = join(o.dir, "fail2ban.log");
  writeFileSync(
    join(conf, "fail2ban.local"),
    `[Definition]\nloglevel = INFO\nlogtarget = ${log}\nsocket = ${sock}\npidfile = ${pid}\ndbfile = :memory:\n`,
  );
  writeFileSync(
    join(conf, "jail.local"),
    [
      "[DEFAULT]",
      "ignoreip = 127.0.0.1/8 ::1",
      "",
      `[${JAIL}]`,
      "enabled = true",
      "filter = sshd",
      `logpath = ${o.logFile}`,
      `backend = ${o.backend}`,
      "maxretry = 5",
      "findtime = 10m",
      "bantime = 10m",
      `port = ${NET.port}`,
      "protocol = tcp",
      "banaction = nftables-multiport",
      "",
    ].join("\n"),
  );
  const out = join(o.dir, "server.out");
  const child = start(
    `fail2ban-server (${o.backend})`,
    [
      "sh",
      "-c",
      'exec ip netns exec "$0" fail2ban-server -f -x -c "$1" -s "$2" -p "$3" >"$4" 2>&1',
      o.ns,
      conf,
      sock,
      pid,
      out,
    ],
    { stdio: "ignore" },
  );
  let exited = false;
  void child.exited.then(() => (exited = true));
  const backend = await until(
    `fail2ban-server to start jail ${JAIL}`,
    () => {
      if (exited)
        throw new Error(`fail2ban-server exited:\n${existsSync(out) ? readFileSync(out, "utf8") : ""}`);
      const text = existsSync(log) ? readFileSync(log, "utf8") : "";
      if (!text.includes(`Jail '${JAIL}' started`)) return undefined;
      return /Initiated '([^']+)' backend/.exec(text)?.[1] ?? "?";
    },
    60_000,
    50,
  );
  return {
    child,
    pid: child.pid,
    backend,
    logFile: log,
    stop: async () => {
      // a clean stop runs the action's actionstop (removes its rules); the namespace goes anyway
      sh(["fail2ban-client", "-s", sock, "stop"], undefined, 20_000);
      await child.stop(10_000);
    },
  };
}

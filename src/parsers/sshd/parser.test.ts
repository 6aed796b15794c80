import assert from "node:assert/strict";
import { test } from "node:test";
import type { SecurityEvent } from "../../core/event.ts";
import { LineFramer } from "../../framing/framer.ts";
import { Zone } from "../../framing/zone.ts";
import { ParserSet } from "../dispatch.ts";
import { ACTIONS, MODES } from "./actions.ts";
import { sshd } from "./parser.ts";
import { ConnTable } from "./state.ts";
import { assertLinearWork } from "../../../test/support/parser-harness.ts";

const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2024, 5, 30, 12) };

/** Feeds lines through one parser instance; returns the events of each line and the rejections. */
function feedRejecting(lines: string[], mode = "all"): { events: SecurityEvent[][]; rejected: string[] } {
  const rejected: string[] = [];
  const set = new ParserSet({
    time,
    only: ["sshd"],
    modes: { sshd: mode },
    onRejected: (parser, reason) => rejected.push(`${parser}: ${reason}`),
  });
  const framer = new LineFramer(time);
  const events = lines.map((l) => {
    const out: SecurityEvent[] = [];
    const f = framer.frame(l);
    if (f) set.parse(f, out);
    return out;
  });
  return { events, rejected };
}

/** Feeds lines through one parser instance; returns the events of each line. */
function feed(lines: string[], mode = "all"): SecurityEvent[][] {
  return feedRejecting(lines, mode).events;
}

const failures = (evs: SecurityEvent[]) => evs.filter((e) => e.event.outcome === "failure");

/** The single failure among `evs`. */
function onlyFailure(evs: SecurityEvent[]): SecurityEvent {
  const f = failures(evs);
  assert.equal(f.length, 1, `exactly one failure expected, got ${f.map((e) => e.event.action).join(",")}`);
  return f[0]!;
}

/** The single failure of the last line (asserting there is exactly one). */
function fail(lines: string | string[], mode = "all"): SecurityEvent {
  const all = feed(Array.isArray(lines) ? lines : [lines], mode);
  const f = failures(all.at(-1)!);
  assert.equal(f.length, 1, `exactly one failure expected, got ${f.map((e) => e.event.action).join(",")}`);
  return f[0]!;
}

function none(lines: string | string[], mode = "all"): void {
  const all = feed(Array.isArray(lines) ? lines : [lines], mode);
  assert.deepEqual(
    failures(all.at(-1)!).map((e) => e.event.action),
    [],
  );
}

const H = "Jun 30 08:15:01 bastion sshd[4100]: ";
const at = (pid: number) => `Jun 30 08:15:01 bastion sshd[${pid}]: `;

test("Failed <method>: ssh_auth_failed with the method as reason, port, user, time, process", () => {
  const e = fail(`${H}Failed password for invalid user oracle from 198.51.100.23 port 40112 ssh2`);
  assert.equal(e.event.action, "ssh_auth_failed");
  assert.equal(e.event.dataset, "sshd");
  assert.equal(e.event.reason, "password");
  assert.deepEqual(e.event.category, ["authentication"]);
  assert.deepEqual(e.source, { ip: "198.51.100.23", port: 40112 });
  assert.equal(e.user?.name, "oracle");
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 30, 8, 15, 1));
  assert.deepEqual(e.process, { name: "sshd", pid: 4100 });
  assert.equal(e.host?.name, "bastion");

  const k = fail(
    "Jun 30 08:15:02 bastion sshd-session[4101]: Failed keyboard-interactive/pam for deploy from 2001:DB8:0:0::17 port 5022 ssh2",
  );
  assert.equal(k.event.reason, "keyboard-interactive/pam");
  assert.deepEqual(k.source, { ip: "2001:db8::17", port: 5022 });
  assert.equal(k.process?.name, "sshd-session");

  const old = fail(`${H}Failed none for invalid user guest from ::ffff:203.0.113.70`);
  assert.deepEqual(old.source, { ip: "203.0.113.70" });
  assert.equal(old.user?.name, "guest");
});

test("Invalid user and maximum authentication attempts have their own actions", () => {
  const i = fail(`${H}Invalid user test2 from 203.0.113.5 port 51312`);
  assert.equal(i.event.action, "ssh_invalid_user");
  assert.equal(i.user?.name, "test2");
  assert.deepEqual(i.source, { ip: "203.0.113.5", port: 51312 });
  assert.equal(fail(`${H}Illegal user sys from 203.0.113.5`).event.action, "ssh_invalid_user");
  assert.equal(fail(`${H}Invalid user  from 203.0.113.5 port 1`).user?.name, "");

  const m = fail(
    `${H}error: maximum authentication attempts exceeded for invalid user pi from 192.0.2.77 port 3301 ssh2 [preauth]`,
  );
  assert.equal(m.event.action, "ssh_max_auth_attempts");
  assert.equal(m.user?.name, "pi");
  assert.deepEqual(m.source, { ip: "192.0.2.77", port: 3301 });
});

test("the three counted line kinds give exactly one event each, with distinct actions, in every mode", () => {
  const lines = [
    `${at(7001)}Failed password for root from 192.0.2.50 port 1000 ssh2`,
    `${at(7002)}Invalid user ubnt from 192.0.2.51 port 1001`,
    `${at(7003)}error: maximum authentication attempts exceeded for root from 192.0.2.52 port 1002 ssh2 [preauth]`,
    `Jun 30 08:15:09 bastion sshd[7004]: message repeated 3 times: [ Failed password for root from 192.0.2.53 port 1003 ssh2]`,
  ];
  for (const mode of [...Object.keys(MODES), "all"]) {
    const evs = feed(lines, mode);
    assert.deepEqual(
      evs.map((l) => l.map((e) => `${e.event.action}/${e.event.outcome}`)),
      [
        ["ssh_auth_failed/failure"],
        ["ssh_invalid_user/failure"],
        ["ssh_max_auth_attempts/failure"],
        ["ssh_auth_failed/failure"],
      ],
      mode,
    );
    assert.equal(evs[3]![0]!.event.count, 3);
    assert.equal(evs[3]![0]!.source?.ip, "192.0.2.53");
  }
});

test("the other normal-mode failures", () => {
  const cases: [string, string, string | undefined, string | undefined][] = [
    [
      `${H}User admin from 198.51.100.9 not allowed because not listed in AllowUsers`,
      "ssh_user_not_allowed",
      "198.51.100.9",
      "admin",
    ],
    [
      `${H}User bob from host7.example.org not allowed because a group is listed in DenyGroups`,
      "ssh_user_not_allowed",
      "host7.example.org",
      "bob",
    ],
    [
      `${H}ROOT LOGIN REFUSED FROM 198.51.100.10 port 4242`,
      "ssh_root_login_refused",
      "198.51.100.10",
      "root",
    ],
    [
      `${H}error: PAM: Authentication failure for carol from 198.51.100.11`,
      "ssh_pam_auth_failure",
      "198.51.100.11",
      "carol",
    ],
    [
      `${H}error: PAM: authentication error for dave from gw.example.net via 10.1.1.1`,
      "ssh_pam_auth_failure",
      "gw.example.net",
      "dave",
    ],
    [
      `${H}error: PAM: User not known to the underlying authentication module for illegal user eve from 198.51.100.12`,
      "ssh_pam_auth_failure",
      "198.51.100.12",
      "eve",
    ],
    [
      `${H}refused connect from probe.example.com (198.51.100.13)`,
      "ssh_refused_connect",
      "198.51.100.13",
      undefined,
    ],
    [
      `${H}Received disconnect from 198.51.100.14 port 2200:3: com.example.Client: Auth fail [preauth]`,
      "ssh_disconnect_auth_fail",
      "198.51.100.14",
      undefined,
    ],
  ];
  for (const [line, action, addr, user] of cases) {
    const e = fail(line, "normal");
    assert.equal(e.event.action, action, line);
    assert.equal(e.source?.ip ?? e.source?.domain, addr, line);
    assert.equal(e.user?.name, user, line);
  }
  assert.equal(fail(cases[0]![0], "normal").event.reason, "not listed in AllowUsers");
});

test("a failure logged without the peer waits for the next line of the same pid that names it", () => {
  const evs = feed(
    [
      `${at(5100)}User oper not allowed because account is locked`,
      `${at(5100)}input_userauth_request: invalid user oper [preauth]`,
      `${at(5200)}Connection closed by 192.0.2.99 port 1 [preauth]`,
      `${at(5100)}Received disconnect from 192.0.2.60 port 40000:11: Bye Bye [preauth]`,
      `${at(5100)}Connection closed by 192.0.2.60 port 40000 [preauth]`,
    ],
    "normal",
  );
  assert.deepEqual(evs.slice(0, 3).map(failures), [[], [], []]);
  const [e] = failures(evs[3]!);
  assert.equal(e?.event.action, "ssh_user_not_allowed");
  assert.equal(e?.user?.name, "oper");
  assert.deepEqual(e?.source, { ip: "192.0.2.60", port: 40000 });
  assert.deepEqual(failures(evs[4]!), []);
});

test("an earlier `Connection from` names the peer of later lines that do not", () => {
  const e = fail(
    [
      `${at(6100)}Connection from 203.0.113.30 port 61000 on 192.0.2.1 port 22 rdomain ""`,
      `${at(6100)}error: kex_exchange_identification: Connection closed by remote host`,
    ],
    "ddos",
  );
  assert.equal(e.event.action, "ssh_no_identification");
  assert.deepEqual(e.source, { ip: "203.0.113.30", port: 61000 });
  none([`${at(6101)}Connection from 203.0.113.31 port 61001 on 192.0.2.1 port 22`], "all");
  // Without it, the kex failure is reported by the closing line (and only once).
  const evs = feed(
    [
      `${at(6102)}error: kex_exchange_identification: read: Connection reset by peer`,
      `${at(6102)}Connection reset by 203.0.113.32 port 61002`,
    ],
    "ddos",
  );
  assert.deepEqual(failures(evs[0]!), []);
  assert.deepEqual(
    failures(evs[1]!).map((e) => [e.event.action, e.source?.ip]),
    [["ssh_no_identification", "203.0.113.32"]],
  );
});

test("a valid user's rejected public keys are not failures until the server gives up", () => {
  const evs = feed(
    [
      `${at(6200)}Failed publickey for git from 192.0.2.40 port 50000 ssh2: ED25519 SHA256:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg`,
      `${at(6200)}Failed publickey for git from 192.0.2.40 port 50000 ssh2: RSA SHA256:ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxwvut`,
      `${at(6200)}Disconnecting: Too many authentication failures for git [preauth]`,
      `${at(6200)}Connection closed by 192.0.2.40 port 50000 [preauth]`,
    ],
    "normal",
  );
  assert.deepEqual(
    evs[0]!.map((e) => [e.event.action, e.event.outcome]),
    [["ssh_publickey_rejected", "unknown"]],
  );
  assert.deepEqual(failures(evs[1]!), []);
  const [t] = failures(evs[2]!);
  assert.equal(t?.event.action, "ssh_too_many_auth_failures");
  assert.deepEqual(t?.source, { ip: "192.0.2.40", port: 50000 });
  assert.equal(t?.user?.name, "git");
  assert.deepEqual(failures(evs[3]!), []);
  // For an invalid user a failed public key is an ordinary failure.
  assert.equal(
    fail(`${H}Failed publickey for invalid user git2 from 192.0.2.41 port 50001 ssh2: RSA SHA256:x1y2z3`)
      .event.action,
    "ssh_auth_failed",
  );
});

test("Accepted is a success and forgets the connection, unless several user names were tried", () => {
  const ok = feed(
    [
      `${at(6300)}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.30  user=alice`,
      `${at(6300)}Accepted password for alice from 192.0.2.30 port 41000 ssh2`,
      `${at(6300)}Connection closed by 192.0.2.30 port 41000 [preauth]`,
    ],
    "normal",
  );
  assert.deepEqual(
    ok.map((l) => l.map((e) => `${e.event.action}/${e.event.outcome}`)),
    [["ssh_pam_module_failure/unknown"], ["ssh_login/success"], []],
  );
  assert.deepEqual(ok[1]![0]!.source, { ip: "192.0.2.30", port: 41000 });
  assert.equal(ok[1]![0]!.user?.name, "alice");
  assert.equal(ok[1]![0]!.event.reason, "password");

  const spray = feed(
    [
      `${at(6301)}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=root rhost=192.0.2.31`,
      `${at(6301)}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=admin rhost=192.0.2.31`,
      `${at(6301)}Accepted password for backup from 192.0.2.31 port 41001 ssh2`,
    ],
    "normal",
  );
  assert.deepEqual(failures(spray[0]!), []);
  assert.deepEqual(
    failures(spray[1]!).map((e) => e.event.action),
    ["ssh_multiple_users"],
  );
  const acc = spray[2]!;
  assert.deepEqual(
    acc.map((e) => `${e.event.action}/${e.event.outcome}`),
    ["ssh_multiple_users/failure", "ssh_login/success"],
  );
  assert.deepEqual(acc[0]!.related, { user: ["root", "admin", "backup"] });
  assert.deepEqual(acc[0]!.source, { ip: "192.0.2.31", port: 41001 });
});

test("lines of different pids (or hosts) never merge", () => {
  const evs = feed(
    [
      `${at(6400)}Disconnecting: Too many authentication failures for root [preauth]`,
      `${at(6401)}Connection closed by 192.0.2.88 [preauth]`,
      `Jun 30 08:15:01 other sshd[6400]: Connection closed by 192.0.2.89 [preauth]`,
    ],
    "normal",
  );
  assert.deepEqual(evs.map(failures), [[], [], []]);
});

test("9.8+: the listener's timeout line ends its session process's connection (a reused pid starts afresh)", () => {
  const session = (pid: number, msg: string) => `Jun 30 08:15:01 srv sshd-session[${pid}]: ${msg}`;
  const listener = (msg: string) => `Jun 30 08:15:01 srv sshd[800]: ${msg}`;
  const evs = feed(
    [
      session(4242, 'Connection from 192.0.2.50 port 50000 on 192.0.2.1 port 22 rdomain ""'),
      // The session process exits at LoginGraceTime without a word; the listener says so.
      listener("Timeout before authentication for connection from 192.0.2.50 to 192.0.2.1, pid = 4242"),
      // Later, pid 4242 serves a scanner whose first line names no peer.
      session(4242, "error: kex_exchange_identification: Connection closed by remote host"),
      session(4242, "Connection closed by 203.0.113.9 port 60001"),
    ],
    "ddos",
  );
  const sources = evs.flatMap(failures).map((e) => [e.event.action, e.source?.ip]);
  assert.deepEqual(sources, [
    ["ssh_preauth_timeout", "192.0.2.50"],
    ["ssh_no_identification", "203.0.113.9"],
  ]);
});

const listener = (msg: string) => `Jun 30 08:15:01 srv sshd[800]: ${msg}`;
const LISTENER_ACTIONS = ["ssh_penalty", "ssh_session_crash"];

/** All events of `lines` (one parser instance), as [action, outcome, source, reason]. */
function summary(
  lines: string[],
  mode = "all",
): [string, string, SecurityEvent["source"], string | undefined][] {
  return feed(lines, mode)
    .flat()
    .map((e) => [e.event.action, e.event.outcome, e.source, e.event.reason]);
}

test("9.8+ listener: a connection dropped for a penalty is ssh_penalty from the peer, never the server's address", () => {
  const e = fail(
    listener("drop connection #0 from [203.0.113.50]:40022 on [192.0.2.1]:22 penalty: failed authentication"),
  );
  assert.equal(e.event.action, "ssh_penalty");
  assert.deepEqual(e.event.category, ["network"]);
  assert.equal(e.event.reason, "failed authentication");
  assert.deepEqual(e.source, { ip: "203.0.113.50", port: 40022 });
  assert.deepEqual(e.process, { name: "sshd", pid: 800 });
  assert.equal(e.user, undefined);

  const v6 = fail(
    listener(
      "drop connection #1 from [2001:DB8::5]:40022 on [2001:db8::1]:22 penalty: connections without attempting authentication",
    ),
  );
  assert.deepEqual(v6.source, { ip: "2001:db8::5", port: 40022 });
  assert.equal(v6.event.reason, "connections without attempting authentication");
  for (const why of [
    "caused crash",
    "attempted authentication by invalid user",
    "exceeded LoginGraceTime",
    "connection prohibited by RefuseConnection",
  ]) {
    const d = fail(
      listener(`drop connection #12 from [198.51.100.7]:1 on [198.51.100.8]:2222 penalty: ${why}`),
    );
    assert.equal(d.event.reason, why);
    assert.deepEqual(d.source, { ip: "198.51.100.7", port: 1 });
  }

  // The server is full, or its penalty table is: nothing the peer did, no event at all (not even an info one).
  for (const l of [
    "drop connection #3 from [198.51.100.7]:40022 on [192.0.2.1]:22 past MaxStartups",
    "drop connection #3 from [198.51.100.7]:40022 on [192.0.2.1]:22 past Maxstartups",
    "drop connection #3 from [198.51.100.8]:40022 on [192.0.2.1]:22 penalty: too many penalised addresses",
    "drop connection #3 from [198.51.100.8]:40022 on [192.0.2.1]:22 too many penalised addresses",
    // Not as the listener writes it.
    "drop connection #3 from [198.51.100.8]:40022 on [192.0.2.1]:22 penalty: ",
    "drop connection #3 from [198.51.100.8]:40022 on [192.0.2.1]:22penalty: caused crash",
    "drop connection #3 from [198.51.100.8] on [192.0.2.1]:22 penalty: caused crash",
    "drop connection #3 from [198.51.100.8]:40022 on 192.0.2.1:22 penalty: caused crash",
    "drop connection #3 from [198.51.100.8]:40022 on [bastion]:22 penalty: caused crash",
    "drop connection #3 from [bad.example.com]:40022 on [192.0.2.1]:22 penalty: caused crash",
    "drop connection #3 from 198.51.100.8:40022 on [192.0.2.1]:22 penalty: caused crash",
    "drop connection #x from [198.51.100.8]:40022 on [192.0.2.1]:22 penalty: caused crash",
    "drop connection #3 from [198.51.100.8]:99999 on [192.0.2.1]:22 penalty: caused crash",
  ])
    assert.deepEqual(feed([listener(l)], "all"), [[]], l);

  // fail2ban has no such line: only aggressive (and all) reports it.
  const line = listener(
    "drop connection #0 from [203.0.113.50]:40022 on [192.0.2.1]:22 penalty: caused crash",
  );
  for (const mode of ["normal", "ddos", "extra"]) none(line, mode);
  assert.equal(fail(line, "aggressive").event.action, "ssh_penalty");
});

test("9.8+ listener: the listener's lines leave no state on its pid for later lines to borrow", () => {
  const evs = feed([
    listener("drop connection #0 from [203.0.113.50]:40022 on [192.0.2.1]:22 penalty: failed authentication"),
    listener(
      "srclimit_penalise: ipv4: new 203.0.113.51/32 active penalty of 30.000 seconds for penalty: caused crash",
    ),
    listener("error: session process 4244 for connection from 203.0.113.52 to 192.0.2.1 killed by signal 11"),
    // A line of that pid naming no peer must not take any of the addresses above.
    listener("error: kex_exchange_identification: Connection closed by remote host"),
  ]);
  assert.deepEqual(
    evs.map((l) => l.map((e) => e.source?.ip)),
    [["203.0.113.50"], ["203.0.113.51"], ["203.0.113.52"], []],
  );
});

test("9.8+ listener: srclimit_penalise names the peer only for a single-address mask", () => {
  const cases: [string, string, string][] = [
    // 10.x (`%.3f` seconds; `new ... active` at INFO, `deferred` at VERBOSE)
    [
      "srclimit_penalise: ipv4: new 203.0.113.50/32 active penalty of 30.000 seconds for penalty: caused crash",
      "203.0.113.50",
      "caused crash",
    ],
    [
      "srclimit_penalise: ipv4: new 203.0.113.56/32 deferred penalty of 5.000 seconds for penalty: failed authentication",
      "203.0.113.56",
      "failed authentication",
    ],
    [
      "srclimit_penalise: 203.0.113.51/32: activating ipv4 penalty of 15.76 seconds for penalty: connections without attempting authentication",
      "203.0.113.51",
      "connections without attempting authentication",
    ],
    [
      "srclimit_penalise: ipv6: new 2001:db8::5/128 active penalty of 90.000 seconds for penalty: caused crash",
      "2001:db8::5",
      "caused crash",
    ],
    // 9.8/9.9 (whole seconds)
    [
      "srclimit_penalise: ipv4: new 203.0.113.52/32 active penalty of 30 seconds for penalty: failed authentication",
      "203.0.113.52",
      "failed authentication",
    ],
    [
      "srclimit_penalise: 203.0.113.99/32: activating ipv4 penalty of 20 seconds for penalty: attempted authentication by invalid user",
      "203.0.113.99",
      "attempted authentication by invalid user",
    ],
    [
      "srclimit_penalise: 2001:db8::6/128: activating ipv6 penalty of 16 seconds for penalty: exceeded LoginGraceTime",
      "2001:db8::6",
      "exceeded LoginGraceTime",
    ],
  ];
  for (const [l, ip, reason] of cases) {
    const e = fail(listener(l));
    assert.equal(e.event.action, "ssh_penalty", l);
    assert.deepEqual(e.event.category, ["network"]);
    assert.deepEqual(e.source, { ip }, l);
    assert.equal(e.event.reason, reason, l);
    for (const mode of ["normal", "ddos", "extra"]) none(listener(l), mode);
    assert.equal(fail(listener(l), "aggressive").event.action, "ssh_penalty");
  }
  for (const l of [
    // A range (PerSourceNetBlockSize): the administrator's, not a peer.
    "srclimit_penalise: ipv4: new 203.0.113.0/24 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: 203.0.113.0/24: activating ipv4 penalty of 30 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/31 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/3 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/320 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv6: new 2001:db8::/64 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: 2001:db8::/64: activating ipv6 penalty of 30 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50 active penalty of 30.000 seconds for penalty: caused crash",
    // Family and mask disagree.
    "srclimit_penalise: ipv4: new 2001:db8::5/32 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv6: new 203.0.113.50/128 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: 203.0.113.50/128: activating ipv6 penalty of 30 seconds for penalty: caused crash",
    // Server-wide, or not as srclimit.c writes it.
    "srclimit_penalise: ipv4 penalty table full, cannot penalise 203.0.113.50/32 for penalty: caused crash",
    "srclimit_penalise: ipv4: new UNKNOWN active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/32 active penalty of 30.000 seconds for caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/32 active penalty of 30.000 seconds for penalty: ",
    "srclimit_penalise: ipv4: new 203.0.113.50/32 pending penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/32 active penalty of thirty seconds for penalty: caused crash",
    "srclimit_penalise: ipv4: new 203.0.113.50/32 active penalty of 30. seconds for penalty: caused crash",
    "srclimit_penalise: ipv5: new 203.0.113.50/32 active penalty of 30.000 seconds for penalty: caused crash",
    "srclimit_penalise: 203.0.113.50/32 activating ipv4 penalty of 30 seconds for penalty: caused crash",
    "srclimit_penalise: host.example.com/32: activating ipv4 penalty of 30 seconds for penalty: caused crash",
    "srclimit_penalise: debug3: address 203.0.113.50 is exempt",
  ])
    assert.deepEqual(feed([listener(l)], "all"), [[]], l);
});

test("9.8+ listener: a session process that crashed is ssh_session_crash from its peer, and ends its state", () => {
  const e = fail(
    listener("error: session process 4244 for connection from 203.0.113.60 to 192.0.2.1 killed by signal 11"),
  );
  assert.equal(e.event.action, "ssh_session_crash");
  assert.equal(e.event.outcome, "failure");
  assert.deepEqual(e.event.category, ["intrusion_detection"]);
  assert.deepEqual(e.source, { ip: "203.0.113.60" });
  assert.equal(e.event.reason, "killed by signal 11");
  assert.deepEqual(e.process, { name: "sshd", pid: 800 });

  const cases: [string, string, string][] = [
    [
      "Session process 4245 unpriv child crash for connection from 203.0.113.61 to 192.0.2.1",
      "203.0.113.61",
      "unpriv child crash",
    ],
    [
      "Session process 4245 unpriv child crash for connection from 2001:db8::61 to 2001:db8::1 (early)",
      "2001:db8::61",
      "unpriv child crash",
    ],
    [
      "error: session process 4246 for connection from 2001:db8::62 to 2001:db8::1 killed by signal 6 (early)",
      "2001:db8::62",
      "killed by signal 6",
    ],
    // Logged on stderr (sshd -e under systemd): no `error: ` prefix.
    [
      "session process 4247 for connection from 203.0.113.63 to 192.0.2.1 killed by signal 31",
      "203.0.113.63",
      "killed by signal 31",
    ],
    [
      "error: session process 4248 for connection from 203.0.113.64 to 192.0.2.1 terminated abnormally, status=0x57f",
      "203.0.113.64",
      "terminated abnormally, status=0x57f",
    ],
    // A socket without ports (child_register(): `connection from %s`).
    [
      "error: session process 4249 for connection from 203.0.113.65 killed by signal 11",
      "203.0.113.65",
      "killed by signal 11",
    ],
  ];
  for (const [l, ip, reason] of cases) {
    const c = fail(listener(l));
    assert.equal(c.event.action, "ssh_session_crash", l);
    assert.deepEqual(c.source, { ip }, l);
    assert.equal(c.event.reason, reason, l);
    for (const mode of ["normal", "ddos", "extra"]) none(listener(l), mode);
    assert.equal(fail(listener(l), "aggressive").event.action, "ssh_session_crash");
  }
  for (const l of [
    "Session process 4245 unpriv child crash for connection from 203.0.113.61 to 192.0.2.1 and more",
    "session process 4245 unpriv child crash for connection from 203.0.113.61 to 192.0.2.1",
    "Session process 4245 for connection from 203.0.113.61 to 192.0.2.1 killed by signal 11",
    "error: session process x for connection from 203.0.113.60 to 192.0.2.1 killed by signal 11",
    "error: session process 4244 for connection from 203.0.113.60 to 192.0.2.1 killed by signal",
    "error: session process 4244 for connection from 203.0.113.60 to 192.0.2.1 killed by signal 11 now",
    "error: session process 4244 for connection from 203.0.113.60 to 192.0.2.1 terminated abnormally, status=0x",
    "error: session process 4244 for connection from 203.0.113.60 to bastion killed by signal 11",
    "error: session process 4244 for connection from UNKNOWN killed by signal 11",
    "error: session process 4244 for 203.0.113.60 killed by signal 11",
    "error: session process 4244 for connection from 203.0.113.60 to 192.0.2.1 exited with status 1",
  ])
    assert.deepEqual(feed([listener(l)], "all"), [[]], l);

  // The session process is gone: its pid, reused, starts afresh (as for the listener's timeout line).
  const session = (pid: number, msg: string) => `Jun 30 08:15:01 srv sshd-session[${pid}]: ${msg}`;
  assert.deepEqual(
    summary(
      [
        session(4244, 'Connection from 192.0.2.50 port 50000 on 192.0.2.1 port 22 rdomain ""'),
        listener(
          "error: session process 4244 for connection from 192.0.2.50 to 192.0.2.1 killed by signal 11",
        ),
        session(4244, "error: kex_exchange_identification: Connection closed by remote host"),
        session(4244, "Connection closed by 203.0.113.9 port 60001"),
      ],
      "aggressive",
    ),
    [
      ["ssh_session_crash", "failure", { ip: "192.0.2.50" }, "killed by signal 11"],
      [
        "ssh_no_identification",
        "failure",
        { ip: "203.0.113.9", port: 60001 },
        "Connection closed by remote host",
      ],
    ],
  );
});

test("spoofing: client-chosen text holding the listener's shapes is read as the line it is in", () => {
  // The listener writes its lines whole; a user name, a banner or a disconnect reason can only copy them inside
  // an ordinary line, whose own reading is unchanged.
  const cases: [string, string, string][] = [
    [
      `${H}Failed password for invalid user x from [6.6.6.6]:1 on from 192.0.2.14 port 50000 ssh2`,
      "ssh_auth_failed",
      "x from [6.6.6.6]:1 on",
    ],
    [
      `${H}Failed password for invalid user drop connection #0 from [6.6.6.6]:1 on [192.0.2.1]:22 penalty: caused crash from 192.0.2.14 port 50000 ssh2`,
      "ssh_auth_failed",
      "drop connection #0 from [6.6.6.6]:1 on [192.0.2.1]:22 penalty: caused crash",
    ],
    [
      `${H}Invalid user session process 1 for connection from 6.6.6.6 to 192.0.2.1 killed by signal 11 from 192.0.2.14 port 50000`,
      "ssh_invalid_user",
      "session process 1 for connection from 6.6.6.6 to 192.0.2.1 killed by signal 11",
    ],
    [
      `${H}Failed password for invalid user srclimit_penalise: ipv4: new 6.6.6.6/32 active penalty of 1 seconds for penalty: caused crash from 192.0.2.14 port 50000 ssh2`,
      "ssh_auth_failed",
      "srclimit_penalise: ipv4: new 6.6.6.6/32 active penalty of 1 seconds for penalty: caused crash",
    ],
  ];
  for (const [l, action, user] of cases) {
    const evs = feed([l], "all")[0]!;
    assert.equal(evs.length, 1, l);
    assert.equal(evs[0]!.event.action, action, l);
    assert.deepEqual(evs[0]!.source, { ip: "192.0.2.14", port: 50000 }, l);
    assert.equal(evs[0]!.user?.name, user, l);
  }
  const others = feed(
    [
      `${H}Received disconnect from 192.0.2.14 port 50000:3: drop connection #0 from [6.6.6.6]:1 on [192.0.2.1]:22 penalty: caused crash [preauth]`,
      `${H}Bad protocol version identification 'Session process 1 unpriv child crash for connection from 6.6.6.6 to 192.0.2.1' from 192.0.2.15 port 50001`,
      `${H}banner exchange: Connection from 192.0.2.16 port 50002: error: session process 1 for connection from 6.6.6.6 to 192.0.2.1 killed by signal 11`,
      `${H}Connection closed by authenticating user drop connection #0 from [6.6.6.6]:1 on 192.0.2.17 port 50003 [preauth]`,
    ],
    "all",
  ).flat();
  assert.deepEqual(
    others.map((e) => [e.event.action, e.source?.ip]),
    [
      ["ssh_bad_banner", "192.0.2.15"],
      ["ssh_bad_banner", "192.0.2.16"],
      ["ssh_preauth_disconnect", "192.0.2.17"],
    ],
  );
  assert.ok(others.every((e) => !LISTENER_ACTIONS.includes(e.event.action)));
});

test("modes: pre-auth disconnects are failures in ddos, negotiation failures in extra", () => {
  const closed = `${H}Connection closed by authenticating user root 192.0.2.15 port 46000 [preauth]`;
  none(closed, "normal");
  none(closed, "extra");
  const d = fail(closed, "ddos");
  assert.equal(d.event.action, "ssh_preauth_disconnect");
  assert.equal(d.user?.name, "root");
  assert.deepEqual(d.source, { ip: "192.0.2.15", port: 46000 });
  assert.equal(fail(closed, "aggressive").event.action, "ssh_preauth_disconnect");

  const abandoned = `${H}Disconnected from invalid user support 192.0.2.16 port 46001 [preauth]`;
  none(abandoned, "normal");
  assert.equal(fail(abandoned, "extra").event.action, "ssh_auth_abandoned");
  assert.equal(fail(abandoned, "ddos").event.action, "ssh_auth_abandoned");

  const nego = `${H}Unable to negotiate with 192.0.2.17 port 46002: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]`;
  none(nego, "normal");
  none(nego, "ddos");
  const n = fail(nego, "extra");
  assert.equal(n.event.action, "ssh_negotiation_failed");
  assert.equal(n.event.reason, "no matching host key type found");
  assert.deepEqual(n.event.category, ["network"]);

  const ddos: [string, string][] = [
    [`${H}Did not receive identification string from 192.0.2.18 port 46003`, "ssh_no_identification"],
    [`${H}Bad protocol version identification 'GET / HTTP/1.1' from 192.0.2.19 port 46004`, "ssh_bad_banner"],
    [`${H}banner exchange: Connection from 192.0.2.20 port 46005: invalid format`, "ssh_bad_banner"],
    [
      `${H}ssh_dispatch_run_fatal: Connection from 192.0.2.21 port 46006: message authentication code incorrect [preauth]`,
      "ssh_protocol_error",
    ],
    [`${H}fatal: Timeout before authentication for 192.0.2.22 port 46007`, "ssh_preauth_timeout"],
    [
      `${H}Timeout before authentication for connection from 192.0.2.23 to 192.0.2.1, pid = 4242`,
      "ssh_preauth_timeout",
    ],
    [`${H}Connection reset by 192.0.2.24 port 46008 [preauth]`, "ssh_preauth_disconnect"],
    [
      `${H}Protocol major versions differ for 192.0.2.26 port 46010: SSH-2.0-OpenSSH_7.4 vs. SSH-1.5-Nmap-SSH1-Hostkey`,
      "ssh_bad_banner",
    ],
  ];
  for (const [line, action] of ddos) {
    none(line, "normal");
    assert.equal(fail(line, "ddos").event.action, action, line);
  }
  assert.equal(
    fail(
      `${H}Received disconnect from 192.0.2.25 port 46009:14: No supported authentication methods available [preauth]`,
      "extra",
    ).event.action,
    "ssh_no_auth_methods",
  );
});

test("a closing pre-auth failure reports the pending failure instead of adding its own", () => {
  const evs = feed(
    [
      `${at(6500)}Disconnecting: Too many authentication failures for root [preauth]`,
      `${at(6500)}Connection closed by 192.0.2.70 port 1234 [preauth]`,
    ],
    "all",
  );
  assert.deepEqual(failures(evs[0]!), []);
  assert.deepEqual(
    failures(evs[1]!).map((e) => [e.event.action, e.source?.ip, e.user?.name]),
    [["ssh_too_many_auth_failures", "192.0.2.70", "root"]],
  );
});

test("6.8 to 7.x: `Disconnecting: Too many authentication failures` after the maximum-attempts line counts once", () => {
  // OpenSSH 7.4 (RHEL 7) logs both lines for one connection that exceeded MaxAuthTries; the first one counted.
  const lines = [
    `${at(6510)}Failed password for root from 192.0.2.71 port 1235 ssh2`,
    `${at(6510)}error: maximum authentication attempts exceeded for root from 192.0.2.71 port 1235 ssh2 [preauth]`,
    `${at(6510)}Disconnecting: Too many authentication failures [preauth]`,
  ];
  for (const mode of ["normal", "aggressive", "all"]) {
    assert.deepEqual(
      feed(lines, mode).map((l) => failures(l).map((e) => [e.event.action, e.source?.ip, e.source?.port])),
      [[["ssh_auth_failed", "192.0.2.71", 1235]], [["ssh_max_auth_attempts", "192.0.2.71", 1235]], []],
      mode,
    );
  }
  // Without the maximum-attempts line (sshd before 6.8) it is the failure, as before.
  const old = feed([lines[0]!, lines[2]!], "normal");
  assert.deepEqual(
    failures(old[1]!).map((e) => [e.event.action, e.source?.ip]),
    [["ssh_too_many_auth_failures", "192.0.2.71"]],
  );
});

test("not failures: post-auth disconnects, reverse-mapping warnings, unknown lines", () => {
  for (const l of [
    `${H}Disconnected from user alice 192.0.2.30 port 41000`,
    `${H}Received disconnect from 192.0.2.30 port 41000:11: disconnected by user`,
    `${H}Address 192.0.2.31 maps to h.example.com, but this does not map back to the address`,
    `${H}Server listening on 0.0.0.0 port 22.`,
    `${H}Postponed publickey for alice from 192.0.2.30 port 41000 ssh2 [preauth]`,
    `${H}pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)`,
    `${H}Disconnecting invalid user x 192.0.2.32 port 1: Too many authentication failures [preauth]`,
  ]) {
    none(l, "all");
  }
});

test("a user name where the connection id wants an address is not read as a host name", () => {
  // sshd writes `invalid user USER ADDR` (two spaces for an empty user): `invalid user admin` names no peer.
  for (const tail of [
    "Disconnecting invalid user admin: Too many authentication failures [preauth]",
    "Connection closed by invalid user admin [preauth]",
    "Disconnected from authenticating user root [preauth]",
  ]) {
    const evs = feed([`${H}Invalid user admin from 192.0.2.40 port 22`, `${H}${tail}`], "aggressive")[1]!;
    for (const e of evs) {
      assert.equal(e.source?.domain, undefined, `${tail}: ${JSON.stringify(e)}`);
      assert.notEqual(e.event.action, "ssh_multiple_users", tail);
    }
  }
  // The empty user name sshd can print keeps its two spaces and still names the peer.
  const e = fail(`${H}Connection closed by invalid user  192.0.2.41 port 22 [preauth]`, "aggressive");
  assert.deepEqual(e.source, { ip: "192.0.2.41", port: 22 });
  assert.equal(e.user?.name, "");
});

test("spoofing: an address inside the user name is never taken", () => {
  const cases = [
    `${H}Failed password for invalid user x from 203.0.113.9 port 22 ssh2 from 192.0.2.14 port 50000 ssh2`,
    `${H}Failed password for invalid user x from 203.0.113.9 port 22 ssh2: RSA SHA256:abc from 192.0.2.14 port 50000 ssh2`,
    `${H}Failed password for invalid user from 203.0.113.9 from 192.0.2.14 port 50000 ssh2`,
    `${H}Invalid user x from 203.0.113.9 port 22 from 192.0.2.14 port 50000`,
    `${H}error: maximum authentication attempts exceeded for invalid user a from 203.0.113.9 port 1 ssh2 from 192.0.2.14 port 50000 ssh2 [preauth]`,
    `${H}Accepted password for x from 203.0.113.9 port 22 ssh2 from 192.0.2.14 port 50000 ssh2`,
  ];
  for (const l of cases) {
    const evs = feed([l], "all")[0]!;
    assert.equal(evs.length, 1, l);
    assert.deepEqual(evs[0]!.source, { ip: "192.0.2.14", port: 50000 }, l);
  }
  const u = fail(
    `${H}Failed password for invalid user x from 203.0.113.9 port 22 ssh2 from 192.0.2.14 port 50000 ssh2`,
  );
  assert.equal(u.user?.name, "x from 203.0.113.9 port 22 ssh2");

  const c = fail(
    `${H}Connection closed by authenticating user a 203.0.113.9 port 22 192.0.2.14 port 50000 [preauth]`,
  );
  assert.equal(c.user?.name, "a 203.0.113.9 port 22");
  assert.deepEqual(c.source, { ip: "192.0.2.14", port: 50000 });
  const b = fail(
    `${H}Bad protocol version identification 'x' from 203.0.113.9 port 22' from 192.0.2.14 port 50000`,
  );
  assert.deepEqual(b.source, { ip: "192.0.2.14", port: 50000 });
});

test("spoofing: key info, client disconnect text, PAM ruser and change-of-user reasons", () => {
  // A certificate's key ID is the client's: a `from` clause inside it is not followed by the line's end.
  const cert = fail(
    `${H}Failed publickey for invalid user admin from 192.0.2.14 port 50000 ssh2: RSA-CERT SHA256:abc ID x from 203.0.113.9 port 22 ssh2 (serial 7) CA ED25519 SHA256:def`,
  );
  assert.deepEqual(cert.source, { ip: "192.0.2.14", port: 50000 });
  const cert2 = fail(
    `${H}Failed publickey for invalid user admin from 192.0.2.14 port 50000 ssh2: RSA-CERT SHA256:abc ID x from 203.0.113.9 port 22 ssh2: y (serial 7) CA ED25519 SHA256:def`,
  );
  assert.deepEqual(cert2.source, { ip: "192.0.2.14", port: 50000 });
  // The same text with a trailing complete clause is what a user name `admin from 192.0.2.14 port 50000 ssh2:
  // RSA ...` produces for a password (sshd writes no key info for passwords): the trailing clause is sshd's...
  const trailing = `${at(6600)}Failed password for invalid user admin from 192.0.2.14 port 50000 ssh2: RSA SHA256:abc from 203.0.113.9 port 4444 ssh2`;
  assert.equal(fail(trailing).source?.ip, "203.0.113.9");
  // ...unless the connection is already known to come from the other address.
  assert.equal(
    fail([`${at(6600)}Connection from 192.0.2.14 port 50000 on 192.0.2.1 port 22`, trailing]).source?.ip,
    "192.0.2.14",
  );

  const r = fail(
    `${H}Received disconnect from 192.0.2.14 port 50000:3: x from 203.0.113.9 port 1:3: Auth fail [preauth]`,
  );
  assert.deepEqual(r.source, { ip: "192.0.2.14", port: 50000 });

  const pam = feed([
    `${at(6601)}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=a rhost=203.0.113.9 b rhost=192.0.2.14`,
  ])[0]!;
  assert.equal(pam[0]?.source?.ip, "192.0.2.14");
  assert.equal(pam[0]?.user?.name, "a rhost=203.0.113.9 b");
  // sshd's own empty ruser: the rhost right after it is the daemon's, whatever a module writes as `user=`
  // (pam_sss logs the name as given); the next line of the connection keeps that address too.
  const sss = feed([
    `${at(6603)}pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50  user=a from 198.51.100.7 port 1 ssh2: rhost=198.51.100.7`,
    `${at(6603)}Failed password for a from 198.51.100.7 port 1 ssh2: rhost=198.51.100.7 from 203.0.113.50 port 22 ssh2`,
  ]);
  assert.equal(sss[0]?.[0]?.source?.ip, "203.0.113.50");
  assert.equal(sss[0]?.[0]?.user?.name, "a from 198.51.100.7 port 1 ssh2: rhost=198.51.100.7");
  assert.equal(failures(sss[1]!)[0]?.source?.ip, "203.0.113.50");

  const ch = fail([
    `${at(6602)}Invalid user a from 192.0.2.14 port 50000`,
    `${at(6602)}Disconnecting invalid user a 192.0.2.14 port 50000: Change of username or service not allowed: (a,ssh-connection) -> (b 203.0.113.9 port 1: Change of username or service not allowed: (b,ssh-connection) [preauth]`,
  ]);
  assert.equal(ch.event.action, "ssh_user_change_refused");
  assert.deepEqual(ch.source, { ip: "192.0.2.14", port: 50000 });
});

test("spoofing: a change-of-username line names the address before sshd's own marker, never another", () => {
  // The user name `x 198.51.100.1 port 22: Change of username or service not allowed: (x,` holds a whole
  // marker; sshd cuts its reason to 100 bytes, so the reason repeats only the start of that name.
  const user = "x 198.51.100.1 port 22: Change of username or service not allowed: (x,";
  const invalid = `${at(6700)}Invalid user ${user} from 203.0.113.5 port 4444`;
  const change = `${at(6700)}Disconnecting invalid user ${user} 203.0.113.5 port 4444: Change of username or service not allowed: (x 198.51.100.1 port 22: Change of username or service no [preauth]`;
  for (const lines of [[invalid, change], [change]]) {
    const { events, rejected } = feedRejecting(lines);
    const e = onlyFailure(events.at(-1)!);
    assert.equal(e.event.action, "ssh_user_change_refused");
    assert.deepEqual(e.source, { ip: "203.0.113.5", port: 4444 }, lines.length.toString());
    assert.equal(e.user?.name, user);
    assert.deepEqual(rejected, []);
  }
  // A reason that neither holds `(U,` whole nor runs to sshd's 100 bytes leaves the fake marker (whose short
  // reason `(x,` matches its id) against sshd's: the connection's address decides, else the line is dropped.
  const cut = `${at(6701)}Disconnecting invalid user ${user} 203.0.113.5 port 4444: Change of username or service not allowed: (x 198.51.100.1 port 22 [preauth]`;
  const alone = feedRejecting([cut]);
  assert.deepEqual(alone.events, [[]]);
  assert.deepEqual(alone.rejected, ["sshd: change of user name: several peer addresses"]);
  const known = feedRejecting([`${at(6701)}Invalid user ${user} from 203.0.113.5 port 4444`, cut]);
  assert.deepEqual(onlyFailure(known.events[1]!).source, { ip: "203.0.113.5", port: 4444 });
  // A connection known by another address than every marker names: dropped, the connection keeps its address.
  const other = feedRejecting([
    `${at(6702)}Connection from 192.0.2.60 port 5000 on 192.0.2.1 port 22`,
    change.replace(at(6700), at(6702)),
    `${at(6702)}Connection closed by 192.0.2.60 port 5000 [preauth]`,
  ]);
  assert.deepEqual(other.events[1], []);
  assert.deepEqual(other.rejected, ["sshd: change of user name: several peer addresses"]);
  assert.equal(onlyFailure(other.events[2]!).source?.ip, "192.0.2.60");
  // A long user name (the reason cut inside it) with one marker is read.
  const long = "u".repeat(70);
  const l = fail(
    `${at(6703)}Disconnecting authenticating user ${long} 192.0.2.61 port 5001: Change of username or service not allowed: (${long.slice(0, 56)} [preauth]`,
  );
  assert.deepEqual(l.source, { ip: "192.0.2.61", port: 5001 });
});

test("spoofing: a certificate's key ID never supplies the peer, nor replaces the connection's address", () => {
  // sshd writes `... from ADDR port N ssh2: TYPE-CERT FP ID KEYID (serial N) CA TYPE FP`; the key ID is the
  // client's. A plain key type followed by `(serial N) CA ...` is not key info sshd writes.
  const keyId = "x from 198.51.100.1 port 22 ssh2: RSA SHA256:bbb";
  const tail = `ssh2: ED25519-CERT SHA256:AAAA ID ${keyId} (serial 0) CA ED25519 SHA256:CCCC`;
  const evs = feed([
    `${at(6800)}Failed publickey for root from 203.0.113.5 port 4444 ${tail}`,
    `${at(6800)}Disconnecting: Too many authentication failures for root [preauth]`,
  ]);
  assert.deepEqual(
    evs[0]!.map((e) => [e.event.action, e.source, e.user?.name]),
    [["ssh_publickey_rejected", { ip: "203.0.113.5", port: 4444 }, "root"]],
  );
  const t = onlyFailure(evs[1]!);
  assert.equal(t.event.action, "ssh_too_many_auth_failures");
  assert.deepEqual(t.source, { ip: "203.0.113.5", port: 4444 });
  const inv = fail(`${at(6801)}Failed publickey for invalid user root from 203.0.113.5 port 4444 ${tail}`);
  assert.equal(inv.event.action, "ssh_auth_failed");
  assert.deepEqual(inv.source, { ip: "203.0.113.5", port: 4444 });
  assert.equal(inv.user?.name, "root");

  // A key ID holding a whole certificate clause reads both ways (the user name could hold the first one):
  // only the connection's known address decides, else the line is dropped and counted.
  const both = `Failed publickey for root from 203.0.113.5 port 4444 ssh2: ED25519-CERT SHA256:AAAA ID x from 198.51.100.1 port 22 ssh2: ED25519-CERT SHA256:bbb ID y (serial 0) CA ED25519 SHA256:CCCC`;
  const amb = feedRejecting([`${at(6802)}${both}`, `${at(6802)}Connection closed by 203.0.113.5 port 4444`]);
  assert.deepEqual(amb.events[0], []);
  assert.deepEqual(amb.rejected, ["sshd: several peer addresses"]);
  for (const addr of ["203.0.113.5", "198.51.100.1"]) {
    const k = feed([
      `${at(6803)}Connection from ${addr} port 4444 on 192.0.2.1 port 22`,
      `${at(6803)}${both}`,
    ]);
    assert.equal(k[1]![0]?.source?.ip, addr);
  }

  // A line naming several addresses, none the connection's, is dropped: later lines keep the known address.
  const kept = feedRejecting([
    `${at(6804)}Connection from 192.0.2.62 port 5002 on 192.0.2.1 port 22`,
    `${at(6804)}Failed publickey for invalid user root from 203.0.113.5 port 4444 ${tail}`,
    `${at(6804)}Disconnecting: Too many authentication failures for root [preauth]`,
  ]);
  assert.deepEqual(kept.events[1], []);
  assert.deepEqual(kept.rejected, ["sshd: peer address differs from the connection's"]);
  assert.deepEqual(onlyFailure(kept.events[2]!).source, { ip: "192.0.2.62", port: 5002 });
});

test("journal lines with a kernel prefix, Solaris message ids and RFC 5424", () => {
  const j = fail(
    "srv sshd[31000]: kernel: [  811.123456] Failed password for root from 192.0.2.90 port 2222 ssh2",
  );
  assert.deepEqual(j.source, { ip: "192.0.2.90", port: 2222 });
  assert.equal(j["@timestamp"], time.reference());
  const s = fail(
    `${H}[ID 800047 auth.info] Failed keyboard-interactive for <invalid username> from 192.0.2.91 port 2 ssh2`,
  );
  assert.equal(s.user?.name, "<invalid username>");
  const r = fail(
    "<38>1 2024-06-30T10:00:00.5+02:00 h.example.org sshd 901 - - Failed password for bob from 192.0.2.92 port 3 ssh2",
  );
  assert.equal(r["@timestamp"], Date.UTC(2024, 5, 30, 8, 0, 0, 500));
});

test("the definition: programs, modes and actions", () => {
  assert.deepEqual([...sshd.programs!], ["sshd", "sshd-session", "sshd-auth"]);
  assert.equal(Object.keys(sshd.modes)[0], "normal");
  for (const list of Object.values(MODES)) for (const a of list) assert.ok(ACTIONS.includes(a));
  for (const a of ACTIONS) assert.match(a, /^ssh_[a-z_]+$/);
  // The listener's lines are in no fail2ban mode: normal, ddos and extra keep fail2ban's results.
  for (const a of LISTENER_ACTIONS) {
    assert.ok(ACTIONS.includes(a as never), a);
    assert.ok(MODES.aggressive!.includes(a as never), a);
    for (const m of ["normal", "ddos", "extra"]) assert.ok(!MODES[m]!.includes(a as never), `${a} in ${m}`);
  }
});

test("connection state is bounded and evicts the least recently used connections", () => {
  const t = new ConnTable(4);
  const k = (pid: number) => t.key("h", pid, true);
  for (let pid = 1; pid <= 3; pid++) t.create(k(pid), "sshd").addr = `192.0.2.${pid}`;
  assert.equal(t.get(k(1), "sshd")?.addr, "192.0.2.1"); // touched: kept
  for (let pid = 4; pid <= 6; pid++) t.create(k(pid), "sshd");
  assert.ok(t.size <= 4);
  assert.equal(t.get(k(2), "sshd"), undefined);
  assert.equal(t.get(k(3), "sshd"), undefined);
  assert.equal(t.get(k(6), "sshd")?.program, "sshd");
  assert.equal(t.get(k(6), "sshd-session"), undefined);
  assert.equal(t.key("other", 6, false), -1);
  t.delete(k(6), "sshd");
  assert.equal(t.get(k(6), "sshd"), undefined);

  // Through the parser: connections that never log their end do not grow the state without bound. The parser
  // keeps 20,000 connections: after 100,000 the first ones are forgotten (a later line of theirs cannot name
  // the peer), the latest are still known.
  const lines: string[] = [];
  for (let pid = 0; pid < 100_000; pid++)
    lines.push(`${at(pid)}Connection from 192.0.2.1 port ${pid % 60000} on 192.0.2.2 port 22`);
  const kex = "error: kex_exchange_identification: Connection closed by remote host";
  lines.push(`${at(0)}${kex}`, `${at(99_999)}${kex}`);
  const evs = feed(lines, "all");
  assert.deepEqual(
    evs.slice(-2).map((l) => l.map((e) => [e.event.action, e.source?.ip, e.process?.pid])),
    [[], [["ssh_no_identification", "192.0.2.1", 99_999]]],
  );
});

test("1 MB hostile lines cost work linear in their length", () => {
  // Each line is built from n, the length of its repeated hostile part; assertLinearWork parses it at n/2 and
  // n (1 MB) and checks the characters examined (never the time), then the events are checked.
  const cases: [(n: number) => string, [string, string | null][]][] = [
    [
      (n) =>
        `${H}Failed password for invalid user ${" from 203.0.113.9 port 22 ssh2:".repeat(n / 30)} from 192.0.2.14 port 50000 ssh2`,
      [["ssh_auth_failed", "192.0.2.14"]],
    ],
    [(n) => `${H}Failed password for ${" from ".repeat(n / 6)}`, []],
    [(n) => `${H}Failed password for x from ${"1".repeat(n)}`, []],
    [(n) => `${H}Invalid user ${"a from b ".repeat(n / 9)}`, [["ssh_invalid_user", null]]],
    [
      (n) =>
        `${H}Connection closed by authenticating user ${"1.2.3.4 port 5 ".repeat(n / 15)}192.0.2.14 port 50000 [preauth]`,
      [["ssh_preauth_disconnect", "192.0.2.14"]],
    ],
    [
      (n) => `${H}Received disconnect from 192.0.2.14 port 1:3: ${": Auth fail".repeat(n / 11)}`,
      [["ssh_disconnect_auth_fail", "192.0.2.14"]],
    ],
    [
      (n) =>
        `${H}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=${" rhost=".repeat(n / 7)}`,
      [["ssh_pam_module_failure", null]],
    ],
    [
      (n) =>
        `${H}Disconnecting invalid user ${": Change of username or service not allowed: (".repeat(n / 48)}`,
      [],
    ],
    [(n) => `${H}User ${" from x not allowed because".repeat(n / 28)}`, [["ssh_user_not_allowed", null]]],
    [
      (n) => `${H}Bad protocol version identification '${"' from 203.0.113.9 port 1".repeat(n / 26)}`,
      [["ssh_bad_banner", "203.0.113.9"]],
    ],
    [(n) => `${H}SSH: Server;Ltype: Kex;Remote: ${"-".repeat(n)}`, []],
    [(n) => `${H}error: ${"error: ".repeat(n / 7)}`, []],
    [
      (n) =>
        `${H}Failed publickey for x${" from 203.0.113.9 port 22 ssh2: RSA-CERT SHA256:x ID".repeat(n / 50)}`,
      [],
    ],
    [
      (n) => `${H}Accepted publickey for x${" from 203.0.113.9 port 22 ssh2: RSA SHA256:x,".repeat(n / 45)}`,
      [],
    ],
    [
      (n) =>
        `${H}Disconnecting invalid user x${" 1.2.3.4 port 5: Change of username or service not allowed: (x".repeat(n / 64)}`,
      [["ssh_user_change_refused", "1.2.3.4"]],
    ],
    [(n) => `${H}drop connection #0 from [${"1".repeat(n)}`, []],
    [(n) => `${H}drop connection #0 from [192.0.2.14]:1 on [${":".repeat(n)}`, []],
    [
      (n) => `${H}drop connection #0 from [192.0.2.14]:1 on [192.0.2.1]:22 penalty: ${"x ".repeat(n / 2)}`,
      [["ssh_penalty", "192.0.2.14"]],
    ],
    [(n) => `${H}srclimit_penalise: ${"1".repeat(n)}`, []],
    [(n) => `${H}srclimit_penalise: ipv4: new 192.0.2.14/32 active penalty of ${"1".repeat(n)}`, []],
    [(n) => `${H}srclimit_penalise: ${"1/32: ".repeat(n / 6)}`, []],
    [
      (n) =>
        `${H}srclimit_penalise: 192.0.2.14/32: activating ipv4 penalty of 1 seconds for penalty: ${"/32 ".repeat(n / 4)}`,
      [["ssh_penalty", "192.0.2.14"]],
    ],
    [(n) => `${H}error: session process ${"1".repeat(n)}`, []],
    [(n) => `${H}Session process 1 unpriv child crash for connection from ${"1".repeat(n)}`, []],
    [
      (n) =>
        `${H}error: session process 1 for connection from 192.0.2.14 to 192.0.2.1 killed by signal 11${" (early)".repeat(n / 8)}`,
      [],
    ],
  ];
  for (const [make, expected] of cases) {
    const evs = assertLinearWork(make, (line) => feed([line], "all")[0]!);
    // The spoofing shapes give the address sshd wrote (the rightmost, after the repeated text).
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip ?? null]),
      expected,
      make(64),
    );
  }
});

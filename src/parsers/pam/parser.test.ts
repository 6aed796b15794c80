import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, eachLineHarness } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";

const { run, one } = eachLineHarness("pam");

const brief = (e: SecurityEvent) => [
  e.event.action,
  e.event.outcome,
  e.source?.ip ?? e.source?.domain,
  e.user?.name,
];

test("remote authentication failures of any program, all header shapes", () => {
  const a = one(
    "May 30 10:00:00 bastion sshd[4004]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.10  user=root",
  );
  assert.deepEqual(brief(a), ["pam_auth_failure", "failure", "192.0.2.10", "root"]);
  assert.deepEqual(a.pam, {
    module: "pam_unix",
    service: "sshd",
    type: "auth",
    logname: "",
    tty: "ssh",
    ruser: "",
  });
  assert.equal(a.event.dataset, "pam");
  assert.deepEqual(a.process, { name: "sshd", pid: 4004 });
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-05-30T10:00:00.000Z");

  const b = one(
    "May 30 10:00:01 ftp vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=guest rhost=::ffff:192.0.2.11",
  );
  assert.deepEqual(brief(b), ["pam_auth_failure", "failure", "192.0.2.11", "guest"]);

  const c = one(
    "May 30 10:00:02 ftp proftpd: (pam_unix) authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=Scanner.Example.NET  user=mark",
  );
  assert.deepEqual(brief(c), ["pam_auth_failure", "failure", "scanner.example.net", "mark"]);

  const legacy =
    "May 30 10:00:03 mail pop(pam_unix)[4920]: authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=192.0.2.12 user=mailuser";
  // Linux-PAM < 0.99.2 form: not in the default mode (as in fail2ban), reported in aggressive/all.
  assert.deepEqual(run([legacy]), [[]]);
  const d = one(legacy, "aggressive");
  assert.deepEqual(brief(d), ["pam_legacy_auth_failure", "failure", "192.0.2.12", "mailuser"]);
  assert.deepEqual([(d.pam as { service: string }).service, d.process?.pid], ["pop", 4920]);

  const e = one(
    "May 30 10:00:04 idm sshd[1]: pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::12 user=alice",
  );
  assert.deepEqual(brief(e), ["pam_auth_failure", "failure", "2001:db8::12", "alice"]);

  const f = one(
    "May 30 10:00:05 ftp vsftpd: pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=192.0.2.13",
  );
  assert.deepEqual(brief(f), ["pam_auth_failure", "failure", "192.0.2.13", "x"]);
});

test("injected rhost= in user names: the daemon's rhost wins", () => {
  // Injection in ruser (no user= field): only the last rhost is followed by the end of the line.
  const a = one(
    "May 30 10:01:00 h daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=203.0.113.9 rhost=192.0.2.1",
  );
  assert.deepEqual(brief(a), ["pam_auth_failure", "failure", "192.0.2.1", "test rhost=203.0.113.9"]);
  // Injection in user= after an empty ruser: the first rhost is the daemon's.
  const b = one(
    "May 30 10:01:01 h sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2 user=test rhost=203.0.113.9",
  );
  assert.deepEqual(brief(b), ["pam_auth_failure", "failure", "192.0.2.2", "test rhost=203.0.113.9"]);
  // vsftpd writes the same (hostile) login name as ruser and user: the split where they are equal wins.
  const name = "x rhost=203.0.113.9 user=y";
  const c = one(
    `May 30 10:01:02 h vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=${name} rhost=192.0.2.3 user=${name}`,
  );
  assert.deepEqual(brief(c), ["pam_auth_failure", "failure", "192.0.2.3", name]);
  // Several possible splits and no way to tell: the failure is kept without a source.
  const d = one(
    "May 30 10:01:03 h x: pam_unix(x:auth): authentication failure; logname= uid=0 euid=0 tty=x ruser=bob rhost=192.0.2.4 user=a rhost=203.0.113.9",
  );
  assert.deepEqual(brief(d), ["pam_auth_failure", "failure", undefined, undefined]);
  assert.match(d.event.reason!, /ambiguous/);
});

test("a ruser starting with ` rhost=` does not pass for an empty one when it is equal to user", () => {
  const head =
    "Jun  1 10:00:00 host vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp";
  // A vsftpd client at 203.0.113.5 whose login name is ` rhost=6.6.6.6 user=x`: read as an empty ruser, the first
  // rhost is 6.6.6.6; read as vsftpd writes it (ruser = user), it is 203.0.113.5. The same text is also an sshd
  // client at 6.6.6.6 whose user name carries the rest: no source rather than either guess.
  const login = " rhost=6.6.6.6 user=x";
  const a = one(`${head} ruser=${login} rhost=203.0.113.5 user=${login}`);
  assert.deepEqual(brief(a), ["pam_auth_failure", "failure", undefined, undefined]);
  assert.match(a.event.reason!, /ambiguous/);
  // The same with pam_unix's two spaces before user=.
  const login2 = " rhost=6.6.6.6  user=x";
  const b = one(`${head} ruser=${login2} rhost=203.0.113.5  user=${login2}`);
  assert.equal(b.source, undefined);
  // Both readings naming the same host: that host.
  const login3 = " rhost=203.0.113.5 user=x";
  const c = one(`${head} ruser=${login3} rhost=203.0.113.5 user=${login3}`);
  assert.deepEqual(c.source, { ip: "203.0.113.5" });
  // A login name that only looks like the start of the fields, without a second reading: as before.
  const d = one(`${head} ruser= rhost=203.0.113.6  user=x rhost=6.6.6.6`);
  assert.deepEqual(d.source, { ip: "203.0.113.6" });
});

test("local failures (empty rhost) are failures without source, reported outside the normal mode", () => {
  const line =
    "May 30 10:02:00 h sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice";
  assert.deepEqual(run([line]), [[]]);
  const e = one(line, "aggressive");
  assert.deepEqual(brief(e), ["pam_local_auth_failure", "failure", undefined, "alice"]);
  assert.equal(e.source, undefined);
  assert.equal((e.pam as { logname: string }).logname, "alice");
  const su = one(
    "May 30 10:02:01 h su[77]: pam_unix(su:auth): authentication failure; logname=bob uid=1001 euid=0 tty=pts/1 ruser=bob rhost= user=root",
    "aggressive",
  );
  assert.deepEqual(brief(su), ["pam_local_auth_failure", "failure", undefined, "root"]);
});

test("unknown users, lockouts and sessions", () => {
  const evs = run(
    [
      "May 30 10:03:00 h sshd[5]: pam_unix(sshd:auth): check pass; user unknown",
      "May 30 10:03:01 h sshd[5]: pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked",
      "May 30 10:03:02 h CRON[6]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
      "May 30 10:03:03 h sshd[7]: pam_unix(sshd:session): session opened for user deploy by (uid=0)",
      "May 30 10:03:04 h CRON[6]: pam_unix(cron:session): session closed for user root",
    ],
    "aggressive",
  );
  assert.deepEqual(
    evs.map((l) => l.map(brief)),
    [
      [["pam_user_unknown", "failure", undefined, undefined]],
      [["pam_account_locked", "failure", undefined, "root"]],
      [["pam_session_opened", "success", undefined, "root"]],
      [["pam_session_opened", "success", undefined, "deploy"]],
      [["pam_session_closed", "success", undefined, "root"]],
    ],
  );
  // In the normal mode the failures without a remote host are dropped, sessions stay.
  assert.deepEqual(
    run(["May 30 10:03:00 h sshd[5]: pam_unix(sshd:auth): check pass; user unknown"]).map((l) => l.length),
    [0],
  );
});

test("other messages yield nothing", () => {
  const evs = run([
    "May 30 10:04:00 h sshd[5]: pam_unix(sshd:auth): conversation failed",
    "May 30 10:04:02 h sshd[5]: Failed password for pam_unix from 192.0.2.1 port 22 ssh2",
    'type=USER_AUTH msg=audit(1.0:1): op=PAM:authentication grantors=pam_unix acct="root" res=failed',
  ]);
  assert.deepEqual(
    evs.map((l) => l.length),
    [0, 0, 0],
  );
});

test("1 MB hostile lines cost work linear in their length", () => {
  // Each line is built from n, the length of its hostile part. `rhost=`, `ruser=` and `user=` are found with
  // searches (counted); the header and session regexes are anchored, and the fields before `ruser=` are matched
  // on their own slice. The scaling check on n/2 and n guards against a search repeated over the rest of the
  // line. What the count does not see is backtracking inside one of those regexes: against that, the guard is
  // how they are written (anchored, no nested repetition) and these lines' output.
  const H =
    "May 30 10:05:00 h x: pam_unix(x:auth): authentication failure; logname= uid=0 euid=0 tty=x ruser=";
  const lines: [(n: number) => string, unknown[]][] = [
    // Long user names are compared by their length.
    [(n) => H + " rhost=1.2.3.4 user=a".repeat(n / 21), [["pam_auth_failure", "1.2.3.4", 1048552]]],
    [(n) => H + "a rhost=1.2.3.4 rhost=".repeat(n / 22), [["pam_local_auth_failure", undefined, 1048557]]],
    [(n) => H + " rhost=".repeat(n / 7), [["pam_local_auth_failure", undefined, 1048565]]],
    [
      (n) =>
        `May 30 10:05:00 h x: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=x ruser=${" rhost=".repeat(n / 7)}`,
      [["pam_more_auth_failures", undefined, 1048565]],
    ],
    [(n) => `May 30 10:05:00 h x: pam_unix(x:session): session opened for user ${"a".repeat(n)}`, []],
    [(n) => `May 30 10:05:00 h ${"a".repeat(n)}(pam_unix): authentication failure;`, []],
  ];
  for (const [make, expected] of lines) {
    const [evs] = assertLinearWork(make, (line) => run([line], "aggressive"), { perChar: 10 });
    assert.deepEqual(
      evs!.map((e) => [e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
      make(22),
    );
  }
});

test("pam_unix's `N more authentication failures` at pam_end: one event standing for N attempts", () => {
  const evs = run(
    [
      "May 30 10:06:00 h sshd[8]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.20  user=root",
      "May 30 10:06:01 h sshd[9]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::20",
      "May 30 10:06:02 h sudo: PAM 2 more authentication failures; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
      "May 30 10:06:03 h sshd(pam_unix)[10]: 3 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.21  user=root",
      // The same rhost rules as the first failure's line: injected text in user= does not move the address.
      "May 30 10:06:04 h sshd[11]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.22  user=x rhost=203.0.113.9",
      "May 30 10:06:05 h sshd[11]: PAM service(sshd) ignoring max retries; 6 > 3",
    ],
    "aggressive",
  );
  assert.deepEqual(
    evs.map((l) => l.map((e) => [...brief(e), e.event.count])),
    [
      [["pam_more_auth_failures", "failure", "192.0.2.20", "root", 2]],
      [["pam_more_auth_failures", "failure", "2001:db8::20", undefined, 1]],
      [["pam_more_auth_failures", "failure", undefined, "alice", 2]],
      [["pam_more_auth_failures", "failure", "192.0.2.21", "root", 3]],
      [["pam_more_auth_failures", "failure", "192.0.2.22", "x rhost=203.0.113.9", 2]],
      [],
    ],
  );
  // Not in the normal mode (fail2ban's pam-generic does not read them).
  assert.deepEqual(
    run([
      "May 30 10:06:00 h sshd[8]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.20  user=root",
    ]),
    [[]],
  );
});

test("pam_tally/pam_tally2 over the limit, and `check pass; user (NAME) unknown`", () => {
  const evs = run(
    [
      "May 30 10:07:00 h sshd[5]: pam_tally2(sshd:auth): user root (0) tally 4, deny 3",
      "May 30 10:07:01 h sshd[5]: pam_unix(sshd:auth): check pass; user (bob) unknown",
    ],
    "aggressive",
  );
  assert.deepEqual(
    evs.map((l) => l.map(brief)),
    [
      [["pam_account_locked", "failure", undefined, "root"]],
      [["pam_user_unknown", "failure", undefined, "bob"]],
    ],
  );
});

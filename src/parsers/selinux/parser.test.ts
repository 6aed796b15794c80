import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, eachLineHarness } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";

const { run } = eachLineHarness("selinux");

const brief = (e: SecurityEvent) => [e.event.action, e.event.outcome, e.source?.ip, e.user?.name];
const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
const SUBJ = "subj=system_u:system_r:sshd_t:s0-s0:c0.c1023";

test("USER_AUTH and USER_ERR failures carry the address, the account and the audit time", () => {
  const [[a], [b]] = run([
    `type=USER_AUTH msg=audit(1717236000.250:812): pid=4100 uid=0 auid=4294967295 ses=4294967295 ${SUBJ} msg='op=password acct="admin" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.20 terminal=ssh res=failed'`,
    `type=USER_ERR msg=audit(1717236001.000:813): pid=4100 uid=0 auid=4294967295 ses=4294967295 ${SUBJ} msg='op=PAM:bad_ident acct="?" exe="/usr/sbin/sshd" hostname=192.0.2.21 addr=192.0.2.21 terminal=ssh res=failed'`,
  ]) as [[SecurityEvent], [SecurityEvent]];
  assert.deepEqual(brief(a), ["selinux_auth_failed", "failure", "192.0.2.20", "admin"]);
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-06-01T10:00:00.250Z");
  assert.deepEqual(a.process, { executable: "/usr/sbin/sshd", name: "sshd", pid: 4100 });
  assert.deepEqual(a.auditd, {
    log: { record_type: "USER_AUTH", sequence: 812, op: "password", terminal: "ssh", res: "failed" },
  });
  assert.equal(a.event.sequence, 812);
  assert.deepEqual(brief(b), ["selinux_user_error", "failure", "192.0.2.21", undefined]);
});

test("hex-encoded accounts are decoded; sshd's invalid-user placeholder is not a user name", () => {
  const [[a], [b]] = run(
    [
      `type=USER_AUTH msg=audit(1717236002.000:814): pid=1 uid=0 auid=1 ses=1 ${SUBJ} msg='op=PAM:authentication grantors=? acct=${hex("john doe")} exe="/usr/sbin/sshd" hostname=? addr=::ffff:192.0.2.22 terminal=ssh res=failed'`,
      `type=USER_LOGIN msg=audit(1717236003.000:815): pid=1 uid=0 auid=1 ses=1 ${SUBJ} msg='op=login acct=${hex("(invalid user)")} exe="/usr/sbin/sshd" hostname=? addr=192.0.2.22 terminal=ssh res=failed'`,
    ],
    "aggressive",
  ) as [[SecurityEvent], [SecurityEvent]];
  assert.deepEqual(brief(a), ["selinux_auth_failed", "failure", "192.0.2.22", "john doe"]);
  assert.deepEqual(brief(b), ["selinux_login_failed", "failure", "192.0.2.22", undefined]);
  assert.equal(b.event.reason, "invalid user");
});

test("USER_LOGIN failures are the connection's summary: counted only in aggressive mode", () => {
  const line = `type=USER_LOGIN msg=audit(1717236004.000:816): pid=1 uid=0 auid=1 ses=1 ${SUBJ} msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.23 terminal=ssh res=failed'`;
  assert.deepEqual(run([line]), [[]]);
  assert.deepEqual(
    run([line], "aggressive").map((l) => l.map(brief)),
    [[["selinux_login_failed", "failure", "192.0.2.23", "root"]]],
  );
});

test("successes, node prefix, kernel numeric type, journald and syslog forms, enriched trailer", () => {
  const evs = run([
    `node=web1 type=USER_LOGIN msg=audit(1717236005.000:817): pid=1 uid=0 auid=1000 ses=3 ${SUBJ} msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=192.0.2.24 addr=192.0.2.24 terminal=/dev/pts/0 res=success'`,
    `Jun  1 10:00:06 web1 kernel: audit: type=1100 audit(1717236006.000:818): pid=2 uid=0 auid=1 ses=1 msg='op=password acct="bob" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.25 terminal=ssh res=failed'`,
    `Jun  1 10:00:07 web1 audit[3]: USER_AUTH pid=3 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="carol" exe="/usr/sbin/sshd" hostname=192.0.2.26 addr=192.0.2.26 terminal=ssh res=failed'`,
    `Jun  1 10:00:08 web1 audispd: node=web1 type=USER_AUTH msg=audit(1717236008.000:820): pid=4 uid=0 auid=1 ses=1 msg='op=password acct="dave" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.27 terminal=ssh res=failed'\u001dUID="root" AUID="unset"`,
  ]);
  assert.deepEqual(
    evs.map((l) => l.map(brief)),
    [
      [["selinux_login_success", "success", "192.0.2.24", undefined]],
      [["selinux_auth_failed", "failure", "192.0.2.25", "bob"]],
      [["selinux_auth_failed", "failure", "192.0.2.26", "carol"]],
      [["selinux_auth_failed", "failure", "192.0.2.27", "dave"]],
    ],
  );
  assert.equal(evs[0]![0]!.host?.name, "web1");
  assert.equal(new Date(evs[2]![0]!["@timestamp"]).toISOString(), "2024-06-01T10:00:07.000Z");
});

test("local authentication failures have no source; other record types are ignored", () => {
  const evs = run([
    `type=USER_AUTH msg=audit(1717236009.000:821): pid=5 uid=1000 auid=1000 ses=2 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=pts/0 res=failed'`,
    `type=CRED_ACQ msg=audit(1717236010.000:822): pid=5 uid=0 auid=1 ses=1 msg='op=PAM:setcred acct="root" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.28 terminal=ssh res=failed'`,
    `type=SYSCALL msg=audit(1717236011.000:823): arch=c000003e syscall=59 success=yes exit=0`,
  ]);
  assert.deepEqual(
    evs.map((l) => l.map(brief)),
    [[["selinux_auth_failed", "failure", undefined, "root"]], [], []],
  );
});

test("an address injected in the account cannot replace the daemon's addr=", () => {
  // Old audit versions did not encode spaces: the last addr= (written after acct=) still wins.
  const [[a]] = run([
    `type=USER_AUTH msg=audit(1717236012.000:824): pid=6 uid=0 auid=1 ses=1 msg='op=password acct="x addr=203.0.113.9 res=failed" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.29 terminal=ssh res=failed'`,
  ]) as [[SecurityEvent]];
  assert.equal(a.source?.ip, "192.0.2.29");
});

test("1 MB hostile lines cost work linear in their length", () => {
  // Each line is built from n, the length of its hostile part. The headers are anchored regexes of bounded length
  // and the record is split into key=value tokens by searches (counted): the scaling check on n/2 and n guards
  // against a search repeated over the rest of the record.
  const H = "type=USER_AUTH msg=audit(1717236013.000:825): ";
  const lines: [(n: number) => string, unknown[]][] = [
    [
      (n) => `${H}pid=1 msg='${"addr=1.2.3.4 ".repeat(n / 13)}res=failed'`,
      [["selinux_auth_failed", "failure", "1.2.3.4", undefined]],
    ],
    // Too long to be hex-encoded: the account is the text itself (compared by its length).
    [
      (n) => `${H}pid=1 msg='acct=${"AB".repeat(n / 2)} res=failed'`,
      [["selinux_auth_failed", "failure", undefined, 1 << 20]],
    ],
    [(n) => `${H}${"'".repeat(n)}`, []],
    [(n) => `node=${"n".repeat(n)}`, []],
    [(n) => `type=${"USER_AUTH ".repeat(n / 10)}`, []],
  ];
  for (const [make, expected] of lines) {
    const [evs] = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs!.map((e) => [e.event.action, e.event.outcome, e.source?.ip, e.user?.name?.length]),
      expected,
      make(8),
    );
  }
});

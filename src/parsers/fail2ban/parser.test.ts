import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, eachLineHarness, REF } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";

const { run } = eachLineHarness("fail2ban");

const summary = (evs: SecurityEvent[]) =>
  evs.map((e) => [e.event.action, e.event.outcome, e.source?.ip, (e.rule as { name: string }).name]);

test("bans of other jails are failures of the banned address, in every log shape", () => {
  const evs = run([
    "2024-05-30 10:00:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Ban 192.0.2.1",
    "2024-05-30 10:00:01,001 fail2ban.actions: NOTICE [sendmail] Ban 192.0.2.2",
    "2024-05-30 10:00:02,001 fail2ban.actions[77]: WARNING [ssh] Ban 2001:DB8::0:1",
    "May 30 10:00:03 gw fail2ban.actions[6605]: NOTICE [postfix-auth] Ban 192.0.2.4",
    "May 30 10:00:04 gw fail2ban-server[11]: fail2ban.actions        [11]: NOTICE  [dovecot] Ban 192.0.2.5",
    "gw fail2ban[15699]: [postfix-sasl] Ban 192.0.2.6",
  ]);
  assert.deepEqual(evs.map(summary), [
    [["fail2ban_ban", "failure", "192.0.2.1", "sshd"]],
    [["fail2ban_ban", "failure", "192.0.2.2", "sendmail"]],
    [["fail2ban_ban", "failure", "2001:db8::1", "ssh"]],
    [["fail2ban_ban", "failure", "192.0.2.4", "postfix-auth"]],
    [["fail2ban_ban", "failure", "192.0.2.5", "dovecot"]],
    [["fail2ban_ban", "failure", "192.0.2.6", "postfix-sasl"]],
  ]);
  const first = evs[0]![0]!;
  assert.equal(new Date(first["@timestamp"]).toISOString(), "2024-05-30T10:00:00.388Z");
  assert.equal(first.host, undefined, "the padded logger name is not a host");
  assert.deepEqual(first.process, { name: "fail2ban-server", pid: 812 });
  assert.equal(evs[5]![0]!["@timestamp"], REF, "journal lines without a time get the reference time");
});

test("recidive's own bans, unbans, restores, increases and repeats are not failures", () => {
  const evs = run([
    "2024-05-30 10:00:00,388 fail2ban.actions        [812]: NOTICE  [recidive] Ban 192.0.2.1",
    "2024-05-30 10:10:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Unban 192.0.2.1",
    "2024-05-30 10:11:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Restore Ban 192.0.2.7",
    "2024-05-30 10:12:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Increase Ban 192.0.2.8 (2 # 2:00:00 -> 2024-05-30 12:12:00)",
    "2024-05-30 10:13:00,388 fail2ban.actions        [812]: NOTICE  [sshd] 192.0.2.8 already banned",
  ]);
  assert.deepEqual(evs.map(summary), [
    [["fail2ban_recidive_ban", "unknown", "192.0.2.1", "recidive"]],
    [["fail2ban_unban", "unknown", "192.0.2.1", "sshd"]],
    [["fail2ban_restore_ban", "unknown", "192.0.2.7", "sshd"]],
    [["fail2ban_increase_ban", "unknown", "192.0.2.8", "sshd"]],
    [["fail2ban_already_banned", "unknown", "192.0.2.8", "sshd"]],
  ]);
});

test("Found lines are failures only in the found mode", () => {
  const line =
    "2024-05-30 10:00:00,100 fail2ban.filter         [812]: INFO    [sshd] Found 192.0.2.9 - 2024-05-30 10:00:00";
  assert.deepEqual(run([line]).map(summary), [[]]);
  assert.deepEqual(run([line], "found").map(summary), [[["fail2ban_found", "failure", "192.0.2.9", "sshd"]]]);
});

test("text that is not fail2ban's own verb is ignored (no injected addresses)", () => {
  const evs = run([
    "2024-05-30 10:00:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Ban 192.0.2.1 because of 203.0.113.9",
    "2024-05-30 10:00:00,388 fail2ban.filter         [812]: DEBUG   [sshd] Ignore line: user Ban 203.0.113.9",
    "2024-05-30 10:00:00,388 fail2ban.actions        [812]: ERROR   Failed to execute ban jail 'sshd' action",
    "2024-05-30 10:00:00,388 fail2ban.actions        [812]: NOTICE  [sshd] Ban not-an-address!",
    "May 30 10:00:03 gw fail2ban.server[1]: INFO Changed logging target to /var/log/fail2ban.log",
  ]);
  assert.deepEqual(evs.map(summary), [[], [], [], [], []]);
});

test("1 MB hostile lines cost work linear in their length", () => {
  // Each line is built from n, the length of its hostile part. The logger, level and jail prefixes are anchored
  // regexes whose repetitions stop at the first character that does not fit (counted up to their match), and the
  // verb is found by its position (startsWith, lastIndexOf): the scaling check on n/2 and n guards against a
  // search repeated over the rest of the line.
  const B = "2024-05-30 10:00:00,388 fail2ban.actions        [812]: NOTICE  [sshd]";
  const lines = [
    (n: number) => `${B} Ban${" ".repeat(n)}x`,
    (n: number) => `${B}${" Ban".repeat(n / 4)}`,
    (n: number) => `gw fail2ban[1]: [${"[".repeat(n)}`,
    (n: number) => `gw fail2ban[1]: fail2ban.${"a".repeat(n)}`,
  ];
  for (const make of lines) {
    assert.deepEqual(
      assertLinearWork(make, (line) => run([line]), { perChar: 10 }),
      [[]],
      make(8),
    );
  }
});

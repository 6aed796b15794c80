import assert from "node:assert/strict";
import { test } from "node:test";
import { lineHarness, work } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("sudo");

const S = "Jun  3 10:11:12 host sudo: ";

test("sudo commands, wrong passwords and users not in sudoers", () => {
  const c = one(
    `${S}   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update ; echo x`,
  );
  assert.deepEqual(
    [
      c.event.dataset,
      c.event.action,
      c.event.outcome,
      c.user?.name,
      (c.user?.target as { name?: string } | undefined)?.name,
    ],
    ["sudo", "sudo_command", "success", "alice", "root"],
  );
  assert.deepEqual(c.process?.command_line, "/usr/bin/apt update ; echo x");
  assert.deepEqual(c.process?.working_directory, "/home/alice");
  assert.deepEqual(c.process?.tty, { name: "pts/0" });

  const f = one(
    `${S}alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls`,
  );
  assert.deepEqual(
    [f.event.action, f.event.outcome, f.event.reason],
    ["sudo_auth_failed", "failure", "3 incorrect password attempts"],
  );
  const n = one(`${S}  bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh`);
  assert.deepEqual([n.event.action, n.user?.name], ["sudo_not_allowed", "bob"]);
  // Other reasons (sudo's own notices) are not events.
  assert.deepEqual(run([`${S}alice : unable to resolve host h ; TTY=pts/0`]), []);
});

test("su attempts", () => {
  const evs = run([
    "Jun  3 10:11:12 host su: FAILED SU (to root) alice on pts/0",
    "Jun  3 10:11:12 host su[812]: Successful su for root by alice",
  ]);
  assert.deepEqual(
    evs.map((e) => [
      e.event.action,
      e.event.outcome,
      e.user?.name,
      (e.user?.target as { name?: string } | undefined)?.name,
    ]),
    [
      ["su_failed", "failure", "alice", "root"],
      ["su_session", "success", "alice", "root"],
    ],
  );
});

test("a line of 1 MB full of field separators costs work linear in its length", () => {
  // Each field used to search the rest of the line for "=": 1.6 s for the first line.
  const lines = [
    `Jun  1 10:00:00 host sudo: alice : ${" ; ".repeat(333_000)}`,
    `${S}alice : 3 incorrect password attempts ; ${"X ; ".repeat(250_000)}TTY=pts/0 ; USER=root ; COMMAND=/bin/ls`,
  ];
  const evs = lines.map((line) => {
    let out: ReturnType<typeof run> = [];
    const w = work(() => (out = run([line])));
    assert.ok(w < 20 * line.length, `${w} characters examined for a line of ${line.length}`);
    return out;
  });
  assert.deepEqual(evs[0], []);
  assert.deepEqual(
    evs[1]!.map((e) => [
      e.event.action,
      e.process?.command_line,
      e.process?.tty,
      (e.user?.target as { name?: string } | undefined)?.name,
    ]),
    [["sudo_auth_failed", "/bin/ls", { name: "pts/0" }, "root"]],
  );
});

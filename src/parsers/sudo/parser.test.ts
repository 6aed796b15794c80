import assert from "node:assert/strict";
import { test } from "node:test";
import { lineHarness, work } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("sudo");
/** The account a sudo or su event runs as (`user.target.name`). */
const targetName = (e: ReturnType<typeof one>) => (e.user?.target as { name?: string } | undefined)?.name;

const S = "Jun  3 10:11:12 host sudo: ";

test("sudo commands, wrong passwords and users not in sudoers", () => {
  const c = one(
    `${S}   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update ; echo x`,
  );
  assert.deepEqual(
    [c.event.dataset, c.event.action, c.event.outcome, c.user?.name, targetName(c)],
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
    evs.map((e) => [e.event.action, e.event.outcome, e.user?.name, targetName(e)]),
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
    evs[1]!.map((e) => [e.event.action, e.process?.command_line, e.process?.tty, targetName(e)]),
    [["sudo_auth_failed", "/bin/ls", { name: "pts/0" }, "root"]],
  );
});

test("sudo 1.9: not authorized on host, exit records, HOST/GROUP/TSID/ENV fields", () => {
  const brief = (e: ReturnType<typeof one>) => [
    e.event.action,
    e.event.outcome,
    e.user?.name,
    e.process?.command_line,
    e.process?.exit_code,
  ];
  assert.deepEqual(
    brief(
      one(
        `${S}alice : user NOT authorized on host ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh`,
      ),
    ),
    ["sudo_not_allowed", "failure", "alice", "/bin/sh", undefined],
  );
  // log_exit_status: the command's end, not a second run of it; its suffix is not part of the command.
  assert.deepEqual(
    brief(one(`${S}alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id ; EXIT=0`)),
    ["sudo_command_exit", "success", "alice", "/usr/bin/id", 0],
  );
  assert.deepEqual(
    brief(
      one(
        `${S}alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/sleep 10 ; SIGNAL=SIGKILL ; EXIT=137`,
      ),
    ),
    ["sudo_command_exit", "success", "alice", "/usr/bin/sleep 10", 137],
  );
  const f = one(
    `${S}alice : HOST=web1 ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; GROUP=wheel ; TSID=000001 ; ENV=A=b ; COMMAND=/usr/bin/env`,
  );
  assert.deepEqual(brief(f), ["sudo_command", "success", "alice", "/usr/bin/env", undefined]);
  assert.deepEqual(f.process?.tty, { name: "pts/0" });
});

test("continued parts of long lines are command text, never a reason or fields", () => {
  // sudo splits lines longer than syslog_maxlen; the rest is the user's own argument text.
  const evs = run([
    `${S}alice : (command continued) 3 incorrect password attempts`,
    `${S}alice : (command continued) x ; USER=root ; COMMAND=/usr/bin/wget http://203.0.113.9/x`,
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.event.outcome, e.user?.name, e.process?.command_line, e.event.reason]),
    [
      ["sudo_command_continued", "unknown", "alice", "3 incorrect password attempts", undefined],
      [
        "sudo_command_continued",
        "unknown",
        "alice",
        "x ; USER=root ; COMMAND=/usr/bin/wget http://203.0.113.9/x",
        undefined,
      ],
    ],
  );
});

test("a working directory or arguments with injected fields keep the whole command", () => {
  // cd "/tmp/x ; USER=nobody ; COMMAND=/bin/true" then sudo wget ...: the real command stays in command_line.
  const c = one(
    `${S}alice : TTY=pts/0 ; PWD=/tmp/x ; USER=nobody ; COMMAND=/bin/true ; USER=root ; COMMAND=/usr/bin/wget http://x`,
  );
  assert.equal(c.process?.command_line, "/bin/true ; USER=root ; COMMAND=/usr/bin/wget http://x");
  // Arguments that end like an exit record: the command is kept.
  const d = one(`${S}alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/nc -l 4444 ; EXIT=0`);
  assert.deepEqual([d.event.action, d.process?.command_line], ["sudo_command_exit", "/usr/bin/nc -l 4444"]);
});

test("log_format=json through syslog (@cee)", () => {
  const J = "Jun  3 10:11:12 host sudo[99]: @cee:";
  const doc = (type: string, extra: object) =>
    J +
    JSON.stringify({
      sudo: {
        [type]: {
          uuid: "u",
          server_time: { seconds: 1, nanoseconds: 0 },
          submituser: "alice",
          command: "/usr/bin/wget",
          runuser: "root",
          runcwd: "/home/alice",
          ttyname: "/dev/pts/0",
          runargv: ["wget", "http://203.0.113.9/a b"],
          ...extra,
        },
      },
    });
  const evs = run([
    doc("accept", {}),
    doc("reject", { reason: "3 incorrect password attempts" }),
    doc("reject", { reason: "user NOT in sudoers" }),
    doc("exit", { exit_value: 1 }),
    doc("alert", { reason: "problem with defaults entries" }),
    `${J}{"sudo":`,
  ]);
  assert.deepEqual(
    evs.map((e) => [
      e.event.action,
      e.event.outcome,
      e.user?.name,
      targetName(e),
      e.process?.command_line,
      e.process?.tty,
      e.process?.exit_code,
    ]),
    [
      [
        "sudo_command",
        "success",
        "alice",
        "root",
        "/usr/bin/wget http://203.0.113.9/a b",
        { name: "pts/0" },
        undefined,
      ],
      [
        "sudo_auth_failed",
        "failure",
        "alice",
        "root",
        "/usr/bin/wget http://203.0.113.9/a b",
        { name: "pts/0" },
        undefined,
      ],
      [
        "sudo_not_allowed",
        "failure",
        "alice",
        "root",
        "/usr/bin/wget http://203.0.113.9/a b",
        { name: "pts/0" },
        undefined,
      ],
      [
        "sudo_command_exit",
        "success",
        "alice",
        "root",
        "/usr/bin/wget http://203.0.113.9/a b",
        { name: "pts/0" },
        1,
      ],
    ],
  );
});

import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { SecurityEvent } from "../core/event.ts";
import { LineFramer } from "../framing/framer.ts";
import { Zone } from "../framing/zone.ts";
import { ParserSet } from "./dispatch.ts";
import { PARSERS, parserById } from "./registry.ts";
import { defaultMode } from "./types.ts";

const here = dirname(fileURLToPath(import.meta.url));

test("every parser folder is in the registry, and the registry is sorted", () => {
  const folders = readdirSync(here)
    .filter((f) => statSync(join(here, f)).isDirectory())
    .sort();
  assert.deepEqual(
    PARSERS.map((p) => p.id),
    folders,
  );
  assert.deepEqual(
    PARSERS.map((p) => p.id),
    [...PARSERS.map((p) => p.id)].sort(),
  );
});

test("every parser declares a default mode whose actions it can produce", () => {
  for (const p of PARSERS) {
    const mode = defaultMode(p);
    for (const [name, actions] of Object.entries(p.modes)) {
      for (const a of actions)
        assert.ok(p.actions.includes(a), `${p.id} mode ${name}: undeclared action ${a}`);
    }
    assert.ok(mode.length > 0);
  }
});

test("an unknown parser is a clear error", () => {
  assert.throws(() => parserById("nope"), /unknown parser "nope"/);
});

test("wants: the actions no rule reads are not made, and a parser that declares no fields is never asked", () => {
  const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2026, 11, 31) };
  const asked: string[] = [];
  const set = new ParserSet({
    time,
    allActions: true,
    wants: (def, action) => {
      asked.push(`${def.id} ${action}`);
      return action !== "pam_session_opened" && action !== "ssh_invalid_user";
    },
  });
  const framer = new LineFramer(time);
  const actions = (line: string) => {
    const out: SecurityEvent[] = [];
    set.parse(framer.frame(line)!, out);
    return out.map((e) => e.event.action);
  };
  assert.deepEqual(
    actions(
      "Mar  2 10:00:00 h CRON[1]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    ),
    [],
  );
  assert.deepEqual(
    actions("Mar  2 10:00:00 h CRON[1]: pam_unix(cron:session): session closed for user root"),
    ["pam_session_closed"],
  );
  assert.deepEqual(actions("Mar  2 10:00:00 h sshd[2]: Invalid user x from 192.0.2.1 port 1"), []);
  assert.deepEqual(
    actions("Mar  2 10:00:00 h sshd[2]: Failed password for invalid user x from 192.0.2.1 port 1 ssh2"),
    ["ssh_auth_failed"],
  );
  assert.deepEqual(
    actions("Mar  2 10:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls"),
    ["sudo_command"],
  );
  assert.ok(asked.length > 0);
  assert.ok(!asked.some((a) => a.startsWith("sudo ")), "sudo declares no fields");
  assert.equal(new Set(asked).size, asked.length, "each action is asked once");
});

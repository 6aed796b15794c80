/**
 * What tests of a running daemon share: classic syslog timestamps for the lines they write, a wait for a
 * condition (a hang guard with a generous limit, never a timed assertion), the stand-in firewall's commands, and
 * `portcullis run` as a child process that can be killed like a real one.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./shared.ts";

const MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `Mmm dd HH:MM:SS` in local time, as syslog writes it (the daemon reads zone-less times as local). */
export function syslogStamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Waits until `fn` returns a truthy value and returns it; fails with `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The `command` responder's argument arrays for the stand-in firewall (test/support/fake-firewall.mjs) keeping
 * its rules in `state`. JSON arrays are also YAML flow sequences, so config files can embed them as they are.
 */
export function fakeFirewall(state: string): { apply: string[]; remove: string[]; list: string[] } {
  const base = [process.execPath, join(repoRoot, "test", "support", "fake-firewall.mjs"), state];
  return {
    apply: [...base, "apply", "{target}", "{expires_s}"],
    remove: [...base, "remove", "{target}"],
    list: [...base, "list"],
  };
}

/** The stand-in firewall as YAML lines of a `responders:` list. */
export function fakeFirewallYaml(state: string): string[] {
  const f = fakeFirewall(state);
  return [
    "  - type: command",
    "    name: fakefw",
    `    apply: ${JSON.stringify(f.apply)}`,
    `    remove: ${JSON.stringify(f.remove)}`,
    `    list: ${JSON.stringify(f.list)}`,
  ];
}

/** `portcullis run --config cfg` as a child process (signals reach the daemon itself); stderr goes to `err`. */
export function spawnDaemon(cfg: string, err: (text: string) => void) {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import(${JSON.stringify(join(repoRoot, "src", "cli", "main.ts"))}).then((m) => m.main(["run", "--config", ${JSON.stringify(cfg)}])).then((c) => { process.exitCode = c; })`,
    ],
    { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr.on("data", (b: Buffer) => err(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { child, exited };
}

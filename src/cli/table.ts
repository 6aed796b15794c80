/**
 * Text for humans: plain-text tables, and the escaping of everything printed to a terminal. Log lines, user
 * names, webhook reasons and group values are written by whoever sends the logs; printed raw, an ESC, OSC or
 * BEL in them would drive the operator's terminal (change its title, rewrite what is on screen, hide lines).
 */

/** C0 controls, DEL, C1 controls, and the Unicode line separators and bidirectional overrides (which reorder
 * what is shown: "Trojan Source"). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_ONE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const JSON_UNSAFE_ONE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const hex = (c: string, digits: number) => c.charCodeAt(0).toString(16).padStart(digits, "0");
const escapeChar = (c: string) => (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`);

/** One value for a terminal: every control character (line breaks included) as `\xHH` / `\uHHHH`. */
export function printable(value: unknown): string {
  const s = String(value);
  return UNSAFE_ONE.test(s) ? s.replace(UNSAFE, escapeChar) : s;
}

/** Text composed by the CLI (several lines): the same, but line feeds kept. Values inside it should have gone
 * through `printable` already (so that a value cannot start a line of its own); this is the last guard. */
export function printableLines(text: string): string {
  return UNSAFE_ONE.test(text) ? text.replace(UNSAFE_BUT_LF, escapeChar) : text;
}

/** A JSON line that is as safe on a terminal as text: JSON.stringify escapes C0 but leaves DEL, C1 and the
 * Unicode separators and overrides raw; they are written as `\uHHHH` (the same JSON value). */
export function jsonLine(value: unknown): string {
  const s = JSON.stringify(value);
  // Tested first: a replace with a global regex costs more than a test even when nothing matches.
  return JSON_UNSAFE_ONE.test(s) ? s.replace(JSON_UNSAFE, (c) => `\\u${hex(c, 4)}`) : s;
}

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows].map((r) => r.map(printable));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const sep = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(all[0]!), sep, ...all.slice(1).map(line)].join("\n");
}

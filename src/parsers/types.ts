/**
 * The parser stage: Frame -> SecurityEvent.
 *
 * A parser is a declarative definition (id, the syslog programs it reads, its modes, a factory). Instances keep
 * per-connection state (sshd ties lines of one pid together), so callers create one instance per input stream
 * and feed it every frame in order.
 *
 * Contract for implementations:
 * - never throw on hostile or malformed input: an unrecognised line yields no event;
 * - never take an address from attacker-controlled text (user names, URLs, request lines): anchor on the text
 *   the daemon itself wrote, and prefer the rightmost daemon-written field when a user name may contain a copy;
 * - regexes must run in linear time on any input (no nested quantifiers over overlapping classes); every
 *   parser is tested on a 1 MB hostile line;
 * - addresses are canonical (core/ip.ts); host names go to `source.domain`, never resolved;
 * - set `event.dataset` to the parser id, `event.action` to one of the parser's declared actions,
 *   `event.outcome` to `failure` for anything that counts against the source.
 */
import type { SecurityEvent } from "../core/event.ts";
import type { Frame } from "../framing/frame.ts";
import type { TimeContext } from "../framing/zone.ts";

export interface LineParser {
  /** Parses one frame in stream order and appends zero or more events to `out`. */
  parse(frame: Frame, out: SecurityEvent[]): void;
}

export interface ParserCreateOptions {
  /** One of the definition's mode names, or `all` (every action; what the detection pipeline uses). */
  mode: string;
  time: TimeContext;
  /**
   * Called for a line the parser recognised but refused to read, because what it would report cannot be
   * trusted (e.g. an address the sender may have written itself): such lines are counted, not silent.
   */
  onRejected?: (reason: string) => void;
  /**
   * Whether any rule may read events of `action` (given only for parsers that declare their `fields`). A parser
   * may skip building the events of other actions, but still reads the line for its own state (sshd's
   * connections); the ParserSet drops any such event it builds anyway. Absent: every action is wanted.
   */
  wants?: (action: string) => boolean;
}

export interface ParserDefinition {
  /** Lower-case service name; also the `event.dataset` of its events. */
  id: string;
  description: string;
  /** syslog identifiers it reads, exactly (`sshd`, `sshd-session`). */
  programs?: readonly string[];
  /** syslog identifier prefixes (`postfix/`). */
  programPrefixes?: readonly string[];
  /** Envelope formats it reads regardless of program (`ecs` for JSON documents). */
  formats?: readonly Frame["format"][];
  /**
   * A cheap test for frames that no program-specific parser claimed (plain lines such as nginx's error log,
   * or PAM messages from any program). Keep it to a few `startsWith`/`includes` calls.
   */
  probe?(frame: Frame): boolean;
  /**
   * Modes, as in fail2ban's filters: each names the failure actions it reports. The first entry is the
   * default. `all` is implicit and reports every action.
   */
  modes: Readonly<Record<string, readonly string[]>>;
  /** Every `event.action` this parser can produce (failures and others), for docs and rule validation. */
  actions: readonly string[];
  /**
   * Every field its events may carry besides {@link COMMON_FIELDS} (full paths of leaf values). Declaring them
   * lets replay skip the events that no rule can read (a rule on any dataset that needs `process.command_line`
   * cannot read an event that never has one): see ParserCreateOptions.wants. test/conformance/fields.test.ts
   * checks every event the parser makes from the corpora against this list. Undeclared: nothing is skipped.
   */
  fields?: readonly string[];
  create(options: ParserCreateOptions): LineParser;
}

/** Fields every parser's events may carry: newEvent's, the frame's repeat count, and where the line came from. */
export const COMMON_FIELDS: readonly string[] = [
  "@timestamp",
  "message",
  "event.dataset",
  "event.action",
  "event.outcome",
  "event.category",
  "event.reason",
  "event.count",
  "host.name",
  "process.name",
  "process.pid",
  "log.file.path",
  "log.file.line",
];

/**
 * Whether an event of `def` may have a value at `field` (a declared leaf, or an object above one such as
 * `source`); undefined when `def` declares no fields.
 */
export function declaredFields(def: ParserDefinition): ((field: string) => boolean) | undefined {
  if (!def.fields) return undefined;
  const paths = new Set<string>();
  for (const f of [...COMMON_FIELDS, ...def.fields]) {
    for (let i = f.indexOf("."); i > 0; i = f.indexOf(".", i + 1)) paths.add(f.slice(0, i));
    paths.add(f);
  }
  return (field) => paths.has(field);
}

export function defaultMode(def: ParserDefinition): string {
  const first = Object.keys(def.modes)[0];
  if (first === undefined) throw new Error(`parser ${def.id} declares no modes`);
  return first;
}

/**
 * Whether `mode` is one of the parser's modes, or `all`. An own key only: `toString` or `constructor` are no
 * modes (`mode in def.modes` took them, and the parser then crashed on its first line).
 */
export function hasMode(def: ParserDefinition, mode: string): boolean {
  return mode === "all" || Object.hasOwn(def.modes, mode);
}

/** A parser's mode names as messages list them: its own, then `all`. */
export function modeNames(def: ParserDefinition): string[] {
  return [...Object.keys(def.modes).filter((m) => m !== "all"), "all"];
}

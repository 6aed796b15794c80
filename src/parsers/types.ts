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
  create(options: ParserCreateOptions): LineParser;
}

export function defaultMode(def: ParserDefinition): string {
  const first = Object.keys(def.modes)[0];
  if (first === undefined) throw new Error(`parser ${def.id} declares no modes`);
  return first;
}

/**
 * Arguments of the OSSIM / USM "Execute an external program" action, configured as
 * `/usr/local/bin/portcullis block SRC_IP DST_IP DST_PORT` (keywords replaced by the framework daemon,
 * unquoted, then run by a shell). Validation is strict because the values may carry attacker-controlled
 * text and the shell has already split them:
 * - 1 to 3 arguments exactly: more means a value contained spaces (or another keyword was added);
 * - SRC_IP: one address (address.ts), the attacker;
 * - DST_IP (optional, empty or 0.0.0.0 = absent: the OSSIM server writes `0.0.0.0` for an event without a
 *   destination): one address, the attacked asset, never banned (equal to SRC_IP is refused: the event names
 *   no remote attacker);
 * - DST_PORT (optional, empty or 0 = absent): 1-65535, digits only.
 * Only these keywords belong in the template: USERNAME, USERDATAn, FILENAME or PASSWORD can hold
 * attacker text, which the shell would interpret before we run.
 */
import { checkAddress } from "../address.ts";
import { quote } from "../forward.ts";

export interface BlockArgs {
  src: string;
  dst?: string;
  port?: number;
}

export type ParsedArgs =
  | { ok: true; args: BlockArgs }
  | { ok: false; path: string; value: unknown; reason: string };

/** What the OSSIM server writes for an event without a destination (as it writes port 0). */
const NO_DST = ["", "0.0.0.0", "::"];

export const USAGE = "usage: portcullis block SRC_IP [DST_IP] [DST_PORT]";

export function parseBlockArgs(argv: unknown): ParsedArgs {
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) {
    return { ok: false, path: "argv", value: null, reason: "expected a list of string arguments" };
  }
  if (argv.length < 1 || argv.length > 3) {
    return {
      ok: false,
      path: "argv",
      value: argv.length,
      reason: `expected 1 to 3 arguments (SRC_IP [DST_IP] [DST_PORT]), got ${argv.length}${
        argv.length > 3 ? ": a value held spaces or the action template has more keywords" : ""
      }`,
    };
  }
  const [srcText, dstText, portText] = argv;
  const src = checkAddress(srcText);
  if (!src.ok)
    return { ok: false, path: "SRC_IP", value: srcText, reason: `SRC_IP ${quote(srcText)}: ${src.reason}` };
  const args: BlockArgs = { src: src.ip };
  if (dstText !== undefined && !NO_DST.includes(dstText)) {
    const dst = checkAddress(dstText);
    if (!dst.ok)
      return { ok: false, path: "DST_IP", value: dstText, reason: `DST_IP ${quote(dstText)}: ${dst.reason}` };
    if (dst.ip === src.ip) {
      return {
        ok: false,
        path: "DST_IP",
        value: dstText,
        reason: "SRC_IP equals DST_IP: the event names no remote attacker",
      };
    }
    args.dst = dst.ip;
  }
  if (portText !== undefined && portText !== "" && portText !== "0") {
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      return {
        ok: false,
        path: "DST_PORT",
        value: portText,
        reason: `DST_PORT ${quote(portText)}: expected 1-65535`,
      };
    }
    args.port = port;
  }
  return { ok: true, args };
}

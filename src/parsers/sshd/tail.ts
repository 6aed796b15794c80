/**
 * Reading the peer sshd wrote, without trusting text the client chose.
 *
 * sshd logs the user name (and, for some lines, key or certificate details and the client's disconnect reason)
 * verbatim, so those parts may contain a copy of the structure that follows them (`from 203.0.113.9 port 22
 * ssh2`). The readers here anchor on the text sshd itself writes around the address:
 * - auth lines (`Failed`, `Accepted`, `Invalid user`, `maximum authentication attempts`) end with
 *   ` from ADDR[ port N[ sshD]][: key info][ [preauth]]`; the user name comes before it. A clause is "shaped"
 *   (could be sshd's) when it ends the line or, on a line that may carry key info (`publickey`, `hostbased`),
 *   when what follows is key info as sshd writes it: `TYPE FP[, info]`, or for a certificate
 *   `TYPE-CERT FP ID KEYID (serial N) CA TYPE FP[, info]`. The certificate's key ID is the client's and may
 *   hold a whole fake clause; a plain key type followed by `(serial N) CA ...` is not key info.
 *   When the connection's address is already known from an earlier line of the same process, the clause
 *   naming it wins. Otherwise the shaped clause is taken (one with a port is preferred to a port-less one,
 *   which modern sshd never writes); when several shaped clauses name different addresses the line is
 *   {@link AMBIGUOUS}: the caller drops it rather than guess.
 * - connection ids (`Connection closed by [invalid|authenticating user U ]ADDR port N`) are read from the
 *   right as well: the address and port are the last two fields.
 * Every search is bounded, and nothing here uses a regex, so a 1 MB line costs one pass.
 */
import { canonicalIp } from "../../core/ip.ts";
import { isHostName } from "../event.ts";

/** The canonical text of an address (IP) or a lower-case host name for s[from, to), else undefined. */
export function addrAt(s: string, from: number, to: number): string | undefined {
  const n = to - from;
  if (n <= 0 || n > 255) return undefined;
  const text = s.slice(from, to);
  const ip = canonicalIp(text);
  if (ip !== undefined) return ip;
  if (!isHostName(text)) return undefined;
  const name = text.toLowerCase();
  return name === "unknown" ? undefined : name;
}

/** Index of the first space at or after `from` (or the end), looking at most `max` characters. */
export function tokenEnd(s: string, from: number, max = 256): number {
  const stop = Math.min(s.length, from + max);
  for (let i = from; i < stop; i++) if (s.charCodeAt(i) === 32) return i;
  return stop === s.length ? stop : -1;
}

/** Reads 1-5 digits at `at` as a port; returns the index after them, or -1. Sets `out.port`. */
export function readPort(s: string, at: number, out: { port: number | undefined }): number {
  let v = 0;
  let i = at;
  while (i < s.length && i - at < 6) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
  }
  if (i === at || i - at > 5 || v > 65535) return -1;
  out.port = v;
  return i;
}

/** The end of the meaningful text: trailing spaces and a final `[preauth]` removed. */
export function trimEnd(s: string, lo = 0): { end: number; preauth: boolean } {
  let end = s.length;
  while (end > lo && s.charCodeAt(end - 1) === 32) end--;
  let preauth = false;
  if (end - 9 >= lo && s.startsWith("[preauth]", end - 9)) {
    preauth = true;
    end -= 9;
    while (end > lo && s.charCodeAt(end - 1) === 32) end--;
  }
  return { end, preauth };
}

function isEnd(s: string, at: number): boolean {
  return trimEnd(s, at).end === at;
}

export interface Peer {
  addr: string;
  port: number | undefined;
  /** Index of the ` from ` the address follows. */
  at: number;
  /** False when the clause is followed by `: ` and text that is not key info as sshd writes it. */
  shaped: boolean;
  /** The line holds several ` from` clauses: this one was chosen among them. */
  several: boolean;
}

/** What {@link peerFromRight} returns for a line whose candidate clauses name different addresses. */
export const AMBIGUOUS: Peer = Object.freeze({
  addr: "",
  port: undefined,
  at: -1,
  shaped: false,
  several: true,
});

/** The most ` from` clauses examined on one line (sshd truncates user names to 100 characters). */
const MAX_CANDIDATES = 64;

/**
 * Validates ` from ADDR[ port N][ sshD][ via HOST]` at `i` (the index of ` from `), followed by the end of the
 * line or, after `sshD`, by `: ` and more (shaped if it is key info, see keyInfo).
 */
function clauseAt(s: string, i: number, via: boolean, keyed: boolean): Peer | undefined {
  const a = i + 6;
  const e = tokenEnd(s, a);
  if (e <= a) return undefined;
  const addr = addrAt(s, a, e);
  if (addr === undefined) return undefined;
  let k = e;
  const p = { port: undefined as number | undefined };
  if (s.startsWith(" port ", k)) {
    k = readPort(s, k + 6, p);
    if (k < 0) return undefined;
  }
  let proto = false;
  if (s.startsWith(" ssh", k)) {
    k += 4;
    while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
    proto = true;
  }
  if (via && s.startsWith(" via ", k)) {
    const v = tokenEnd(s, k + 5);
    if (v <= k + 5) return undefined;
    k = v;
  }
  if (isEnd(s, k)) return { addr, port: p.port, at: i, shaped: true, several: false };
  if (proto && s.startsWith(": ", k))
    return { addr, port: p.port, at: i, shaped: keyInfo(s, k + 2, keyed), several: false };
  return undefined;
}

/**
 * Reads `TYPE FP` at `at` (`RSA SHA256:...`, `ECDSA 0e:ff:...`, `ED25519-CERT SHA256:...`); returns the index
 * after the fingerprint, or -1. Sets `KEY.cert` when the type is a certificate's.
 */
function typeAndFingerprint(s: string, at: number): number {
  let i = at;
  let cert = false;
  for (; i < s.length && i - at <= 32; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45)) break;
    if (c === 45 && s.startsWith("-CERT", i)) cert = true;
  }
  if (i === at || s.charCodeAt(i) !== 32) return -1;
  const fp = i + 1;
  const end = tokenEnd(s, fp, 128);
  if (end < 0) return -1;
  KEY.cert = cert;
  for (let j = fp; j < end; j++) if (s.charCodeAt(j) === 58) return j > fp ? end : -1;
  return -1;
}

const KEY = { cert: false };
const SERIAL = " (serial ";
const TAIL_MAX = 4096;

/** After a fingerprint ending at `e`: the end of the line, or `, ` and the method's info (`client user ...`). */
function infoEnd(s: string, e: number): boolean {
  return isEnd(s, e) || (s.charCodeAt(e - 1) === 44 && s.charCodeAt(e) === 32);
}

/**
 * What sshd writes after `sshD: `: SSH1's `ruser NAME` (after any method), or, after a key-based method
 * (`keyed`), `TYPE FP[, info]` (`RSA SHA256:...`, `ECDSA 0e:ff:...`, hostbased `RSA ..., client user "u",
 * client host "h"`) or `TYPE-CERT FP ID KEYID (serial N) CA TYPE FP[, info]`.
 */
function keyInfo(s: string, at: number, keyed: boolean): boolean {
  if (s.startsWith("ruser ", at)) return true;
  if (!keyed) return false;
  const e = typeAndFingerprint(s, at);
  if (e < 0) return false;
  if (!KEY.cert) return infoEnd(s, e);
  if (!s.startsWith(" ID ", e)) return false;
  // The key ID is the client's: the certificate's tail is the last `(serial N) CA TYPE FP`, within the
  // message sshd logs (at most 1 KB, up to 4 KB once escaped).
  const t = trimEnd(s, e).end;
  let k = -1;
  for (
    let j = s.indexOf(SERIAL, Math.max(e + 3, t - TAIL_MAX));
    j >= 0 && j < t;
    j = s.indexOf(SERIAL, j + 1)
  )
    k = j;
  if (k < 0) return false;
  let d = k + 9;
  const d0 = d;
  while (d < t && d - d0 < 20 && s.charCodeAt(d) >= 48 && s.charCodeAt(d) <= 57) d++;
  if (d === d0 || !s.startsWith(") CA ", d)) return false;
  const ca = typeAndFingerprint(s, d + 5);
  return ca >= 0 && !KEY.cert && infoEnd(s, ca);
}

/**
 * The peer of an auth line whose variable part (the user name) starts at `lo`: the clause naming the
 * connection's known address when there are several, else the shaped clause (see the module comment);
 * {@link AMBIGUOUS} when shaped clauses name different addresses. `keyed`: the line may carry key info (a
 * `publickey` or `hostbased` line); on other lines only a clause that ends the line is shaped.
 */
export function peerFromRight(
  s: string,
  lo: number,
  known: () => string | undefined,
  via = false,
  keyed = false,
): Peer | undefined {
  let pos = s.length;
  let first: Peer | undefined;
  let ported: Peer | undefined;
  let portless: Peer | undefined;
  let knownAddr: string | undefined;
  // Candidates naming another address than the one kept (shaped ported, shaped port-less, any).
  let splitPorted = false;
  let splitPortless = false;
  let splitAny = false;
  let n = 0;
  for (; n < MAX_CANDIDATES; n++) {
    const i = pos < lo ? -1 : s.lastIndexOf(" from ", pos);
    if (i < lo) break;
    pos = i - 1;
    const p = clauseAt(s, i, via, keyed);
    if (p === undefined) continue;
    if (first === undefined) {
      // Only a line with several clauses needs the connection's address.
      if (s.lastIndexOf(" from ", pos) < lo) return p;
      first = p;
      knownAddr = known();
    }
    p.several = true;
    if (knownAddr !== undefined && p.addr === knownAddr) return p;
    if (p.addr !== first.addr) splitAny = true;
    if (!p.shaped) continue;
    if (p.port !== undefined) {
      // Without key info, the shaped clauses are the one ending the line and SSH1 `ruser` ones: the rightmost
      // with a port is sshd's (a user name holding ` port N ssh1: ruser X` comes before it).
      if (!keyed && knownAddr === undefined) return p;
      if (ported === undefined) ported = p;
      else if (p.addr !== ported.addr) splitPorted = true;
    } else if (portless === undefined) portless = p;
    else if (p.addr !== portless.addr) splitPortless = true;
  }
  if (first === undefined) return undefined;
  // Clauses left unexamined (a key ID may hold many) could be sshd's: only the known address decides then.
  if (n === MAX_CANDIDATES && keyed && pos >= lo && s.lastIndexOf(" from ", pos) >= lo) return AMBIGUOUS;
  if (ported !== undefined) return splitPorted ? AMBIGUOUS : ported;
  if (portless !== undefined) return splitPortless ? AMBIGUOUS : portless;
  return splitAny ? AMBIGUOUS : first;
}

export interface ConnId {
  addr: string;
  port: number | undefined;
  user: string | undefined;
  /** `invalid user U`, `authenticating user U` or `user U` (post-auth) preceded the address. */
  kind: "" | "invalid" | "authenticating" | "user";
}

const HEADS = [
  ["invalid user", "invalid"],
  ["authenticating user", "authenticating"],
  ["user", "user"],
] as const;

/** Reads a connection id `[invalid user U |authenticating user U |user U ]ADDR[ port N]` in s[lo, hi). */
export function idFromRight(s: string, lo: number, hi: number): ConnId | undefined {
  if (hi <= lo) return undefined;
  let end = hi;
  const p = { port: undefined as number | undefined };
  let sp = s.lastIndexOf(" ", end - 1);
  if (sp >= lo + 5 && s.startsWith(" port", sp - 5) && readPort(s, sp + 1, p) === end) {
    end = sp - 5;
  } else p.port = undefined;
  if (end <= lo) return undefined;
  sp = s.lastIndexOf(" ", end - 1);
  const start = sp >= lo ? sp + 1 : lo;
  const addr = addrAt(s, start, end);
  if (addr === undefined) return undefined;
  if (start === lo) return { addr, port: p.port, user: undefined, kind: "" };
  const headEnd = start - 1;
  for (const [text, kind] of HEADS) {
    if (!s.startsWith(text, lo)) continue;
    const u = lo + text.length;
    // sshd writes `HEAD USER ADDR` (an empty user name leaves two spaces): `invalid user admin` alone names
    // no address, its last word is the user's.
    if (u < headEnd && s.charCodeAt(u) === 32)
      return { addr, port: p.port, user: s.slice(u + 1, headEnd), kind };
  }
  return undefined;
}

/** Splits `invalid user U` / `illegal user U` from a user field. */
export function userField(s: string, from: number, to: number): { user: string; invalid: boolean } {
  if (to - from >= 13 && (s.startsWith("invalid user ", from) || s.startsWith("illegal user ", from)))
    return { user: s.slice(from + 13, to), invalid: true };
  return { user: s.slice(from, to), invalid: false };
}

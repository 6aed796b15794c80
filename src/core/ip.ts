/**
 * IP addresses in one canonical text form, so that the same attacker is one key everywhere:
 * - IPv4 dotted decimal; zero-padded octets are read as decimal (`192.030.0.6` -> `192.30.0.6`), never octal;
 * - IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) -> IPv4 (a dual-stack socket's IPv4 peer). Only those:
 *   the deprecated IPv4-compatible form (`::1.2.3.4`, RFC 4291 2.5.5.1), SIIT's `::ffff:0:a.b.c.d` and NAT64's
 *   `64:ff9b::a.b.c.d` are IPv6 peers in their own right (no stack writes them for an IPv4 client), so they stay
 *   IPv6 (`::102:304`): read as IPv4 they would let text alias, and get banned as, an unrelated IPv4 host;
 * - IPv6 compressed, lower case (RFC 5952), zone id (`%eth0`) dropped;
 * - brackets removed (`[2001:db8::1]`).
 * Ports are not guessed here: use {@link splitHostPort} where the log format says a port follows.
 */

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** IPv4: 2 groups of 16 bits; IPv6: 8 groups of 16 bits. */
  groups: number[];
}

function parseV4(s: string, start = 0, end = s.length): number[] | undefined {
  const out: number[] = [];
  let acc = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || acc > 255) return undefined;
      out.push(acc);
      if (out.length > 4) return undefined;
      acc = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      acc = acc * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else return undefined;
  }
  return out.length === 4 ? out : undefined;
}

/** The value of the hex digit with char code `c` (either case), or -1 (also for NaN: past a string's end). */
export function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function parseV6(s: string): number[] | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let seenDouble = false;
  let i = 0;
  if (s.startsWith("::")) {
    seenDouble = true;
    cur = tail;
    i = 2;
    if (s.length === 2) return [0, 0, 0, 0, 0, 0, 0, 0];
  } else if (s.charCodeAt(0) === 58) return undefined;
  while (i < s.length) {
    // one group, or an embedded IPv4 at the end
    let j = i;
    let v = 0;
    while (j < s.length && j - i < 5) {
      const h = hexVal(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    if (j < s.length && s.charCodeAt(j) === 46) {
      const v4 = parseV4(s, i, s.length);
      if (!v4) return undefined;
      cur.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      i = s.length;
      break;
    }
    if (j === i || j - i > 4) return undefined;
    cur.push(v);
    i = j;
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < s.length && s.charCodeAt(i) === 58) {
      if (seenDouble) return undefined;
      seenDouble = true;
      cur = tail;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) return undefined;
  }
  const n = head.length + tail.length;
  if (seenDouble) {
    if (n > 7) return undefined;
    // head, then zeros, then tail: extend head in place (no spread of temporary arrays).
    const t = tail.length;
    while (head.length < 8 - t) head.push(0);
    for (let k = 0; k < t; k++) head.push(tail[k]!);
    return head;
  }
  return n === 8 ? head : undefined;
}

/**
 * Strips brackets and a zone id. Both belong to IPv6 only (a zone names the link of a link-local address; brackets
 * set a literal apart from its port): `1.2.3.4%eth0`, `[1.2.3.4]` and an empty zone (`fe80::1%`) are no address
 * any daemon writes, so they come back as "" (rejected) rather than as the IPv4 address they contain.
 */
function strip(text: string): string {
  let s = text;
  if (s.charCodeAt(0) === 91 && s.charCodeAt(s.length - 1) === 93) {
    s = s.slice(1, -1);
    if (s.indexOf(":") < 0) return "";
  }
  const pct = s.indexOf("%");
  if (pct > 0) {
    if (pct === s.length - 1 || s.lastIndexOf(":", pct) < 0) return "";
    s = s.slice(0, pct);
  }
  return s;
}

/** Parses an address in any accepted spelling; IPv4-mapped IPv6 comes back as IPv4. */
export function parseIp(text: string): ParsedIp | undefined {
  const s = strip(text);
  if (!s.length) return undefined;
  if (s.indexOf(":") < 0) {
    const v4 = parseV4(s);
    return v4 ? { family: 4, groups: [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!] } : undefined;
  }
  const g = parseV6(s);
  if (!g) return undefined;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { family: 4, groups: [g[6]!, g[7]!] };
  }
  return { family: 6, groups: g };
}

export function formatIp(ip: ParsedIp): string {
  const g = ip.groups;
  if (ip.family === 4) return `${g[0]! >> 8}.${g[0]! & 255}.${g[1]! >> 8}.${g[1]! & 255}`;
  // RFC 5952: longest run (>= 2) of zero groups becomes ::, first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) => {
    let out = "";
    for (let i = a; i < b; i++) out += i === a ? g[i]!.toString(16) : `:${g[i]!.toString(16)}`;
    return out;
  };
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/**
 * Whether `s` is an IPv4 address in canonical form: four decimal octets 0-255 without leading zeros (what
 * `/^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/` matches), checked with
 * a character loop.
 */
function isCanonicalV4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let i = 0;
  for (;;) {
    const start = i;
    let v = 0;
    for (; i < n && i - start < 4; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    const len = i - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && s.charCodeAt(start) === 48)) return false;
    parts++;
    if (i === n) return parts === 4;
    if (parts === 4 || s.charCodeAt(i) !== 46 /* . */) return false;
    i++;
  }
}

/** The {@link canonicalIp} cache: 256 slots chosen by length and three characters of the text. */
const RECENT_TEXT: string[] = new Array<string>(256).fill("");
const RECENT_IP: (string | undefined)[] = new Array<string | undefined>(256).fill(undefined);

/** The canonical text of an address, or undefined when `text` is not an IP address. */
export function canonicalIp(text: string): string | undefined {
  // Fast path: already-canonical IPv4, the overwhelmingly common case in logs.
  if (isCanonicalV4(text)) return text;
  // Other spellings (IPv6 above all) are parsed and formatted once, then served from a small cache: logs
  // repeat the same addresses line after line.
  const n = text.length;
  const slot = (n * 31 + text.charCodeAt(0) * 7 + text.charCodeAt(n >> 1) * 3 + text.charCodeAt(n - 1)) & 255;
  if (RECENT_TEXT[slot] === text) return RECENT_IP[slot];
  const ip = parseIp(text);
  const canonical = ip ? formatIp(ip) : undefined;
  RECENT_TEXT[slot] = text;
  RECENT_IP[slot] = canonical;
  return canonical;
}

export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

export function ipFamily(canonical: string): IpFamily {
  return canonical.indexOf(":") >= 0 ? 6 : 4;
}

/**
 * Splits `host:port`, `[v6]:port` or an IPv6 address followed by `:port` without brackets (haproxy prints
 * that). Only call this where the format guarantees a port; the address is returned in canonical form.
 */
export function splitHostPort(text: string): { ip: string; port: number } | undefined {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text.charCodeAt(close + 1) !== 58) return undefined;
    const ip = canonicalIp(text.slice(1, close));
    // Decimal digits only: `Number` would also take "" (as 0), `0x50`, `1e3` and ` 80`.
    const portText = text.slice(close + 2);
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    return ip && port <= 65535 ? { ip, port } : undefined;
  }
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const ip = canonicalIp(text.slice(0, colon));
  const portText = text.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  return ip && port <= 65535 ? { ip, port } : undefined;
}

export interface Cidr {
  family: IpFamily;
  groups: number[];
  prefix: number;
  text: string;
}

/** Parses `a.b.c.d/n`, `v6/n` or a single address (as /32 or /128). Host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    // An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is the IPv4 range of its last 32 bits (`10.0.0.0/8`);
    // its prefix counts the 96 bits in front (a mapped `/8` is no IPv4 range at all).
    if (ip.family === 4 && text.indexOf(":") >= 0) {
      if (prefix < 96 || prefix > 128) return undefined;
      prefix -= 96;
    }
    if (prefix > max) return undefined;
  }
  const groups = maskGroups(ip.groups, prefix);
  const base = formatIp({ family: ip.family, groups });
  return { family: ip.family, groups, prefix, text: prefix === max ? base : `${base}/${prefix}` };
}

function maskGroups(groups: number[], prefix: number): number[] {
  return groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 16 ? g : bits === 0 ? 0 : g & (0xffff << (16 - bits)) & 0xffff;
  });
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  const masked = maskGroups(ip.groups, cidr.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== cidr.groups[i]) return false;
  return true;
}

/** Whether prefix `outer` contains `inner` (same family, `inner` no wider, same network bits). */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && cidrContains(outer, inner);
}

/** Whether two CIDRs share an address: the wider one contains the narrower one. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return cidrCovers(a, b) || cidrCovers(b, a);
}

/** A set of CIDRs compiled once, matched per address. */
export class CidrSet {
  readonly cidrs: readonly Cidr[];
  constructor(entries: Iterable<string | Cidr>) {
    const list: Cidr[] = [];
    for (const e of entries) {
      const c = typeof e === "string" ? parseCidr(e) : e;
      if (!c) throw new Error(`not an IP address or CIDR: ${typeof e === "string" ? e : e.text}`);
      list.push(c);
    }
    this.cidrs = list;
  }
  /** The first CIDR containing `ip` (any spelling), or undefined. */
  find(ip: string | ParsedIp): Cidr | undefined {
    const p = typeof ip === "string" ? parseIp(ip) : ip;
    if (!p) return undefined;
    for (const c of this.cidrs) if (cidrContains(c, p)) return c;
    return undefined;
  }
  has(ip: string | ParsedIp): boolean {
    return this.find(ip) !== undefined;
  }
  get size(): number {
    return this.cidrs.length;
  }
}

/**
 * The key an address is counted and banned under: IPv4 addresses as themselves, IPv6 addresses by their
 * prefix (`/64` by default), since one host usually owns a whole /64. Except IPv6 addresses that embed an IPv4
 * host (NAT64's 64:ff9b::/96 and 64:ff9b:1::/48, SIIT's ::ffff:0:0/96, the old IPv4-compatible ::/96): each is
 * one IPv4 host behind a translator, and their /64 would be every IPv4 client of that translator. They are
 * their own key.
 */
export function groupKey(canonical: string, v6Prefix = 64): string {
  if (canonical.indexOf(":") < 0 || v6Prefix >= 128) return canonical;
  if (embedsIpv4(canonical)) return canonical;
  const c = parseCidr(`${canonical}/${v6Prefix}`);
  return c ? c.text : canonical;
}

/** Whether a canonical IPv6 address is in a prefix that embeds an IPv4 address (see {@link groupKey}). */
function embedsIpv4(canonical: string): boolean {
  return (
    canonical.startsWith("64:ff9b::") || canonical.startsWith("64:ff9b:1:") || canonical.startsWith("::")
  );
}

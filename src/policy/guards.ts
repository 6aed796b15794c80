/**
 * Dynamic allowlist entries: the host's own interface addresses, and the addresses of users logged in right
 * now (read from utmp, as `who` does), so that an admin working from an address is never locked out by a
 * burst of typos — or by a forged log line naming their address.
 */
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { canonicalIp } from "../core/ip.ts";

/** Every address configured on this host's interfaces (loopback included). */
export function ownAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const ip = canonicalIp(a.address);
      if (ip) out.add(ip);
    }
  }
  return [...out].sort();
}

/** utmp record layout on Linux (glibc, x86_64 and aarch64): 384 bytes. */
const RECORD = 384;
const USER_PROCESS = 7;

export interface Session {
  user: string;
  line: string;
  host: string;
  /** The remote address, when utmp has one (from ut_addr_v6, else ut_host if it is an address). */
  address?: string;
  pid: number;
}

function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end < 0 || end > start + len ? start + len : end);
}

/** Parses a utmp file's bytes (e.g. /var/run/utmp) into the logged-in user sessions. */
export function parseUtmp(buf: Buffer): Session[] {
  const out: Session[] = [];
  for (let off = 0; off + RECORD <= buf.length; off += RECORD) {
    if (buf.readInt16LE(off) !== USER_PROCESS) continue;
    const pid = buf.readInt32LE(off + 4);
    const line = cstr(buf, off + 8, 32);
    const user = cstr(buf, off + 44, 32);
    const host = cstr(buf, off + 76, 256);
    const a = [0, 1, 2, 3].map((i) => buf.readUInt32BE(off + 348 + i * 4));
    let address: string | undefined;
    if (a[1] === 0 && a[2] === 0 && a[3] === 0 && a[0] !== 0) {
      address = [a[0]! >>> 24, (a[0]! >>> 16) & 255, (a[0]! >>> 8) & 255, a[0]! & 255].join(".");
    } else if (a.some((x) => x !== 0)) {
      const groups = a.flatMap((x) => [(x >>> 16).toString(16), (x & 0xffff).toString(16)]);
      address = canonicalIp(groups.join(":"));
    }
    address ??= canonicalIp(host.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""));
    const s: Session = { user, line, host, pid };
    if (address !== undefined && address !== "0.0.0.0") s.address = address;
    out.push(s);
  }
  return out;
}

export async function loggedInSessions(path = "/var/run/utmp"): Promise<Session[]> {
  try {
    return parseUtmp(await readFile(path));
  } catch {
    return [];
  }
}

/** The remote addresses of the logged-in sessions (the admins who must never be locked out). */
export async function sessionAddresses(path?: string): Promise<string[]> {
  return (await loggedInSessions(path)).flatMap((s) => (s.address ? [s.address] : []));
}

/** Builds one utmp record (for tests and fixtures). */
export function utmpRecord(s: {
  type?: number;
  pid: number;
  line: string;
  user: string;
  host: string;
  addr?: number[];
}): Buffer {
  const b = Buffer.alloc(RECORD);
  b.writeInt16LE(s.type ?? USER_PROCESS, 0);
  b.writeInt32LE(s.pid, 4);
  b.write(s.line, 8, 32, "utf8");
  b.write(s.user, 44, 32, "utf8");
  b.write(s.host, 76, 256, "utf8");
  (s.addr ?? [0, 0, 0, 0]).forEach((v, i) => b.writeUInt32BE(v >>> 0, 348 + i * 4));
  return b;
}

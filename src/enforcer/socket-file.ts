/**
 * The socket file is the enforcer's access control. Node does not expose SO_PEERCRED, so instead of checking
 * the peer's uid after `accept`, the kernel checks it at `connect`: connecting to a unix socket needs write
 * permission on the socket file (and search permission on its directory). The file is created with mode 0660
 * (umask 0117 while binding, so it is never wider, not even for an instant) and given the configured group, so
 * only root and that group's members (the daemon's user) can connect. See docs/adr/0008-privileged-enforcer.md.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { connect, type Server } from "node:net";
import { dirname } from "node:path";
import { PortcullisError } from "../core/errors.ts";
import type { Exec } from "../core/exec.ts";

export const SOCKET_MODE = 0o660;
export const DIRECTORY_MODE = 0o750;

/** The gid of a group name (from /etc/group, then NSS through `getent`), or the number itself. */
export async function resolveGroup(group: string | number, exec: Exec): Promise<number> {
  if (typeof group === "number") return group;
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , gid] = line.split(":");
      if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
  } catch {
    // no /etc/group: NSS may still know the group
  }
  const r = await exec.run(["getent", "group", group], undefined, { timeoutMs: 5_000 });
  const gid = r.code === 0 ? r.stdout.split(":")[2] : undefined;
  if (gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  throw new PortcullisError(
    "CONFIG_INVALID",
    `group "${group}" does not exist (create it: groupadd --system ${group}, or give a numeric gid)`,
  );
}

/** Whether something accepts connections on the unix socket `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/**
 * Makes `path` ready to bind: creates its directory (0750, the socket's group) when missing, removes a stale
 * socket left by a crashed enforcer, and refuses to replace anything else (a regular file, a symlink, or a
 * socket someone is listening on).
 */
export async function prepareSocketPath(path: string, gid: number | undefined): Promise<void> {
  const dir = dirname(path);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: DIRECTORY_MODE });
    chmodSync(dir, DIRECTORY_MODE);
    if (gid !== undefined) chownSync(dir, -1, gid);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket())
    throw new PortcullisError("CONFIG_INVALID", `${path} exists and is not a socket; refusing to replace it`);
  if (await listening(path))
    throw new PortcullisError("CONFIG_INVALID", `${path}: another enforcer is already listening there`);
  unlinkSync(path);
}

/**
 * Binds `server` to `path` with mode 0660 from the first instant (umask 0117 around the bind), then sets the
 * group. Returns the socket file's inode, so that stop removes only the file this process created.
 */
export async function listenUnix(server: Server, path: string, gid: number | undefined): Promise<number> {
  const old = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once("error", onError);
      server.listen(path, () => {
        server.off("error", onError);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  chmodSync(path, SOCKET_MODE);
  if (gid !== undefined) chownSync(path, -1, gid);
  const st = lstatSync(path);
  if ((st.mode & 0o777) !== SOCKET_MODE) {
    throw new PortcullisError("INTERNAL", `${path}: mode ${(st.mode & 0o777).toString(8)}, expected 660`);
  }
  return st.ino;
}

/** Removes the socket file if it is still the one with inode `ino` (never someone else's). */
export function removeSocketFile(path: string, ino: number | undefined): void {
  try {
    const st = lstatSync(path);
    if (st.isSocket() && (ino === undefined || st.ino === ino)) unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Is a daemon running with this data directory? (Kept small: hooks and the API client load it.) */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The daemon's pid if it is running with this data directory. */
export function runningPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "portcullis.pid"), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

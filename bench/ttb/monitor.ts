/**
 * Watches nftables element additions in a namespace with `nft monitor new elements` and timestamps each added
 * address when its event line arrives (the kernel notifies at commit; nft flushes every event line). This is
 * the moment an address is in the set, for our table and fail2ban's alike, without polling.
 */
import { createInterface } from "node:readline";
import { mono, start, until, type Child } from "./common.ts";

export interface Added {
  at: number;
  table: string;
  set: string;
}

export class NftMonitor {
  readonly #child: Child;
  /** First time each address was seen added (monotonic ms). */
  readonly added = new Map<string, Added>();
  readonly #waiters = new Map<string, ((a: Added) => void)[]>();
  lines = 0;
  #ready = false;

  constructor(ns: string) {
    this.#child = start(
      `nft monitor in ${ns}`,
      ["ip", "netns", "exec", ns, "nft", "monitor", "new", "elements"],
      {
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    const rl = createInterface({ input: this.#child.proc.stdout! });
    rl.on("line", (line) => this.#line(line, mono()));
  }

  #line(line: string, at: number): void {
    this.lines++;
    // add element inet portcullis ban4 { 10.77.1.5 timeout 10m expires 10m, 10.77.1.6 ... }
    const m = /^add element (\S+) (\S+) (\S+) \{ (.*) \}\s*$/.exec(line);
    if (!m) return;
    const [, family, table, set, body] = m;
    if (set === "pclready") this.#ready = true;
    for (const addr of body!.matchAll(/(?:^|[ ,])(\d{1,3}(?:\.\d{1,3}){3}(?:\/\d+)?)(?= |,|$)/g)) {
      const a = addr[1]!;
      if (this.added.has(a)) continue;
      const rec = { at, table: `${family} ${table}`, set: set! };
      this.added.set(a, rec);
      const w = this.#waiters.get(a);
      if (w) {
        this.#waiters.delete(a);
        for (const f of w) f(rec);
      }
    }
  }

  /** Resolves when `addr` has been added (at once when it already was), or with undefined after `ms`. */
  wait(addr: string, ms: number): Promise<Added | undefined> {
    const seen = this.added.get(addr);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.#waiters.get(addr) ?? [];
        this.#waiters.set(
          addr,
          list.filter((f) => f !== done),
        );
        resolve(undefined);
      }, ms);
      const done = (a: Added) => {
        clearTimeout(timer);
        resolve(a);
      };
      this.#waiters.set(addr, [...(this.#waiters.get(addr) ?? []), done]);
    });
  }

  /**
   * Waits until the monitor is subscribed: adds an element to a scratch set in a scratch table, until the
   * event comes back; the table is deleted afterwards.
   */
  async ready(addElement: (n: number) => void, cleanup: () => void): Promise<void> {
    let n = 0;
    await until(
      "nft monitor to report events",
      () => {
        if (this.#ready) return true;
        addElement(++n);
        return false;
      },
      10_000,
      100,
    );
    cleanup();
  }

  stop(): Promise<void> {
    return this.#child.stop(2000);
  }
}

/** Starts a monitor and waits until it reports events (checked with a scratch table it removes again). */
export async function startMonitor(
  ns: string,
  run: (argv: readonly string[], input?: string) => void,
): Promise<NftMonitor> {
  const m = new NftMonitor(ns);
  await m.ready(
    (n) =>
      run(
        ["nft", "-f", "-"],
        `add table inet pclbenchmon\nadd set inet pclbenchmon pclready { type ipv4_addr; }\nadd element inet pclbenchmon pclready { 192.0.2.${n % 250} }\n`,
      ),
    () => run(["nft", "delete", "table", "inet", "pclbenchmon"]),
  );
  return m;
}

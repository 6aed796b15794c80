/**
 * Sleeps until a timer fires, something calls `wake()`, or a signal aborts: the poll loop of a source waits
 * on it, and file watchers or new data wake it. A wake that arrives while nobody waits is remembered, so no
 * event is lost between two waits. Timers are scheduling only (how often to look); no logic reads them.
 */
import { MAX_TIMER_MS } from "../core/duration.ts";

export type WakeReason = "wake" | "timer" | "abort";

export class Waker {
  #pending = false;
  #release: ((why: WakeReason) => void) | undefined;

  wake(): void {
    const release = this.#release;
    if (release) {
      this.#release = undefined;
      release("wake");
    } else this.#pending = true;
  }

  wait(ms: number, signal: AbortSignal): Promise<WakeReason> {
    if (signal.aborted) return Promise.resolve("abort");
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve("wake");
    }
    return new Promise<WakeReason>((resolve) => {
      const done = (why: WakeReason) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#release = undefined;
        resolve(why);
      };
      const onAbort = () => done("abort");
      const timer = setTimeout(() => done("timer"), Math.min(ms, MAX_TIMER_MS));
      signal.addEventListener("abort", onAbort, { once: true });
      this.#release = done;
    });
  }
}

/** Resolves after `ms` or when `signal` aborts (then with false). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Waker().wait(ms, signal).then((why) => why !== "abort");
}

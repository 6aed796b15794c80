/**
 * A progress bar on a terminal (stderr), in bytes. It draws only when told (`update`), so it keeps no timer
 * that could hold the process alive after an error, and it never leaves the terminal changed: the cursor it
 * hides is shown again by `stop()`, at process exit, and on SIGINT/SIGTERM (which then exit 130/143, as a
 * shell expects). It turns off no line wrapping: the bar is kept narrower than the terminal instead.
 */

export interface Progress {
  update(value: number): void;
  /** Erases the bar's line, so that output written next to the same terminal starts on a clean line; the next
   * `update` draws the bar again below that output. */
  clear(): void;
  /** Erases the bar and restores the terminal; idempotent. */
  stop(): void;
}

const ESC = "\u001b[";
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
const CLEAR_LINE = `\r${ESC}K`;
/** Redraws at most this often (milliseconds). */
const REDRAW_MS = 100;

type Stream = NodeJS.WritableStream & { columns?: number };

export function progressBar(
  stream: Stream,
  total: number,
  now: () => number = () => performance.now(),
  proc: Pick<NodeJS.Process, "once" | "removeListener" | "exit"> = process,
): Progress {
  const started = now();
  let value = 0;
  let drawn = false;
  let lastDraw = -Infinity;
  let stopped = false;
  const mb = (v: number) => (v / 1048576).toFixed(1);

  const render = () => {
    const ratio = total > 0 ? Math.min(value / total, 1) : 1;
    const elapsed = (now() - started) / 1000;
    const eta = ratio > 0 && ratio < 1 ? Math.round((elapsed / ratio) * (1 - ratio)) : 0;
    const tail = ` ${Math.floor(ratio * 100)}% | ${mb(Math.min(value, total))}/${mb(total)} MB | ${eta >= 60 ? `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, "0")}s` : `${eta}s`} left`;
    // One column short of the terminal's width: a full line would wrap on some terminals.
    const width = Math.max(10, Math.min(40, (stream.columns || 80) - tail.length - 2));
    const full = Math.round(ratio * width);
    stream.write(`${CLEAR_LINE} ${"\u2588".repeat(full)}${"\u2591".repeat(width - full)}${tail}`);
    drawn = true;
    lastDraw = now();
  };
  const clear = () => {
    if (!drawn) return;
    stream.write(CLEAR_LINE);
    drawn = false;
  };
  const onExit = () => {
    // Synchronous on a terminal: still written while the process exits.
    stream.write(drawn ? `${CLEAR_LINE}${SHOW_CURSOR}` : SHOW_CURSOR);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    stop();
    proc.exit(signal === "SIGINT" ? 130 : 143);
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clear();
    stream.write(SHOW_CURSOR);
    proc.removeListener("exit", onExit);
    proc.removeListener("SIGINT", onSignal);
    proc.removeListener("SIGTERM", onSignal);
  };

  proc.once("exit", onExit);
  proc.once("SIGINT", onSignal);
  proc.once("SIGTERM", onSignal);
  stream.write(HIDE_CURSOR);
  render();
  return {
    update(v) {
      if (stopped) return;
      value = v;
      if (!drawn || now() - lastDraw >= REDRAW_MS) render();
    },
    clear() {
      if (!stopped) clear();
    },
    stop,
  };
}

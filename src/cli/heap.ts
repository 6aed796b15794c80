/**
 * V8 heap settings for the batch commands (`replay`, `parse`), which stream any number of lines through a
 * small live state (< 15 MB: windows, samples, bans). By default V8 lets old space grow to about 4x the live
 * size between major collections, and most of what it holds then is dead (events kept a while as alert samples,
 * then dropped): peak RSS grew to 139 MB at 5M lines. A 1.5x growing factor keeps old space near the live
 * state, for a few more (short: the live state is small) major collections. See docs/adr/0013-v8-heap-limits.md.
 *
 * The young generation's size cannot be changed once the process runs: bin/portcullis.js passes
 * `--max-semi-space-size` to node in its `#!` line.
 */
import { setFlagsFromString } from "node:v8";

export const HEAP_GROWING_PERCENT = 50;

let tuned = false;

/** Applies the batch commands' heap growing factor (once per process). */
export function tuneHeapForStreaming(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/**
 * Setup the responder tests (src/responders) share: the plugin context a responder under test gets, network
 * namespace pairs with a listener on the server made and removed around a conformance run or a describe block,
 * and the last test of a file, which checks the root namespace is as the file found it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SystemClock, type Clock } from "../../src/core/clock.ts";
import { ProcessExec, type Exec } from "../../src/core/exec.ts";
import { silentLogger, type Logger } from "../../src/core/logger.ts";
import type { PluginContext } from "../../src/core/plugin.ts";
import {
  responderConformance,
  type ConformanceRun,
  type ConformanceSubject,
} from "../../src/responders/conformance.ts";
import {
  createPair,
  destroyPair,
  pairNetwork,
  rootSnapshot,
  startListener,
  type Listener,
  type NetPair,
} from "./netns.ts";

/** The context of a responder under test: by default the system clock, a silent logger and real processes. */
export function responderCtx(over: { clock?: Clock; logger?: Logger; exec?: Exec } = {}): PluginContext {
  return {
    clock: over.clock ?? SystemClock,
    logger: over.logger ?? silentLogger,
    dataDir: "/nonexistent",
    exec: over.exec ?? new ProcessExec(),
  };
}

export interface PairSubject extends Omit<ConformanceSubject, "start" | "stop"> {
  /** Short tag in the namespace names. */
  tag: string;
  /** Builds the responder (not set up yet) for the server namespace of `pair`, once the pair is up. */
  start: (pair: NetPair) => Promise<Omit<ConformanceRun, "net">> | Omit<ConformanceRun, "net">;
  /** Removes what `start` made besides the responder; runs before the pair is removed. */
  stop?: () => Promise<void>;
}

/** Runs the conformance suite on a responder in a fresh pair, with a listener on the server. */
export function pairConformance({ tag, start, stop, ...subject }: PairSubject): void {
  let pair: NetPair | undefined;
  let listener: Listener | undefined;
  responderConformance({
    ...subject,
    async start() {
      pair = await createPair(tag);
      listener = await startListener(pair);
      return { ...(await start(pair)), net: pairNetwork(pair) };
    },
    async stop() {
      await stop?.();
      await listener?.stop();
      await destroyPair(pair);
    },
  });
}

/**
 * A pair made before the tests of the enclosing describe block and removed after them, with a listener on the
 * server unless `listener` is false. The object is filled in by the before hook: read it inside tests only.
 */
export function suitePair(tag: string, { listener = true } = {}): NetPair {
  const pair = {} as NetPair;
  let made: NetPair | undefined;
  let l: Listener | undefined;
  before(async () => {
    made = await createPair(tag);
    Object.assign(pair, made);
    if (listener) l = await startListener(pair);
  });
  after(async () => {
    await l?.stop();
    await destroyPair(made);
  });
  return pair;
}

/**
 * Snapshots the root network namespace now (unless the file's namespace tests are skipped) and returns the
 * function that registers the file's last test: the root namespace is untouched.
 */
export async function rootGuard(skip: string | undefined): Promise<() => void> {
  const rootBefore = skip ? undefined : await rootSnapshot();
  return () => {
    test("the root network namespace is untouched", { skip }, async () => {
      assert.deepEqual(await rootSnapshot(), rootBefore);
    });
  };
}

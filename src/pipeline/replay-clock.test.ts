import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplayClock } from "./replay-clock.ts";

const H = 3_600_000;

test("the clock follows event time; late lines do not move it back", () => {
  const c = new ReplayClock();
  assert.equal(c.now, Number.NEGATIVE_INFINITY);
  assert.equal(c.see(10 * H), 10 * H);
  assert.equal(c.see(10 * H + 5000), 10 * H + 5000);
  assert.equal(c.see(9 * H), 10 * H + 5000);
  assert.equal(c.see(11 * H), 11 * H);
});

test("a lone line far ahead leaves the clock; a run of them (a log resuming after a gap) moves it", () => {
  const c = new ReplayClock(H, 3);
  c.see(10 * H);
  const future = Date.UTC(2099, 0, 1);
  assert.equal(c.see(future), 10 * H);
  assert.equal(c.see(future + 1), 10 * H);
  // An ordinary line between: the run starts again.
  assert.equal(c.see(10 * H + 1000), 10 * H + 1000);
  assert.equal(c.see(future), 10 * H + 1000);
  assert.equal(c.see(10 * H + 2000), 10 * H + 2000);
  // A week later the host logs again: three lines in a row are that far ahead, the clock goes to the earliest.
  const week = 10 * H + 7 * 24 * H;
  assert.equal(c.see(week + 2000), 10 * H + 2000);
  assert.equal(c.see(week + 1000), 10 * H + 2000);
  assert.equal(c.see(week + 3000), week + 1000);
  assert.equal(c.see(week + 4000), week + 4000);
});

/**
 * A seeded integer generator for randomized tests (a linear congruential one: the same seed gives the same
 * sequence on every run, so a failure can be replayed): `rand(n)` is an integer in [0, n).
 */
export function seededInts(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

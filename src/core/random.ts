/**
 * mulberry32: a small seeded pseudo-random generator, for whatever must come out the same for the same seed
 * (the demo's scenario and the bundled sample log, fuzz tests whose failures must be replayable, benchmark
 * inputs). Not for anything secret. Returns numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

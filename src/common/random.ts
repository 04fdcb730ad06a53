/**
 * A small seeded uniform generator (mulberry32) for things that must repeat exactly from a seed but
 * need no statistical strength: model-probe inputs, chaos-test schedules. Diffusion noise uses the
 * counter-based Philox generator in src/sampling/noise.ts instead.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

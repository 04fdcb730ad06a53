import { describe, expect, it } from 'vitest';
import { boxWeights, planTiles1d, rampWeights } from '../../src/sampling/blend';
import { addBoxWeighted, normalizeWeighted, sliceBox, tensor } from '../../src/tensors/tensor';

describe('rampWeights', () => {
  it('is 1 at global borders and inside, raised-cosine over overlaps', () => {
    expect(Array.from(rampWeights(4, 0, 0))).toEqual([1, 1, 1, 1]);
    const w = rampWeights(8, 3, 0);
    // sin²(π/2 · k/4), k = 1, 2, 3 → 0.1464…, 0.5, 0.8535…
    expect(w[0]).toBeCloseTo(Math.sin(Math.PI / 8) ** 2, 6);
    expect(w[1]).toBeCloseTo(0.5, 6);
    expect(w[2]).toBeCloseTo(Math.sin((3 * Math.PI) / 8) ** 2, 6);
    expect(Array.from(w.subarray(3))).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(rampWeights(8, 0, 3))).toEqual(Array.from(w).reverse());
  });

  it('rejects overlaps larger than the tile', () => {
    expect(() => rampWeights(4, 5, 0)).toThrow(/must not exceed the tile size 4/);
  });
});

describe('tilings', () => {
  it('planTiles1d covers the extent with the fewest tiles and consistent overlaps', () => {
    expect(planTiles1d(10, 16, 4)).toEqual([{ start: 0, size: 10, overlapBefore: 0, overlapAfter: 0 }]);
    expect(planTiles1d(28, 16, 4)).toEqual([
      { start: 0, size: 16, overlapBefore: 0, overlapAfter: 4 },
      { start: 12, size: 16, overlapBefore: 4, overlapAfter: 0 },
    ]);
    for (const [total, size, overlap] of [
      [128, 64, 8],
      [100, 32, 8],
      [37, 8, 2],
      [13, 8, 4],
    ]) {
      const tiles = planTiles1d(total, size, overlap);
      expect(tiles[0].start).toBe(0);
      expect(tiles[tiles.length - 1].start + size).toBe(total);
      for (let k = 1; k < tiles.length; k++) {
        expect(tiles[k].overlapBefore).toBe(tiles[k - 1].overlapAfter);
        expect(tiles[k].overlapBefore).toBeGreaterThanOrEqual(overlap);
      }
      // Fewest: one tile fewer could not cover the extent with the requested overlap.
      expect((tiles.length - 2) * (size - overlap) + size).toBeLessThan(total);
    }
  });

  it('ramp weights sum to 1 over a tiling (partition of unity) where at most two tiles meet', () => {
    for (const [total, size, overlap] of [
      [128, 64, 8],
      [100, 32, 8],
      [37, 8, 2],
      [200, 40, 16],
    ]) {
      const sum = new Float64Array(total);
      for (const t of planTiles1d(total, size, overlap)) {
        const w = rampWeights(t.size, t.overlapBefore, t.overlapAfter);
        for (let j = 0; j < t.size; j++) sum[t.start + j] += w[j];
      }
      for (const s of sum) expect(s).toBeCloseTo(1, 6);
    }
  });

  it('blending a 2-D tiling of a smooth field reproduces it exactly after normalisation', () => {
    const H = 40;
    const W = 70;
    const src = tensor([2, H, W]);
    src.data.forEach((_, i) => (src.data[i] = Math.sin(i * 0.01)));
    const acc = tensor([2, H, W]);
    const wacc = new Float32Array(acc.data.length);
    const rows = planTiles1d(H, 16, 4);
    const cols = planTiles1d(W, 32, 8);
    for (const r of rows)
      for (const c of cols) {
        const box = sliceBox(src, [0, r.start, c.start], [2, r.size, c.size]);
        const bw = boxWeights(
          [2, r.size, c.size],
          [
            [0, 0],
            [r.overlapBefore, r.overlapAfter],
            [c.overlapBefore, c.overlapAfter],
          ],
        );
        addBoxWeighted(acc, wacc, box, [0, r.start, c.start], bw);
      }
    // Where ≤ 2 tiles meet per axis the raw weights already sum to 1.
    for (const w of wacc) expect(w).toBeCloseTo(1, 5);
    normalizeWeighted(acc, wacc);
    for (let i = 0; i < acc.data.length; i++) expect(acc.data[i]).toBeCloseTo(src.data[i], 6);
  });

  it('normalisation is exact even where three tiles meet', () => {
    const tiles = planTiles1d(13, 8, 4); // starts 0, 3 (rounded from 2.5), 5: positions 5–7 lie in all three
    expect(tiles.map((t) => t.start)).toEqual([0, 3, 5]);
    const acc = tensor([13]);
    const wacc = new Float32Array(13);
    const src = tensor(
      [13],
      new Float32Array(13).map((_, i) => i * i),
    );
    for (const t of tiles) {
      const box = sliceBox(src, [t.start], [t.size]);
      addBoxWeighted(acc, wacc, box, [t.start], rampWeights(t.size, t.overlapBefore, t.overlapAfter));
    }
    normalizeWeighted(acc, wacc);
    for (let i = 0; i < 13; i++) expect(acc.data[i]).toBeCloseTo(i * i, 4);
  });

  it('boxWeights is the outer product of per-axis ramps', () => {
    const b = boxWeights(
      [3, 4],
      [
        [1, 0],
        [0, 2],
      ],
    );
    const r = rampWeights(3, 1, 0);
    const c = rampWeights(4, 0, 2);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(b[i * 4 + j]).toBeCloseTo(r[i] * c[j], 7);
  });
});

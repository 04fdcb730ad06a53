import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import { combineGuidance, guide, guidanceRows, splitRows, stackRows } from '../../src/sampling/guidance';

const f32 = (a: number[]) => new Float32Array(a);

describe('guide', () => {
  it('is base + s·(cond − base); s = 1 returns cond, s = 0 returns base', () => {
    const base = f32([1, -2, 0.5]);
    const cond = f32([3, 2, 0.25]);
    expect(Array.from(guide(base, cond, 1.5))).toEqual([4, 4, 0.125]);
    expect(Array.from(guide(base, cond, 1))).toEqual(Array.from(cond));
    expect(guide(base, cond, 1)).not.toBe(cond);
    expect(Array.from(guide(base, cond, 0))).toEqual(Array.from(base));
  });
});

describe('guidanceRows', () => {
  it('adds a row only for each scale ≠ 1, full conditioning first', () => {
    expect(guidanceRows({ context: 1, labels: 1 }, true)).toEqual([{ useContext: true, useLabels: true }]);
    expect(guidanceRows({ context: 1.5, labels: 1 }, true)).toEqual([
      { useContext: true, useLabels: true },
      { useContext: false, useLabels: true },
    ]);
    expect(guidanceRows({ context: 1.5, labels: 2 }, true)).toEqual([
      { useContext: true, useLabels: true },
      { useContext: false, useLabels: true },
      { useContext: true, useLabels: false },
    ]);
  });

  it('has no context row when there is no context (S = 0)', () => {
    expect(guidanceRows({ context: 1.5, labels: 1 }, false)).toEqual([
      { useContext: false, useLabels: true },
    ]);
    expect(guidanceRows({ context: 1.5, labels: 3 }, false)).toEqual([
      { useContext: false, useLabels: true },
      { useContext: false, useLabels: false },
    ]);
  });

  it('rejects negative or non-finite scales', () => {
    expect(() => guidanceRows({ context: -1, labels: 1 }, true)).toThrow(UserError);
    expect(() => guidanceRows({ context: 1, labels: NaN }, true)).toThrow(/label guidance scale must be/);
  });
});

describe('combineGuidance', () => {
  const full = f32([1, 2, 3]);
  const noCtx = f32([0.5, 1, 4]);
  const noLab = f32([2, 2, 2]);

  it('with only context guidance equals the paper f(z) + s·(f(z;c) − f(z))', () => {
    const scales = { context: 1.5, labels: 1 };
    const rows = guidanceRows(scales, true);
    const out = combineGuidance([full, noCtx], rows, scales);
    expect(Array.from(out)).toEqual(Array.from(guide(noCtx, full, 1.5)));
    expect(Array.from(out)).toEqual([1.25, 2.5, 2.5]);
  });

  it('adds both terms: f + (s_c−1)(f − f∅c) + (s_y−1)(f − f∅y)', () => {
    const scales = { context: 2, labels: 3 };
    const rows = guidanceRows(scales, true);
    const out = combineGuidance([full, noCtx, noLab], rows, scales);
    // [1 + 1·0.5 + 2·(−1), 2 + 1·1 + 2·0, 3 + 1·(−1) + 2·1]
    expect(Array.from(out)).toEqual([-0.5, 3, 4]);
  });

  it('finds rows by their flags, not their position', () => {
    const scales = { context: 2, labels: 3 };
    const rows = [
      { useContext: true, useLabels: true },
      { useContext: true, useLabels: false },
      { useContext: false, useLabels: true },
    ];
    expect(Array.from(combineGuidance([full, noLab, noCtx], rows, scales))).toEqual([-0.5, 3, 4]);
  });

  it('ignores context guidance when there is no context, and returns the single row when all is off', () => {
    const scales = { context: 1.5, labels: 1 };
    expect(Array.from(combineGuidance([full], guidanceRows(scales, false), scales))).toEqual([1, 2, 3]);
  });

  it('throws when a needed row is missing', () => {
    expect(() =>
      combineGuidance([full], [{ useContext: true, useLabels: true }], { context: 2, labels: 1 }),
    ).toThrow(/needs a context-dropped row/);
    expect(() => combineGuidance([full], [], { context: 1, labels: 1 })).toThrow(/1 outputs for 0 rows/);
  });
});

describe('stackRows / splitRows', () => {
  it('round-trip a batch', () => {
    const rows = [f32([1, 2]), f32([3, 4]), f32([5, 6])];
    const batch = stackRows(rows);
    expect(Array.from(batch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(splitRows(batch, 3).map((r) => Array.from(r))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(() => splitRows(batch, 4)).toThrow(/cannot split 6 values into 4/);
  });
});

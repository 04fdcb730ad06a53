import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import {
  broadcastMask,
  contextMask,
  interpolationMask,
  maskFrames,
  mergeKnown,
} from '../../src/sampling/masks';

describe('contextMask', () => {
  it('marks the first S frames', () => {
    expect(Array.from(contextMask(8, 0))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(contextMask(8, 1))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(contextMask(8, 2))).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(contextMask(1, 0))).toEqual([0]); // the image model's first frame
  });

  it('accepts only S ∈ {0, 1, 2} and S < T', () => {
    expect(() => contextMask(8, 3)).toThrow(UserError);
    expect(() => contextMask(8, 3)).toThrow(/S must be 0, 1 or 2, got 3/);
    expect(() => contextMask(2, 2)).toThrow(/must be fewer than the window's T \(2\)/);
    expect(() => contextMask(0, 0)).toThrow(/T must be a positive integer, got 0/);
  });
});

describe('interpolationMask', () => {
  it('marks every 4th frame of a 4n+1 window', () => {
    expect(Array.from(interpolationMask(9))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(Array.from(interpolationMask(5))).toEqual([1, 0, 0, 0, 1]);
  });

  it('rejects windows that are not 4n+1', () => {
    for (const T of [1, 4, 8, 10]) expect(() => interpolationMask(T)).toThrow(/must be 4n\+1 .* got/);
  });
});

describe('broadcastMask', () => {
  it('gives [B,T,1,h,w], constant over batch and space', () => {
    const m = broadcastMask(new Float32Array([1, 0, 1]), 2, 2, 3);
    expect(m.length).toBe(2 * 3 * 6);
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 3; t++)
        for (let p = 0; p < 6; p++) expect(m[(b * 3 + t) * 6 + p]).toBe(t === 1 ? 0 : 1);
  });
});

describe('maskFrames / mergeKnown', () => {
  const mask = new Float32Array([1, 0, 0]);
  const z = new Float32Array([1, 2, 3, 4, 5, 6]); // [T=3, frame of 2]
  it('context = m ∘ z', () => {
    expect(Array.from(maskFrames(z, mask, 2))).toEqual([1, 2, 0, 0, 0, 0]);
  });
  it('puts known frames back', () => {
    const x = new Float32Array([9, 9, 8, 8, 7, 7]);
    expect(Array.from(mergeKnown(x, z, mask, 2))).toEqual([1, 2, 8, 8, 7, 7]);
  });
  it('rejects sizes that are not whole frames', () => {
    expect(() => maskFrames(new Float32Array(5), mask, 2)).toThrow(/not a whole number/);
  });
});

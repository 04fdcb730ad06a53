import { describe, expect, it } from 'vitest';
import {
  addBoxWeighted,
  concat,
  normalizeWeighted,
  sliceBox,
  sliceFrames,
  tensor,
} from '../../src/tensors/tensor';

const iota = (shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    shape,
    new Float32Array(n).map((_, i) => i),
  );
};

describe('tensor', () => {
  it('validates the data length against the shape', () => {
    expect(tensor([2, 3]).data.length).toBe(6);
    expect(() => tensor([2, 3], new Float32Array(5))).toThrow(/shape \[2,3\] needs 6 values, got 5/);
    expect(() => tensor([2, -1])).toThrow(/axis 1 must be an integer ≥ 0, got -1/);
  });
});

describe('sliceFrames', () => {
  it('slices [B,T,C,H,W] along T', () => {
    const t = iota([2, 4, 1, 1, 2]); // value = ((b·4 + f)·2 + p)
    const s = sliceFrames(t, 1, 1, 3);
    expect(s.shape).toEqual([2, 2, 1, 1, 2]);
    expect(Array.from(s.data)).toEqual([2, 3, 4, 5, 10, 11, 12, 13]);
  });

  it('slices the last axis and rejects bad ranges', () => {
    const t = iota([2, 3]);
    expect(Array.from(sliceFrames(t, 1, 2, 3).data)).toEqual([2, 5]);
    expect(sliceFrames(t, 0, 1, 1).shape).toEqual([0, 3]);
    expect(() => sliceFrames(t, 1, 2, 4)).toThrow(/slice \[2, 4\) is out of range for axis 1/);
    expect(() => sliceFrames(t, 2, 0, 1)).toThrow(/axis must be in \[0, 1\]/);
  });
});

describe('concat', () => {
  it('is the inverse of slicing along any axis', () => {
    const t = iota([2, 5, 3]);
    for (const axis of [0, 1, 2]) {
      const cut = Math.floor(t.shape[axis] / 2);
      const joined = concat([sliceFrames(t, axis, 0, cut), sliceFrames(t, axis, cut, t.shape[axis])], axis);
      expect(joined.shape).toEqual(t.shape);
      expect(Array.from(joined.data)).toEqual(Array.from(t.data));
    }
  });

  it('rejects mismatched shapes', () => {
    expect(() => concat([iota([2, 3]), iota([3, 3])], 1)).toThrow(/tensor 1 has shape \[3,3\]/);
  });
});

describe('sliceBox', () => {
  it('copies an N-d sub-box', () => {
    const t = iota([3, 4, 5]);
    const b = sliceBox(t, [1, 2, 1], [2, 2, 3]);
    const expected: number[] = [];
    for (let i = 1; i < 3; i++)
      for (let j = 2; j < 4; j++) for (let k = 1; k < 4; k++) expected.push(i * 20 + j * 5 + k);
    expect(b.shape).toEqual([2, 2, 3]);
    expect(Array.from(b.data)).toEqual(expected);
    expect(() => sliceBox(t, [0, 3, 0], [1, 2, 1])).toThrow(/does not fit in shape \[3,4,5\] on axis 1/);
  });
});

describe('addBoxWeighted / normalizeWeighted', () => {
  it('accumulates weighted values and weights, then normalises', () => {
    const target = tensor([1, 4]);
    const w = new Float32Array(4);
    addBoxWeighted(
      target,
      w,
      tensor([1, 3], new Float32Array([1, 1, 1])),
      [0, 0],
      new Float32Array([1, 1, 0.25]),
    );
    addBoxWeighted(target, w, tensor([1, 2], new Float32Array([3, 5])), [0, 2], new Float32Array([0.75, 1]));
    expect(Array.from(w)).toEqual([1, 1, 1, 1]);
    normalizeWeighted(target, w);
    expect(Array.from(target.data)).toEqual([1, 1, 0.25 + 0.75 * 3, 5]);
  });

  it('reports uncovered positions and misfit boxes', () => {
    const target = tensor([3]);
    const w = new Float32Array(3);
    addBoxWeighted(target, w, tensor([2]), [0], new Float32Array([1, 1]));
    expect(() => normalizeWeighted(target, w)).toThrow(/position 2 of \[3\] was covered by no tile/);
    expect(() => addBoxWeighted(target, w, tensor([2]), [2], new Float32Array(2))).toThrow(/does not fit/);
  });
});

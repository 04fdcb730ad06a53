import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gaussian, gaussianField, NoiseKey, philox4x32, sha256 } from '../../src/sampling/noise';
import { PHILOX_CHUNK_BLOCKS, philoxBlocks } from '../../src/sampling/philox-wasm';

const key: NoiseKey = { seed: 42, stage: 'keyframe', segment: 3, window: 1, tile: 0, step: 7 };

function stats(a: Float32Array): { mean: number; std: number } {
  let m = 0;
  for (const v of a) m += v;
  m /= a.length;
  let s = 0;
  for (const v of a) s += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(s / a.length) };
}

function corr(a: Float32Array, b: Float32Array): number {
  const sa = stats(a);
  const sb = stats(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i] - sa.mean) * (b[i] - sb.mean);
  return c / a.length / (sa.std * sb.std);
}

const hex = (w: Uint32Array) => Array.from(w, (x) => x.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32', () => {
  // Random123 tests/kat_vectors, lines "philox4x32 7" and "philox4x32 10": ctr[4] key[2] → out[4].
  const kat: Array<[number, number[], number[], string]> = [
    [10, [0, 0, 0, 0], [0, 0], '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    [
      10,
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      '408f276d 41c83b0e a20bc7c6 6d5451fd',
    ],
    [
      10,
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      'd16cfe09 94fdcceb 5001e420 24126ea1',
    ],
    [7, [0, 0, 0, 0], [0, 0], '5f6fb709 0d893f64 4f121f81 4f730a48'],
    [
      7,
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      '4dfccaba 190a87f0 c47362ba b6b5242a',
    ],
  ];
  it.each(kat)('matches the Random123 known answer (%i rounds)', (rounds, ctr, k, expected) => {
    expect(hex(philox4x32(ctr, k, rounds))).toBe(expected);
  });
});

describe('philox4x32 against a BigInt reference', () => {
  // Straight from Salmon et al.'s round definition with exact 64-bit products, for many counters.
  const M0 = 0xd2511f53n;
  const M1 = 0xcd9e8d57n;
  const MASK = 0xffffffffn;
  function reference(ctr: number[], key: number[]): string {
    let c = ctr.map(BigInt);
    let k = key.map(BigInt);
    for (let r = 0; r < 10; r++) {
      if (r > 0) k = [(k[0] + 0x9e3779b9n) & MASK, (k[1] + 0xbb67ae85n) & MASK];
      const p0 = M0 * c[0];
      const p1 = M1 * c[2];
      c = [(p1 >> 32n) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32n) ^ c[3] ^ k[1], p0 & MASK];
    }
    return c.map((x) => x.toString(16).padStart(8, '0')).join(' ');
  }
  it('agrees on 2000 pseudo-random counters and keys', () => {
    let s = 0x12345678;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const ctr = [next(), next(), next(), next()];
      const k = [next(), next()];
      expect(hex(philox4x32(ctr, k))).toBe(reference(ctr, k));
    }
  });
});

describe('philoxBlocks (WebAssembly)', () => {
  it("gives philox4x32's words for every block of a run, across the 2³² counter carry and at high counters", () => {
    const [k0, k1, c2, c3] = [0x12345678, 0x9abcdef0, 0xdeadbeef, 0x01234567];
    for (const start of [0, 1, 2 ** 32 - 5, 7 * 2 ** 32 + 2 ** 31, Number.MAX_SAFE_INTEGER - 40]) {
      const n = 32;
      const words = philoxBlocks(start, n, k0, k1, c2, c3).slice();
      expect(words).toHaveLength(4 * n);
      for (let j = 0; j < n; j++) {
        const b = start + j;
        const want = philox4x32([b % 2 ** 32, Math.floor(b / 2 ** 32), c2, c3], [k0, k1]);
        expect(hex(words.subarray(4 * j, 4 * j + 4))).toBe(hex(want));
      }
    }
    expect(philoxBlocks(5, PHILOX_CHUNK_BLOCKS, 1, 2, 3, 4)).toHaveLength(4 * PHILOX_CHUNK_BLOCKS);
    expect(() => philoxBlocks(0, PHILOX_CHUNK_BLOCKS + 1, 1, 2, 3, 4)).toThrow(/block count/);
    expect(() => philoxBlocks(-1, 1, 1, 2, 3, 4)).toThrow(/safe integer/);
  });

  it('leaves whole-block runs longer than a chunk with the bytes of value-by-value draws', () => {
    // Boxes of one value take philoxInto's path (partial blocks); a long row takes the WebAssembly
    // path in several chunks. Both must give the same values at every position.
    const fkey = { seed: 3, stage: 'wasm', segment: 0, step: 1 };
    const len = 4 * PHILOX_CHUNK_BLOCKS * 2 + 10;
    const shape = [2, len];
    const row = gaussianField(fkey, shape, [1, 3], [1, len - 3]);
    for (const at of [0, 1, 2, 3, 4097, 4 * PHILOX_CHUNK_BLOCKS - 1, 4 * PHILOX_CHUNK_BLOCKS + 2, len - 4]) {
      expect(row[at]).toBe(gaussianField(fkey, shape, [1, 3 + at], [1, 1])[0]);
    }
  });
});

describe('sha256', () => {
  it('matches FIPS 180-4 examples and node:crypto', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(hexOf(sha256(enc('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hexOf(sha256(enc('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // Lengths around the 55/56/64-byte padding boundaries and multi-block messages.
    for (const n of [1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(hexOf(sha256(bytes))).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});

describe('gaussian', () => {
  it('reproduces the documented algorithm (independent Python reference: hashlib + Python-int Philox)', () => {
    // Values from a Python 3 implementation of docs/tensor-format.md "Seeded noise", rounded to float32.
    const expected = [
      0.032273367047309875, -0.884024977684021, 0.7514382600784302, -0.690658688545227, -0.25592300295829773,
      -0.16605572402477264, 0.10675748437643051, 1.3734561204910278,
    ];
    expect(Array.from(gaussian(key, 8))).toEqual(expected);
  });

  it('is deterministic: the same key gives the same bytes, and a prefix of a longer draw', () => {
    const a = gaussian(key, 1001);
    const b = gaussian({ ...key }, 1001);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Array.from(gaussian(key, 13))).toEqual(Array.from(a.subarray(0, 13)));
  });

  it('is standard normal: mean ≈ 0, std ≈ 1, 68/95 % within 1/2 σ over 1e5 samples', () => {
    const a = gaussian(key, 100_000);
    const { mean, std } = stats(a);
    // Standard errors: mean 1/√n ≈ 0.0032, std ≈ 0.0022; bounds are ~5 standard errors.
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(std - 1)).toBeLessThan(0.012);
    let in1 = 0;
    let in2 = 0;
    for (const v of a) {
      if (Math.abs(v) < 1) in1++;
      if (Math.abs(v) < 2) in2++;
    }
    expect(in1 / a.length).toBeCloseTo(0.6827, 2);
    expect(in2 / a.length).toBeCloseTo(0.9545, 2);
    // Neighbours (same Philox block, and across blocks) are uncorrelated.
    expect(Math.abs(corr(a.subarray(0, a.length - 1), a.subarray(1)))).toBeLessThan(0.016);
  });

  it('gives independent streams when any key field changes', () => {
    const base = gaussian(key, 100_000);
    const variants: NoiseKey[] = [
      { ...key, seed: 43 },
      { ...key, stage: 'interpolation' },
      { ...key, segment: 4 },
      { ...key, window: 2 },
      { ...key, tile: 1 },
      { ...key, step: 8 },
    ];
    for (const v of variants) {
      const other = gaussian(v, 100_000);
      expect(Math.abs(corr(base, other))).toBeLessThan(0.016);
      expect(other[0]).not.toBe(base[0]);
    }
  });

  it('rejects malformed keys', () => {
    expect(() => gaussian({ ...key, seed: 1.5 }, 4)).toThrow(/seed must be an integer, got 1.5/);
    expect(() => gaussian({ ...key, stage: '' }, 4)).toThrow(/stage must be a non-empty/);
    expect(() => gaussian(key, -1)).toThrow(/non-negative/);
  });
});

describe('gaussianField', () => {
  const fkey = { seed: 7, stage: 'upscale', segment: 2, step: 5 };
  const shape = [3, 4, 5, 6];

  it('reproduces the documented algorithm at global positions (Python reference)', () => {
    const probes: Array<[number[], number]> = [
      [[0, 0, 0, 0], -0.042085036635398865],
      [[1, 2, 3, 4], 0.44348061084747314],
      [[2, 3, 4, 5], 0.2355497032403946],
      [[2, 0, 1, 3], -0.45309582352638245],
    ];
    for (const [p, v] of probes) expect(gaussianField(fkey, shape, p, [1, 1, 1, 1])[0]).toBe(v);
  });

  it('overlapping sub-boxes see identical noise, equal to the whole field there', () => {
    const whole = gaussianField(fkey, shape, [0, 0, 0, 0], shape);
    const at = (p: number[]) => whole[((p[0] * 4 + p[1]) * 5 + p[2]) * 6 + p[3]];
    const boxes: Array<[number[], number[]]> = [
      [
        [0, 1, 1, 0],
        [3, 3, 3, 4],
      ],
      [
        [1, 0, 2, 3],
        [2, 4, 3, 3],
      ],
    ];
    for (const [origin, size] of boxes) {
      const b = gaussianField(fkey, shape, origin, size);
      let k = 0;
      for (let i = 0; i < size[0]; i++)
        for (let j = 0; j < size[1]; j++)
          for (let y = 0; y < size[2]; y++)
            for (let x = 0; x < size[3]; x++) {
              expect(b[k++]).toBe(at([origin[0] + i, origin[1] + j, origin[2] + y, origin[3] + x]));
            }
    }
  });

  it('is standard normal and independent of other steps', () => {
    const big = [4, 4, 80, 80];
    const a = gaussianField(fkey, big, [0, 0, 0, 0], big);
    const b = gaussianField({ ...fkey, step: 6 }, big, [0, 0, 0, 0], big);
    const { mean, std } = stats(a);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.015);
    expect(Math.abs(corr(a, b))).toBeLessThan(0.02);
  });

  it('rejects boxes outside the shape', () => {
    expect(() => gaussianField(fkey, shape, [0, 0, 4, 0], [1, 1, 2, 1])).toThrow(
      /does not fit in shape \[3,4,5,6\] on axis 2/,
    );
    expect(() => gaussianField(fkey, shape, [0, 0], [1, 1])).toThrow(/same rank/);
  });
});

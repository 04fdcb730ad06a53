import { describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../../src/common/errors';
import {
  decodeTensor,
  encodeTensor,
  pixel8Code,
  pixel8Value,
  tensorDtype,
  TensorFormatError,
} from '../../src/tensors/format';
import { fromRgb24 } from '../../src/media/ffmpeg';
import { gaussian } from '../../src/sampling/noise';
import { tensor } from '../../src/tensors/tensor';

const sample = () =>
  tensor(
    [2, 3, 1, 2, 2],
    new Float32Array(24).map((_, i) => (i - 7.5) / 3),
  );

function expectFormatError(buf: Uint8Array, msg: RegExp): void {
  let err: unknown;
  try {
    decodeTensor(buf);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorFormatError);
  expect((err as TensorFormatError).type).toBe(FAILURE_TYPES.corruptArtifact);
  expect((err as Error).message).toMatch(msg);
}

describe('tensor format', () => {
  it('has the documented byte layout', () => {
    const buf = encodeTensor(tensor([2, 1], new Float32Array([1, -2])));
    expect(buf.toString('hex')).toBe(
      [
        '564c4454', // "VLDT"
        '01', // version
        '01', // dtype float32
        '02', // ndim
        '00', // reserved
        '02000000', // dim 0 = 2, u32 LE
        '01000000', // dim 1 = 1
        '0000803f', // 1.0f LE
        '000000c0', // -2.0f LE
      ].join(''),
    );
  });

  it('round-trips shape and exact float32 bits, including special values and empty and 0-d tensors', () => {
    const t = sample();
    t.data[0] = -0;
    t.data[1] = Infinity;
    t.data[2] = NaN;
    t.data[3] = 1e-45; // a subnormal
    const back = decodeTensor(encodeTensor(t));
    expect(back.shape).toEqual(t.shape);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    expect(decodeTensor(encodeTensor(tensor([0, 4]))).shape).toEqual([0, 4]);
    const scalar = decodeTensor(encodeTensor(tensor([], new Float32Array([3.5]))));
    expect(scalar).toEqual({ shape: [], data: new Float32Array([3.5]) });
  });

  it('decodes from a Buffer at an unaligned offset (pooled Buffers)', () => {
    const enc = encodeTensor(sample());
    const big = Buffer.alloc(enc.length + 3);
    enc.copy(big, 3);
    const back = decodeTensor(big.subarray(3));
    expect(Array.from(back.data)).toEqual(Array.from(sample().data));
  });

  it('encodes a Float32Array view without its neighbours', () => {
    const backing = new Float32Array([9, 1, 2, 9]);
    const back = decodeTensor(encodeTensor(tensor([2], backing.subarray(1, 3))));
    expect(Array.from(back.data)).toEqual([1, 2]);
  });

  it('names the bad field for every corruption', () => {
    const good = encodeTensor(sample());
    const mutate = (offset: number, value: number) => {
      const b = Buffer.from(good);
      b[offset] = value;
      return b;
    };
    expectFormatError(good.subarray(0, 5), /header truncated: need 8 bytes, got 5/);
    expectFormatError(mutate(0, 0x50), /magic must be "VLDT", got "PLDT"/);
    expectFormatError(mutate(4, 3), /unsupported tensor format version 3 \(supported: 1, 2\)/);
    // pixel8 exists only from version 2 on: a version-1 header naming it is damaged.
    expectFormatError(
      mutate(5, 2),
      /unsupported tensor dtype code 2 in version 1 \(supported: 1 = float32\)/,
    );
    expectFormatError(
      Buffer.from([...good.subarray(0, 4), 2, 7, ...good.subarray(6)]),
      /unsupported tensor dtype code 7 in version 2 \(supported: 1 = float32, 2 = pixel8\)/,
    );
    expectFormatError(mutate(7, 1), /reserved byte must be 0, got 1/);
    expectFormatError(good.subarray(0, 12), /dims truncated: ndim 5 needs 28 header bytes, got 12/);
    expectFormatError(
      good.subarray(0, good.length - 4),
      /data truncated: shape \[2,3,1,2,2\] needs 96 data bytes, got 92/,
    );
    expectFormatError(Buffer.concat([good, Buffer.alloc(4)]), /has trailing bytes/);
    expectFormatError(mutate(8, 3), /data truncated: shape \[3,3,1,2,2\] needs 144 data bytes, got 96/);
  });

  it('refuses to encode inconsistent tensors', () => {
    expect(() => encodeTensor({ shape: [2, 2], data: new Float32Array(3) })).toThrow(
      /needs 4 values, data has 3/,
    );
  });

  it('reads version-1 files as earlier releases wrote them (float32)', () => {
    // Bytes of a [2, 2] float32 tensor written by version 1 of the format (before pixel8 existed).
    const v1 = Buffer.from('564c4454010102000200000002000000' + '0000803f000000c00000003f0000c0bf', 'hex');
    expect(tensorDtype(v1)).toBe('float32');
    expect(decodeTensor(v1)).toEqual({ shape: [2, 2], data: new Float32Array([1, -2, 0.5, -1.5]) });
    // float32 tensors are still written as version 1, byte for byte.
    expect(encodeTensor(decodeTensor(v1)).equals(v1)).toBe(true);
    // A version-2 header with dtype float32 reads the same values.
    const v2 = Buffer.from(v1);
    v2[4] = 2;
    expect(decodeTensor(v2)).toEqual(decodeTensor(v1));
  });
});

describe('pixel8 (format version 2)', () => {
  it('has the documented byte layout', () => {
    const buf = encodeTensor(tensor([1, 5], new Float32Array([-1, 0, 1, 0.5, -2])), { dtype: 'pixel8' });
    expect(buf.toString('hex')).toBe(
      [
        '564c4454', // "VLDT"
        '02', // version 2
        '02', // dtype pixel8
        '02', // ndim
        '00', // reserved
        '01000000', // dim 0 = 1
        '05000000', // dim 1 = 5
        '00', // −1 → 0
        '80', // 0 → round(127.5) = 128 (halves round up)
        'ff', // 1 → 255
        'bf', // 0.5 → round(191.25) = 191
        '00', // −2 clamps to 0
      ].join(''),
    );
    expect(tensorDtype(buf)).toBe('pixel8');
  });

  it('quantises as documented: q = clamp(round((x + 1)·127.5), 0, 255), read back as q/127.5 − 1', () => {
    expect([-1, -0.996, 0, 1 / 255, 1, 3].map(pixel8Code)).toEqual([0, 1, 128, 128, 255, 255]);
    for (let q = 0; q < 256; q++) expect(pixel8Value(q / 127.5 - 1)).toBe(Math.fround(q / 127.5 - 1));
    // The worst error inside [−1, 1] is half a step.
    let worst = 0;
    for (let i = 0; i <= 100_000; i++) {
      const x = Math.fround(-1 + (2 * i) / 100_000);
      worst = Math.max(worst, Math.abs(pixel8Value(x) - x));
    }
    expect(worst).toBeLessThanOrEqual(0.5 / 127.5 + 1e-7);
    expect(worst).toBeGreaterThan(0.49 / 127.5);
  });

  it('keeps pixels read from 8-bit images exactly (the init frame)', () => {
    const rgb = Uint8Array.from({ length: 3 * 4 * 8 }, (_, i) => (i * 37) % 256);
    const px = fromRgb24(rgb, 4, 8);
    const back = decodeTensor(encodeTensor(tensor([1, 3, 4, 8], px), { dtype: 'pixel8' }));
    expect(Array.from(back.data)).toEqual(Array.from(px));
  });

  it('takes one byte per value, and names a wrong length', () => {
    const t = tensor([2, 3, 4], new Float32Array(24).fill(0.25));
    const buf = encodeTensor(t, { dtype: 'pixel8' });
    expect(buf.length).toBe(8 + 4 * 3 + 24);
    expect(encodeTensor(t).length).toBe(8 + 4 * 3 + 4 * 24);
    expectFormatError(buf.subarray(0, buf.length - 1), /needs 24 data bytes, got 23/);
    expectFormatError(Buffer.concat([buf, Buffer.alloc(1)]), /has trailing bytes: shape \[2,3,4\] needs 24/);
  });

  it('stores every value as pixel8Code does, in range, out of range and on the halves', () => {
    // The encoder quantises inline (src/tensors/format.ts quantisePixel8); pixel8Code is the definition.
    const g = gaussian({ seed: 5, stage: 'pixel8-test', segment: 0, window: 0, tile: 0, step: 0 }, 4096);
    const values = Float32Array.from(g, (v) => 0.7 * v); // about 15% outside [-1, 1]
    for (let q = 0; q < 256; q++) values[q] = Math.fround((q + 0.5) / 127.5 - 1); // x.5 ties
    values[256] = -0;
    values[257] = 1.5;
    values[258] = -3;
    const buf = encodeTensor(tensor([values.length], values), { dtype: 'pixel8' });
    const codes = Array.from(buf.subarray(buf.length - values.length));
    // As bytes: pixel8Code gives −0 for values just below −1, which a byte stores as 0.
    expect(codes).toEqual(Array.from(Uint8Array.from(values, pixel8Code)));
    expect(codes.slice(256, 259)).toEqual([128, 255, 0]);
    // So storing clips to [-1, 1] (the upscale stage relies on it instead of a clipping pass).
    const clipped = Uint8Array.from(values, (v) => pixel8Code(Math.max(-1, Math.min(1, v))));
    expect(codes).toEqual(Array.from(clipped));
  });

  it('rounds as Math.round does for float32 values (one in 4096 bit patterns, all finite ones when checked)', () => {
    // The encoder rounds with floor(x + 0.5), which is branch-free; Math.round agrees on every finite
    // float32 input (checked over all 2^32 patterns once: 0 differ). This keeps a sample of that check.
    const bits = new Uint32Array(1 << 20);
    for (let i = 0; i < bits.length; i++) bits[i] = (i * 4096 + (i % 4096)) >>> 0;
    const values = new Float32Array(bits.buffer).filter((v) => Number.isFinite(v));
    const buf = encodeTensor(tensor([values.length], values), { dtype: 'pixel8' });
    const codes = buf.subarray(buf.length - values.length);
    expect(Buffer.from(codes).equals(Buffer.from(Uint8Array.from(values, pixel8Code)))).toBe(true);
  });

  it('refuses values that are not finite rather than storing a colour', () => {
    expect(() => encodeTensor(tensor([2], new Float32Array([0, NaN])), { dtype: 'pixel8' })).toThrow(
      /finite values only, got NaN/,
    );
    expect(() => pixel8Code(-Infinity)).toThrow(/got -Infinity/);
    // Also where other values are clamped (the inline encoder checks finiteness only then).
    expect(() => encodeTensor(tensor([3], new Float32Array([2, 0, Infinity])), { dtype: 'pixel8' })).toThrow(
      /finite values only, got Infinity/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../../src/common/errors';
import { decodeTensor, encodeTensor, TensorFormatError } from '../../src/tensors/format';
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
    expectFormatError(mutate(4, 2), /unsupported tensor format version 2 \(supported: 1\)/);
    expectFormatError(mutate(5, 2), /unsupported tensor dtype code 2 \(supported: 1 = float32\)/);
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
});

/**
 * The vldm binary tensor format (docs/tensor-format.md), used for every tensor artifact (latents,
 * decoded frames, upscaled tiles):
 *
 *   offset 0  4 bytes  magic "VLDT" (ASCII)
 *   offset 4  u8       version (1)
 *   offset 5  u8       dtype (1 = float32)
 *   offset 6  u8       ndim
 *   offset 7  u8       reserved, 0
 *   offset 8  u32 LE × ndim   dims, row-major order
 *   then      f32 LE × Π dims data, row-major; nothing after it
 *
 * The header is a multiple of 4 bytes, so the data is 4-byte aligned. Checksums live in the job
 * manifest, not here.
 */

import { FAILURE_TYPES } from '../common/errors';
import { numel, Tensor } from './tensor';

export const TENSOR_MAGIC = 'VLDT';
export const TENSOR_FORMAT_VERSION = 1;
export const DTYPE_FLOAT32 = 1;
export const TENSOR_HEADER_BYTES = 8;
/** ndim is a u8. */
export const MAX_NDIM = 255;

/**
 * A tensor file that cannot be decoded. It carries the corrupt-artifact failure type: the artifact should
 * be recomputed, which a retry does.
 */
export class TensorFormatError extends Error {
  override name = 'TensorFormatError';
  readonly type = FAILURE_TYPES.corruptArtifact;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Serialises a float32 tensor. */
export function encodeTensor(t: Tensor): Buffer {
  const nd = t.shape.length;
  if (nd > MAX_NDIM) throw new RangeError(`tensor format allows at most ${MAX_NDIM} dims, got ${nd}`);
  t.shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new RangeError(`dim ${i} must be an integer in [0, 2^32), got ${d}`);
    }
  });
  const n = numel(t.shape);
  if (t.data.length !== n)
    throw new RangeError(`shape [${t.shape}] needs ${n} values, data has ${t.data.length}`);
  const dataOffset = TENSOR_HEADER_BYTES + 4 * nd;
  const buf = Buffer.alloc(dataOffset + 4 * n);
  buf.write(TENSOR_MAGIC, 0, 'ascii');
  buf.writeUInt8(TENSOR_FORMAT_VERSION, 4);
  buf.writeUInt8(DTYPE_FLOAT32, 5);
  buf.writeUInt8(nd, 6);
  buf.writeUInt8(0, 7);
  t.shape.forEach((d, i) => buf.writeUInt32LE(d, TENSOR_HEADER_BYTES + 4 * i));
  if (LITTLE_ENDIAN_HOST) {
    buf.set(new Uint8Array(t.data.buffer, t.data.byteOffset, 4 * n), dataOffset);
  } else {
    for (let i = 0; i < n; i++) buf.writeFloatLE(t.data[i], dataOffset + 4 * i);
  }
  return buf;
}

/** Parses a tensor file; every malformed field throws a TensorFormatError naming that field. */
export function decodeTensor(buf: Uint8Array): Tensor {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < TENSOR_HEADER_BYTES) {
    throw new TensorFormatError(
      `tensor header truncated: need ${TENSOR_HEADER_BYTES} bytes, got ${buf.length}`,
    );
  }
  const magic = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]);
  if (magic !== TENSOR_MAGIC) {
    throw new TensorFormatError(
      `not a vldm tensor: magic must be "${TENSOR_MAGIC}", got ${JSON.stringify(magic)}`,
    );
  }
  const version = buf[4];
  if (version !== TENSOR_FORMAT_VERSION) {
    throw new TensorFormatError(
      `unsupported tensor format version ${version} (supported: ${TENSOR_FORMAT_VERSION})`,
    );
  }
  const dtype = buf[5];
  if (dtype !== DTYPE_FLOAT32) {
    throw new TensorFormatError(
      `unsupported tensor dtype code ${dtype} (supported: ${DTYPE_FLOAT32} = float32)`,
    );
  }
  const nd = buf[6];
  if (buf[7] !== 0) throw new TensorFormatError(`tensor header reserved byte must be 0, got ${buf[7]}`);
  const dataOffset = TENSOR_HEADER_BYTES + 4 * nd;
  if (buf.length < dataOffset) {
    throw new TensorFormatError(
      `tensor dims truncated: ndim ${nd} needs ${dataOffset} header bytes, got ${buf.length}`,
    );
  }
  const shape: number[] = [];
  for (let i = 0; i < nd; i++) shape.push(view.getUint32(TENSOR_HEADER_BYTES + 4 * i, true));
  const n = numel(shape);
  const expected = dataOffset + 4 * n;
  if (buf.length !== expected) {
    const what = buf.length < expected ? 'truncated' : 'has trailing bytes';
    throw new TensorFormatError(
      `tensor data ${what}: shape [${shape}] needs ${4 * n} data bytes, got ${buf.length - dataOffset}`,
    );
  }
  // Copy into a fresh, aligned buffer: the input may be a pooled Buffer at an odd offset.
  const data = new Float32Array(n);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(data.buffer).set(buf.subarray(dataOffset, expected));
  } else {
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(dataOffset + 4 * i, true);
  }
  return { shape, data };
}

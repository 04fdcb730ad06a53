/**
 * The vldm binary tensor format (docs/tensor-format.md), used for every tensor artifact (latents,
 * decoded frames, upscaled tiles, checkpoints):
 *
 *   offset 0  4 bytes  magic "VLDT" (ASCII)
 *   offset 4  u8       version (1 or 2)
 *   offset 5  u8       dtype (1 = float32; version 2 adds 2 = pixel8)
 *   offset 6  u8       ndim
 *   offset 7  u8       reserved, 0
 *   offset 8  u32 LE × ndim   dims, row-major order
 *   then      Π dims values, row-major (f32 LE, or one byte each for pixel8); nothing after it
 *
 * Version 2 exists for pixel8: values already in pixel space [-1, 1] (decoded frames, upscaled tiles,
 * the init frame) stored as the same 8-bit codes the video gets, a quarter of float32's bytes.
 * float32 tensors are still written as version 1, byte for byte what earlier releases wrote, so latents
 * and checkpoints stay exact and older readers read them. Readers accept both versions.
 * The header is a multiple of 4 bytes, so the data is 4-byte aligned. Checksums live in the store.
 */

import { FAILURE_TYPES } from '../common/errors';
import { numel, Tensor } from './tensor';

export const TENSOR_MAGIC = 'VLDT';
/** The newest version this code writes (for pixel8); float32 tensors are written as version 1. */
export const TENSOR_FORMAT_VERSION = 2;
/** Versions this code reads. */
export const TENSOR_FORMAT_VERSIONS = [1, 2] as const;
export const DTYPE_FLOAT32 = 1;
export const DTYPE_PIXEL8 = 2;
export const TENSOR_HEADER_BYTES = 8;
/** ndim is a u8. */
export const MAX_NDIM = 255;

/**
 * How values are stored: `float32` exactly; `pixel8` as u8 codes q = round((x + 1) · 127.5) clamped to
 * [0, 255] (Math.round: halves round up), read back as q / 127.5 − 1 rounded to float32 — the
 * mapping the video encoder applies to frames (src/media/ffmpeg.ts toRgb24/fromRgb24).
 */
export type TensorDtype = 'float32' | 'pixel8';

/** 255 / 2: pixel8 code q stands for the value q / PIXEL8_SCALE − 1. */
export const PIXEL8_SCALE = 127.5;

const DTYPES: Record<number, { name: TensorDtype; bytes: number; since: number }> = {
  [DTYPE_FLOAT32]: { name: 'float32', bytes: 4, since: 1 },
  [DTYPE_PIXEL8]: { name: 'pixel8', bytes: 1, since: 2 },
};

/**
 * A tensor file that cannot be decoded. It carries the corrupt-artifact failure type: the artifact should
 * be recomputed, which a retry does.
 */
export class TensorFormatError extends Error {
  override name = 'TensorFormatError';
  readonly type = FAILURE_TYPES.corruptArtifact;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The value each pixel8 code stands for, as float32. */
const PIXEL8_VALUES = Float32Array.from({ length: 256 }, (_, q) => q / PIXEL8_SCALE - 1);

/** The pixel8 code of a value (documented above); a non-finite value is refused, never stored as a colour. */
export function pixel8Code(v: number): number {
  if (!Number.isFinite(v)) throw new RangeError(`pixel8 tensors hold finite values only, got ${v}`);
  const q = Math.round((v + 1) * PIXEL8_SCALE);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

/**
 * pixel8Code over a whole tensor into out[at …]: the same arithmetic inline, since this runs once per
 * stored pixel. Codes outside [0, 255] are clamped as pixel8Code clamps them; a non-finite code (from a
 * non-finite value: finite float32s stay finite here) is refused as pixel8Code refuses it.
 */
function quantisePixel8(values: Float32Array, out: Uint8Array, at: number): void {
  const n = values.length;
  // A local: CommonJS output reads an exported const as a property of `exports` on every use.
  const scale = PIXEL8_SCALE;
  let finite = true;
  for (let i = 0; i < n; i++) {
    // floor(x + 0.5) is Math.round(x) for every x this can be ((v + 1)·127.5 of a float32 v; checked
    // over all 2^32 bit patterns), and branch-free: Math.round's tie correction is a branch that
    // mispredicts on noisy pixels, which made this loop twice as slow.
    const q = Math.floor((values[i] + 1) * scale + 0.5);
    if (q >= 0 && q <= 255) out[at + i] = q;
    else {
      out[at + i] = q < 0 ? 0 : 255;
      if (!Number.isFinite(q)) finite = false;
    }
  }
  if (!finite) values.forEach((v) => pixel8Code(v)); // throws at the first non-finite value
}

/** What a value reads back as after a pixel8 round trip. */
export function pixel8Value(v: number): number {
  return PIXEL8_VALUES[pixel8Code(v)];
}

/** Serialises a tensor; `dtype` says how its values are stored (float32 keeps them exactly). */
export function encodeTensor(t: Tensor, opts: { dtype?: TensorDtype } = {}): Buffer {
  const dtype = opts.dtype ?? 'float32';
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
  const code = dtype === 'pixel8' ? DTYPE_PIXEL8 : DTYPE_FLOAT32;
  const dataOffset = TENSOR_HEADER_BYTES + 4 * nd;
  const buf = Buffer.alloc(dataOffset + DTYPES[code].bytes * n);
  buf.write(TENSOR_MAGIC, 0, 'ascii');
  buf.writeUInt8(DTYPES[code].since, 4);
  buf.writeUInt8(code, 5);
  buf.writeUInt8(nd, 6);
  buf.writeUInt8(0, 7);
  t.shape.forEach((d, i) => buf.writeUInt32LE(d, TENSOR_HEADER_BYTES + 4 * i));
  if (code === DTYPE_PIXEL8) {
    quantisePixel8(t.data, buf, dataOffset);
  } else if (LITTLE_ENDIAN_HOST) {
    buf.set(new Uint8Array(t.data.buffer, t.data.byteOffset, 4 * n), dataOffset);
  } else {
    for (let i = 0; i < n; i++) buf.writeFloatLE(t.data[i], dataOffset + 4 * i);
  }
  return buf;
}

/** The stored dtype of a tensor file (its header only; the rest is checked by decodeTensor). */
export function tensorDtype(buf: Uint8Array): TensorDtype {
  readHeader(buf);
  return DTYPES[buf[5]].name;
}

function readHeader(buf: Uint8Array): { code: number; shape: number[]; dataOffset: number } {
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
  if (!(TENSOR_FORMAT_VERSIONS as readonly number[]).includes(version)) {
    throw new TensorFormatError(
      `unsupported tensor format version ${version} (supported: ${TENSOR_FORMAT_VERSIONS.join(', ')})`,
    );
  }
  const code = buf[5];
  const known = Object.entries(DTYPES).filter(([, d]) => d.since <= version);
  if (!known.some(([c]) => Number(c) === code)) {
    throw new TensorFormatError(
      `unsupported tensor dtype code ${code} in version ${version} (supported: ${known.map(([c, d]) => `${c} = ${d.name}`).join(', ')})`,
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
  return { code, shape, dataOffset };
}

/** Parses a tensor file of any supported version; every malformed field throws a TensorFormatError naming it. */
export function decodeTensor(buf: Uint8Array): Tensor {
  const { code, shape, dataOffset } = readHeader(buf);
  const n = numel(shape);
  const bytes = DTYPES[code].bytes * n;
  const expected = dataOffset + bytes;
  if (buf.length !== expected) {
    const what = buf.length < expected ? 'truncated' : 'has trailing bytes';
    throw new TensorFormatError(
      `tensor data ${what}: shape [${shape}] needs ${bytes} data bytes, got ${buf.length - dataOffset}`,
    );
  }
  const data = new Float32Array(n);
  if (code === DTYPE_PIXEL8) {
    for (let i = 0; i < n; i++) data[i] = PIXEL8_VALUES[buf[dataOffset + i]];
  } else if (LITTLE_ENDIAN_HOST) {
    // Copy into a fresh, aligned buffer: the input may be a pooled Buffer at an odd offset.
    new Uint8Array(data.buffer).set(buf.subarray(dataOffset, expected));
  } else {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(dataOffset + 4 * i, true);
  }
  return { shape, data };
}

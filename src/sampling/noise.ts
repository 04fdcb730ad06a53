/**
 * Counter-based Gaussian noise, so that every activity (and every retry of it) reproduces its noise
 * bytes from (job seed, stage, segment, window, tile, step) alone, with no generator state to checkpoint.
 *
 * Algorithm (vldm-noise-v1, also in docs/tensor-format.md; another implementation reproduces it from this):
 * 1. Key message: the UTF-8 bytes of lines joined by "\n" (no trailing newline):
 *      gaussian():      "vldm-noise-v1", "kind=stream", "seed=<seed>", "stage=<stage>", "segment=<n>",
 *                       "window=<n>", "tile=<n>", "step=<n>"
 *      gaussianField(): "vldm-noise-v1", "kind=field", "seed=<seed>", "stage=<stage>", "segment=<n>",
 *                       "step=<n>"
 *    Integers are written in decimal without leading zeros ("-" for negatives).
 * 2. D = SHA-256(message) (FIPS 180-4). Read D's first 16 bytes as four big-endian u32 words d0 d1 d2 d3.
 * 3. The value at stream index i (i ≥ 0) comes from Philox4x32-10 (Salmon et al. 2011, "Parallel random
 *    numbers: as easy as 1, 2, 3"; Random123's philox4x32_R with R = 10) with key (d0, d1) and counter
 *    (b mod 2³², ⌊b / 2³²⌋, d2, d3), b = ⌊i / 4⌋, giving words w0 w1 w2 w3; lane = i mod 4.
 * 4. Box–Muller on pairs: u_j = (w_j + 0.5) / 2³² ∈ (0, 1);
 *      lanes 0, 1: r = √(−2 ln u0), θ = 2π·u1 → r·cos θ, r·sin θ
 *      lanes 2, 3: r = √(−2 ln u2), θ = 2π·u3 → r·cos θ, r·sin θ
 *    computed in float64 and rounded to float32.
 * 5. gaussian(key, n) is stream indices 0 … n−1. gaussianField(key, shape, …) gives the position p of the
 *    global tensor of `shape` the stream index i = row-major linear index of p, so any sub-box (tile,
 *    window) of the same global tensor sees the same values where boxes overlap.
 * A different implementation agrees bit for bit except where its libm's log/cos/sin differ from V8's in
 * the last float64 bit and that moves the float32 rounding (rare); the same Node version always agrees.
 * Runs of whole Philox blocks are computed in WebAssembly (philox-wasm.ts), which has the 64-bit multiply
 * JavaScript lacks; the words are the same, so the algorithm and every byte are unchanged.
 */

import { phase } from '../observability/host-phases';
import {
  PHILOX_CHUNK_BLOCKS,
  PHILOX_M0,
  PHILOX_M1,
  PHILOX_ROUNDS,
  PHILOX_W0,
  PHILOX_W1,
  philoxBlocks,
} from './philox-wasm';

export interface NoiseKey {
  seed: number;
  stage: string;
  segment: number;
  window: number;
  tile: number;
  step: number;
}

/** Position-keyed noise: no window/tile, the global position picks the value. */
export interface FieldKey {
  seed: number;
  stage: string;
  segment: number;
  step: number;
}

export const NOISE_ALGORITHM = 'vldm-noise-v1';

// ---------------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4), small and pure: key derivation must not depend on Node's crypto module.

const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const SHA256_H0 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/** SHA-256 digest of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const bitLen = bytes.length * 8;
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  // Message length in bits as a big-endian u64 (split because bitwise ops are 32-bit).
  view.setUint32(padded.length - 8, Math.floor(bitLen / 2 ** 32));
  view.setUint32(padded.length - 4, bitLen >>> 0);
  const h = SHA256_H0.slice();
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + SHA256_K[i] + w[i]) | 0;
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  h.forEach((x, i) => ov.setUint32(4 * i, x >>> 0));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Philox4x32-10 (Random123); its constants M and W live in philox-wasm.ts.

const TWO_32 = 2 ** 32;
const INV_TWO_32 = 2 ** -32;

/*
 * Philox's state words are u32s held as int32 (`| 0`): V8 then keeps them in integer registers, where
 * xor and Math.imul work without conversions (a third faster than u32 doubles). Only the float64
 * product below and Box–Muller read them as unsigned (`>>> 0`); the words are the same bits.
 */

/**
 * High 32 bits of the 64-bit product of the u32 constant `m` and the u32 `c` (an int32 here), given
 * lo = Math.imul(m, c). The float64 product is within 2^11 of the exact one and so is the subtraction
 * of the exact low word, so the scaled difference lies within 2^-20 of the integer high word h; adding
 * 0.5 and truncating (`| 0`, which also wraps h into an int32) recovers h exactly.
 */
function mulhi32(m: number, c: number, lo: number): number {
  return ((m * (c >>> 0) - (lo >>> 0)) * INV_TWO_32 + 0.5) | 0;
}

/** Philox4x32 with `rounds` rounds on counter (c0..c3) and key (k0, k1); writes 4 u32 words into `out`. */
function philoxInto(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  rounds: number,
  out: Uint32Array,
): void {
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  k0 |= 0;
  k1 |= 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) | 0;
      k1 = (k1 + PHILOX_W1) | 0;
    }
    const lo0 = Math.imul(PHILOX_M0, c0);
    const hi0 = mulhi32(PHILOX_M0, c0, lo0);
    const lo1 = Math.imul(PHILOX_M1, c2);
    const hi1 = mulhi32(PHILOX_M1, c2, lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  // A Uint32Array stores each int32 as its u32 bits.
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** One Philox4x32 block (exported for known-answer tests against Random123's kat_vectors). */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  rounds = PHILOX_ROUNDS,
): Uint32Array {
  const out = new Uint32Array(4);
  philoxInto(
    counter[0] >>> 0,
    counter[1] >>> 0,
    counter[2] >>> 0,
    counter[3] >>> 0,
    key[0] >>> 0,
    key[1] >>> 0,
    rounds,
    out,
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Keys and Box–Muller.

/** A key's Philox key words and high counter words (step 2 of the algorithm), as plain numbers. */
export interface NoiseStream {
  k0: number;
  k1: number;
  c2: number;
  c3: number;
}

function checkInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`noise key ${name} must be an integer, got ${v}`);
}

function checkStage(stage: string): void {
  if (typeof stage !== 'string' || stage.length === 0 || stage.includes('\n')) {
    throw new RangeError(
      `noise key stage must be a non-empty single-line string, got ${JSON.stringify(stage)}`,
    );
  }
}

function streamFromLines(lines: string[]): NoiseStream {
  const d = sha256(new TextEncoder().encode(lines.join('\n')));
  const v = new DataView(d.buffer);
  return { k0: v.getUint32(0), k1: v.getUint32(4), c2: v.getUint32(8), c3: v.getUint32(12) };
}

function streamOf(key: NoiseKey): NoiseStream {
  for (const f of ['seed', 'segment', 'window', 'tile', 'step'] as const) checkInt(f, key[f]);
  checkStage(key.stage);
  return streamFromLines([
    NOISE_ALGORITHM,
    'kind=stream',
    `seed=${key.seed}`,
    `stage=${key.stage}`,
    `segment=${key.segment}`,
    `window=${key.window}`,
    `tile=${key.tile}`,
    `step=${key.step}`,
  ]);
}

/** The Philox key and counter words of a field key (checks the key). */
export function fieldStream(key: FieldKey): NoiseStream {
  for (const f of ['seed', 'segment', 'step'] as const) checkInt(f, key[f]);
  checkStage(key.stage);
  return streamFromLines([
    NOISE_ALGORITHM,
    'kind=field',
    `seed=${key.seed}`,
    `stage=${key.stage}`,
    `segment=${key.segment}`,
    `step=${key.step}`,
  ]);
}

const TWO_PI = 2 * Math.PI;

/** Box–Muller of one Philox block (w0..w3) into out[at …], the lanes from `from` to `to` (exclusive). */
function boxMullerInto(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  out: Float32Array,
  at: number,
  from: number,
  to: number,
): void {
  const r0 = Math.sqrt(-2 * Math.log((w0 + 0.5) / TWO_32));
  const t0 = TWO_PI * ((w1 + 0.5) / TWO_32);
  const r2 = Math.sqrt(-2 * Math.log((w2 + 0.5) / TWO_32));
  const t2 = TWO_PI * ((w3 + 0.5) / TWO_32);
  if (from === 0 && to === 4) {
    out[at] = r0 * Math.cos(t0);
    out[at + 1] = r0 * Math.sin(t0);
    out[at + 2] = r2 * Math.cos(t2);
    out[at + 3] = r2 * Math.sin(t2);
    return;
  }
  const z = [r0 * Math.cos(t0), r0 * Math.sin(t0), r2 * Math.cos(t2), r2 * Math.sin(t2)];
  for (let lane = from; lane < to; lane++) out[at + lane - from] = z[lane];
}

/**
 * Writes stream values [start, start + count) to out[offset …]; one Philox block per 4 values. Whole
 * blocks, the hot loop (noise is most of an upscale tile's host work), get their words from
 * WebAssembly (philox-wasm.ts), the partial blocks at either end from philoxInto: the same words.
 */
function fillGaussian(s: NoiseStream, start: number, count: number, out: Float32Array, offset: number): void {
  if (count <= 0) return;
  const words = new Uint32Array(4);
  const end = start + count;
  const block = (b: number) =>
    philoxInto(b % TWO_32, Math.floor(b / TWO_32), s.c2, s.c3, s.k0, s.k1, PHILOX_ROUNDS, words);
  let i = start;
  let o = offset;
  // A partial first block.
  if (i % 4 !== 0) {
    const b = Math.floor(i / 4);
    const to = Math.min(4, end - 4 * b);
    block(b);
    boxMullerInto(words[0], words[1], words[2], words[3], out, o, i - 4 * b, to);
    o += to - (i - 4 * b);
    i = 4 * b + to;
  }
  // Whole blocks: Philox in WebAssembly (philox-wasm.ts: the same words), a chunk at a time.
  const blocks = Math.floor((end - i) / 4);
  for (let b = i / 4, left = blocks; left > 0;) {
    const n = Math.min(left, PHILOX_CHUNK_BLOCKS);
    const w = philoxBlocks(b, n, s.k0, s.k1, s.c2, s.c3);
    for (let j = 0; j < 4 * n; j += 4, o += 4)
      boxMullerInto(w[j], w[j + 1], w[j + 2], w[j + 3], out, o, 0, 4);
    b += n;
    left -= n;
  }
  i += 4 * blocks;
  // A partial last block.
  if (i < end) {
    const b = i / 4;
    block(b);
    boxMullerInto(words[0], words[1], words[2], words[3], out, o, 0, end - i);
  }
}

/** n standard normal values; the same key gives the same bytes, any differing field an independent stream. */
export function gaussian(key: NoiseKey, n: number): Float32Array {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`gaussian n must be a non-negative integer, got ${n}`);
  return phase('noise', () => {
    const out = new Float32Array(n);
    fillGaussian(streamOf(key), 0, n, out, 0);
    return out;
  });
}

/**
 * Standard normal noise of the sub-box [origin, origin + size) of a global tensor of `shape`. The value at
 * a global position depends only on (key, position), so overlapping tiles and windows agree exactly.
 * (src/activity-runtime/noise-threads.ts computes the same values on worker threads.)
 */
export function gaussianField(
  key: FieldKey,
  shape: number[],
  origin: number[],
  size: number[],
): Float32Array {
  checkFieldBox(shape, origin, size);
  return phase('noise', () => {
    const out = new Float32Array(size.reduce((a, b) => a * b, 1));
    fieldRows(fieldStream(key), shape, origin, size, 0, fieldRowCount(size), out);
    return out;
  });
}

/** Throws a RangeError unless the box [origin, origin + size) fits in `shape` (the same rank ≥ 1). */
export function checkFieldBox(shape: number[], origin: number[], size: number[]): void {
  const nd = shape.length;
  if (nd === 0 || origin.length !== nd || size.length !== nd) {
    throw new RangeError(
      `gaussianField needs shape, origin and size of the same rank ≥ 1, got ${shape.length}, ${origin.length}, ${size.length}`,
    );
  }
  let total = 1;
  for (let d = 0; d < nd; d++) {
    if (!Number.isInteger(shape[d]) || shape[d] < 1)
      throw new RangeError(`shape[${d}] must be a positive integer, got ${shape[d]}`);
    if (
      !Number.isInteger(origin[d]) ||
      !Number.isInteger(size[d]) ||
      origin[d] < 0 ||
      size[d] < 0 ||
      origin[d] + size[d] > shape[d]
    ) {
      throw new RangeError(`box [${origin}] + [${size}] does not fit in shape [${shape}] on axis ${d}`);
    }
    total *= shape[d];
  }
  if (total > Number.MAX_SAFE_INTEGER)
    throw new RangeError(`shape [${shape}] has too many elements for the counter`);
}

/** Rows of a box: its elements ÷ its last axis (0 when any axis is empty). */
export function fieldRowCount(size: number[]): number {
  const rowLen = size[size.length - 1];
  return rowLen === 0 ? 0 : size.reduce((a, b) => a * b, 1) / rowLen;
}

/**
 * Rows [rowFrom, rowTo) of the box (row = all axes but the last, row-major) into `out`, row r at
 * out[(r − rowFrom) · rowLen …]. Each value depends on its global position only, so rows computed apart
 * (on several threads) are the bytes of the whole box computed at once.
 */
export function fieldRows(
  stream: NoiseStream,
  shape: number[],
  origin: number[],
  size: number[],
  rowFrom: number,
  rowTo: number,
  out: Float32Array,
): void {
  const nd = shape.length;
  const rowLen = size[nd - 1];
  if (rowLen === 0 || rowTo <= rowFrom) return;
  const strides = new Array<number>(nd);
  strides[nd - 1] = 1;
  for (let d = nd - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Position within the box of row rowFrom, all axes but the last.
  const idx = new Array<number>(nd - 1).fill(0);
  let rest = rowFrom;
  for (let d = nd - 2; d >= 0; d--) {
    idx[d] = rest % size[d];
    rest = Math.floor(rest / size[d]);
  }
  for (let r = rowFrom, o = 0; r < rowTo; r++, o += rowLen) {
    let linear = origin[nd - 1];
    for (let d = 0; d < nd - 1; d++) linear += (origin[d] + idx[d]) * strides[d];
    fillGaussian(stream, linear, rowLen, out, o);
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

/**
 * Frame masks m_S of the prediction and interpolation models (Blattmann et al. 2023, §3.2): 1 on known
 * (context) frames, 0 on frames to generate. Per-frame masks [T] are broadcast to the contract's
 * `mask` input [B,T,1,h,w]; `context = m ∘ z` zeroes the frames to generate.
 */

import { UserError } from '../common/errors';

/** Context frames the prediction model accepts (paper: 0, 1 or 2). */
export const MAX_CONTEXT_FRAMES = 2;
/** Interpolation fills 3 frames between each pair of keyframes: T → 4T. */
export const INTERPOLATION_FACTOR = 4;

function checkFrames(T: number): void {
  if (!Number.isInteger(T) || T < 1)
    throw new UserError(`frame count T must be a positive integer, got ${T}`);
}

/** Prediction mask: 1 on the first S frames (the context sits at the start of the window). */
export function contextMask(T: number, S: number): Float32Array {
  checkFrames(T);
  if (!Number.isInteger(S) || S < 0 || S > MAX_CONTEXT_FRAMES) {
    throw new UserError(`context frames S must be 0, 1 or 2, got ${S}`);
  }
  if (S >= T) throw new UserError(`context frames S (${S}) must be fewer than the window's T (${T}) frames`);
  const m = new Float32Array(T);
  m.fill(1, 0, S);
  return m;
}

/** Interpolation mask: 1 at frames 0, 4, 8, …; a window of n keyframes has T = 4(n−1)+1 frames. */
export function interpolationMask(T: number): Float32Array {
  checkFrames(T);
  if (T < INTERPOLATION_FACTOR + 1 || (T - 1) % INTERPOLATION_FACTOR !== 0) {
    throw new UserError(`interpolation window T must be 4n+1 with n ≥ 1 (5, 9, 13, …), got ${T}`);
  }
  const m = new Float32Array(T);
  for (let i = 0; i < T; i += INTERPOLATION_FACTOR) m[i] = 1;
  return m;
}

/** [T] → [B,T,1,h,w], constant over batch and space. */
export function broadcastMask(frameMask: Float32Array, B: number, h: number, w: number): Float32Array {
  for (const [name, v] of [
    ['B', B],
    ['h', h],
    ['w', w],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`broadcastMask ${name} must be a positive integer, got ${v}`);
  }
  const T = frameMask.length;
  const plane = h * w;
  const out = new Float32Array(B * T * plane);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < T; f++) {
      if (frameMask[f] !== 0) out.fill(frameMask[f], (b * T + f) * plane, (b * T + f + 1) * plane);
    }
  }
  return out;
}

/** context = m ∘ z for latents [(B,) T, C, h, w] (any leading batch): frames with m = 0 become zeros. */
export function maskFrames(z: Float32Array, frameMask: Float32Array, frameSize: number): Float32Array {
  const T = frameMask.length;
  if (!Number.isInteger(frameSize) || frameSize < 1 || z.length % (T * frameSize) !== 0) {
    throw new RangeError(
      `maskFrames: ${z.length} values are not a whole number of [${T} frames × ${frameSize}]`,
    );
  }
  const out = new Float32Array(z.length);
  const frames = z.length / frameSize;
  for (let k = 0; k < frames; k++) {
    const m = frameMask[k % T];
    if (m === 0) continue;
    const o = k * frameSize;
    for (let i = 0; i < frameSize; i++) out[o + i] = m * z[o + i];
  }
  return out;
}

/**
 * m ∘ known + (1 − m) ∘ x: puts the known frames back into a sample (e.g. after the last DDIM step, so
 * context frames are passed through bit-exactly instead of as the model's reconstruction).
 */
export function mergeKnown(
  x: Float32Array,
  known: Float32Array,
  frameMask: Float32Array,
  frameSize: number,
): Float32Array {
  if (known.length !== x.length)
    throw new RangeError(`mergeKnown: known has ${known.length} values, x has ${x.length}`);
  const T = frameMask.length;
  if (!Number.isInteger(frameSize) || frameSize < 1 || x.length % (T * frameSize) !== 0) {
    throw new RangeError(
      `mergeKnown: ${x.length} values are not a whole number of [${T} frames × ${frameSize}]`,
    );
  }
  const out = new Float32Array(x.length);
  const frames = x.length / frameSize;
  for (let k = 0; k < frames; k++) {
    const m = frameMask[k % T];
    const o = k * frameSize;
    for (let i = 0; i < frameSize; i++)
      out[o + i] = m === 1 ? known[o + i] : m * known[o + i] + (1 - m) * x[o + i];
  }
  return out;
}

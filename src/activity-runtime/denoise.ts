/**
 * The sampling loop of the denoisers (keyframe, interpolation, upsampler): DDIM over the pack's
 * schedule, with context and label guidance evaluated as extra batch rows of ONE model call. The
 * math lives in src/sampling (model-free); this loop owns the model call and progress.
 */
import {
  combineGuidance,
  ddimPairs,
  ddimStep,
  guidanceRows,
  splitRows,
  type NoiseSchedule,
  type Prediction,
} from '../sampling';
import type { SamplingCheckpoints } from './checkpoints';

/** A model callable: named float32 inputs → output. (ModelSession.run fits.) */
export interface Denoiser {
  run(
    inputs: Record<string, { shape: number[]; data: Float32Array }>,
  ): Promise<{ shape: number[]; data: Float32Array }>;
}

export interface DenoiseArgs {
  model: Denoiser;
  schedule: NoiseSchedule;
  prediction: Prediction;
  steps: number;
  eta: number;
  /** Shape of one sample without batch: [T, C, H, W]. */
  shape: number[];
  /** Initial x_T (standard normal). */
  initial: Float32Array;
  /** DDIM η noise of step i (1-based); only called when η > 0. */
  stepNoise: (step: number) => Float32Array;
  /** Context/label conditioning; absent for the upsampler. */
  conditioning?: {
    context: Float32Array;
    /** [T] frame mask of the context frames. */
    frameMask: Float32Array;
    labels: number[];
    contextGuidance: number;
    labelGuidance: number;
  };
  /** Per-row scalar inputs of shape [B] (e.g. interpolation `rate`, upsampler `noise_level`). */
  scalars?: Record<string, number>;
  /** Per-row tensor inputs repeated for every row (e.g. upsampler `lowres`). */
  tensors?: Record<string, { shape: number[]; data: Float32Array }>;
  /** Called after each step (heartbeat, progress, cancellation). */
  onStep?: (step: number, steps: number) => void;
  /** Save x every few steps and resume from the newest saved step (see checkpoints.ts). */
  checkpoints?: SamplingCheckpoints;
  /** True once the activity is being cancelled: the next step boundary saves a checkpoint first. */
  stopping?: () => boolean;
}

function repeat(data: Float32Array, times: number): Float32Array {
  if (times === 1) return data;
  const out = new Float32Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}

/** Runs DDIM and returns x̂₀ (the clean sample). */
export async function denoise(args: DenoiseArgs): Promise<Float32Array> {
  const { model, schedule, prediction, steps, eta, shape, conditioning: cond } = args;
  const [T, , H, W] = shape;
  const rows = cond
    ? guidanceRows(
        { context: cond.contextGuidance, labels: cond.labelGuidance },
        cond.frameMask.some((m) => m !== 0),
      )
    : [{ useContext: false, useLabels: false }];
  const B = rows.length;
  // Conditioning inputs do not change between steps: build them once.
  const fixed: Record<string, { shape: number[]; data: Float32Array }> = {};
  if (cond) {
    const zeros = new Float32Array(cond.context.length);
    fixed.context = {
      shape: [B, ...shape],
      data: concatRows(rows.map((r) => (r.useContext ? cond.context : zeros))),
    };
    const plane = H * W;
    const maskOne = new Float32Array(T * plane);
    cond.frameMask.forEach((m, f) => maskOne.fill(m, f * plane, (f + 1) * plane));
    const maskZero = new Float32Array(T * plane);
    fixed.mask = {
      shape: [B, T, 1, H, W],
      data: concatRows(rows.map((r) => (r.useContext ? maskOne : maskZero))),
    };
    const L = cond.labels.length;
    const labelsOne = Float32Array.from(cond.labels);
    fixed.labels = {
      shape: [B, L],
      data: concatRows(rows.map((r) => (r.useLabels ? labelsOne : new Float32Array(L)))),
    };
  }
  for (const [name, v] of Object.entries(args.scalars ?? {}))
    fixed[name] = { shape: [B], data: new Float32Array(B).fill(v) };
  for (const [name, v] of Object.entries(args.tensors ?? {}))
    fixed[name] = { shape: [B, ...v.shape], data: repeat(v.data, B) };

  let x = args.initial;
  let x0 = x;
  const pairs = ddimPairs(schedule.spec.trainSteps, steps);
  let first = 0;
  const resumed = await args.checkpoints?.resume(shape);
  if (resumed && resumed.step < pairs.length && resumed.x.length === x.length) {
    x = resumed.x;
    first = resumed.step;
  }
  for (let i = first; i < pairs.length; i++) {
    const { t, tPrev } = pairs[i];
    const out = await model.run({
      ...fixed,
      x: { shape: [B, ...shape], data: repeat(x, B) },
      t: { shape: [B], data: new Float32Array(B).fill(t) },
    });
    const guided = cond
      ? combineGuidance(splitRows(out.data, B), rows, {
          context: cond.contextGuidance,
          labels: cond.labelGuidance,
        })
      : out.data;
    const step = ddimStep({
      schedule,
      t,
      tPrev,
      x,
      out: guided,
      prediction,
      eta,
      ...(eta > 0 ? { noise: args.stepNoise(i + 1) } : {}),
    });
    x = step.prev;
    x0 = step.x0;
    await args.checkpoints?.afterStep(i + 1, pairs.length, x, shape, args.stopping?.() ?? false);
    args.onStep?.(i + 1, pairs.length);
  }
  // The last pair ends at tPrev = −1 (clean), where x_prev = x̂₀.
  return pairs.length ? x : x0;
}

function concatRows(rows: Float32Array[]): Float32Array {
  if (rows.length === 1) return rows[0];
  const n = rows[0].length;
  const out = new Float32Array(n * rows.length);
  rows.forEach((r, i) => out.set(r, i * n));
  return out;
}

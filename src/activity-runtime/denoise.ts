/**
 * The sampling loop of the denoisers (keyframe, interpolation, upsampler): DDIM over the pack's
 * schedule, with context and label guidance evaluated as extra batch rows of ONE model call. The
 * math lives in src/sampling (model-free), the model's inputs in src/models/inputs.ts; this loop owns
 * the model call and progress.
 */
import {
  combineGuidance,
  ddimPairs,
  ddimPrev,
  guidanceRows,
  splitRows,
  type NoiseSchedule,
  type Prediction,
} from '../sampling';
import type { SamplingRole } from '../models/contract';
import { samplingFeeds, type SamplingInputs } from '../models/inputs';
import type { SamplingCheckpoints } from './checkpoints';
import { phase } from '../observability/host-phases';

/**
 * A model callable: named float32 inputs → output. (ModelSession.run fits.) The output is the caller's:
 * the loop overwrites it with the step's x_prev, so a denoiser must not hand out an array it keeps.
 */
export interface Denoiser {
  run(
    inputs: Record<string, { shape: number[]; data: Float32Array }>,
  ): Promise<{ shape: number[]; data: Float32Array }>;
}

export interface DenoiseArgs {
  model: Denoiser;
  /** The model's role: its contract names and shapes the inputs. */
  role: SamplingRole;
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
  /** Context/label conditioning with its guidance scales; absent for the upsampler. */
  conditioning?: NonNullable<SamplingInputs['conditioning']> & {
    contextGuidance: number;
    labelGuidance: number;
  };
  /** The role's other inputs (interpolation `rate`; upsampler `lowres` and `noise_level`). */
  inputs?: Omit<SamplingInputs, 'conditioning'>;
  /** Called after each step (heartbeat, progress, cancellation). */
  onStep?: (step: number, steps: number) => void;
  /** Save x every few steps and resume from the newest saved step (see checkpoints.ts). */
  checkpoints?: SamplingCheckpoints;
  /** True once the activity is being cancelled: the next step boundary saves a checkpoint first. */
  stopping?: () => boolean;
}

/** Runs DDIM and returns x̂₀ (the clean sample). */
export async function denoise(args: DenoiseArgs): Promise<Float32Array> {
  const { model, schedule, prediction, steps, eta, shape, conditioning: cond } = args;
  const rows = cond
    ? guidanceRows(
        { context: cond.contextGuidance, labels: cond.labelGuidance },
        cond.frameMask.some((m) => m !== 0),
      )
    : [{ useContext: false, useLabels: false }];
  const B = rows.length;
  // Conditioning inputs do not change between steps: samplingFeeds builds them once.
  const feeds = phase('sampler', () =>
    samplingFeeds(args.role, rows, shape, {
      ...args.inputs,
      ...(cond ? { conditioning: cond } : {}),
    }),
  );

  let x = args.initial;
  const pairs = ddimPairs(schedule.spec.trainSteps, steps);
  let first = 0;
  const resumed = await args.checkpoints?.resume(shape);
  if (resumed && resumed.step < pairs.length && resumed.x.length === x.length) {
    x = resumed.x;
    first = resumed.step;
  }
  for (let i = first; i < pairs.length; i++) {
    const { t, tPrev } = pairs[i];
    const out = await model.run(phase('sampler', () => feeds(x, t)));
    const noise = eta > 0 ? args.stepNoise(i + 1) : undefined;
    x = phase('sampler', () => {
      const guided = cond
        ? combineGuidance(splitRows(out.data, B), rows, {
            context: cond.contextGuidance,
            labels: cond.labelGuidance,
          })
        : out.data;
      // x_prev goes into the model's output (or the guided combination), which nothing else holds: one
      // sample-sized array less per step, and less for the garbage collector.
      return ddimPrev(
        { schedule, t, tPrev, x, out: guided, prediction, eta, ...(noise ? { noise } : {}) },
        guided,
      );
    });
    await args.checkpoints?.afterStep(i + 1, pairs.length, x, shape, args.stopping?.() ?? false);
    args.onStep?.(i + 1, pairs.length);
  }
  // The last pair ends at tPrev = −1 (clean), where x_prev = x̂₀.
  return x;
}

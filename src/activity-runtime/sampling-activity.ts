/**
 * The scaffolding every denoising activity (keyframes, interpolation, upscale) shares: the checkpoint
 * rule around the work, the role's ONNX session and noise schedule, the stage's sampling settings with
 * their defaults resolved, one progress reporter for all of the activity's sampling loops, and each
 * loop's checkpoints. An activity keeps only what differs: its key, its noise and its conditioning.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { makeSchedule, type NoiseSchedule } from '../sampling';
import { FAILURE_TYPES } from '../common/errors';
import type { StageOutput } from '../common/boundary';
import type { SamplingRole } from '../models/contract';
import { stageSampling, type PackSummary, type SamplingSettings } from '../planning/pack-summary';
import { denoise, type DenoiseArgs } from './denoise';
import type { LoadedPack } from './model-cache';
import {
  activityStopping,
  makeCheckpoints,
  makeStepReporter,
  runStage,
  type StageDeps,
  type StageEvent,
  type StepDetails,
} from './stage-runner';

/** The schedule spec of a denoiser role, from its ONNX metadata. */
export function scheduleOf(loaded: LoadedPack, role: SamplingRole) {
  const meta = loaded.pack.meta[role];
  if (!meta.schedule || !meta.prediction) {
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.contract,
      nonRetryable: true,
      message: `${role} model has no schedule/prediction metadata`,
    });
  }
  return { schedule: meta.schedule, prediction: meta.prediction };
}

/** One sampling loop of the activity: what differs between loops and between activities. */
export interface SamplingLoop extends Pick<DenoiseArgs, 'shape' | 'initial' | 'stepNoise' | 'inputs'> {
  /** Known frames and labels; the stage's guidance scales are added. */
  conditioning?: Omit<NonNullable<DenoiseArgs['conditioning']>, 'contextGuidance' | 'labelGuidance'>;
  /** Tells this loop's checkpoints apart from the activity's other loops'. */
  slot: string;
  /** Steps of the activity's earlier loops: progress counts across all of them. */
  offset?: number;
}

/** What an activity's computation gets: the loaded pack, the schedule and a loop to run. */
export interface Sampler {
  loaded: LoadedPack;
  schedule: NoiseSchedule;
  /** The stage's sampling settings, defaults resolved. */
  settings: Required<SamplingSettings>;
  /** Run one DDIM loop and return x̂₀. */
  sample(loop: SamplingLoop): Promise<Float32Array>;
}

export interface SamplingActivity {
  deps: StageDeps;
  /** The activity's output key (and the prefix of its checkpoints). */
  key: string;
  ev: StageEvent;
  /** The denoiser this stage runs; it names the stage's sampling settings too. */
  role: SamplingRole;
  /** The pack the job was planned with (its sampling settings are the stage's). */
  pack: PackSummary;
  /** This worker's copy of that pack (activities/deps.ts packFor). */
  load: () => Promise<LoadedPack>;
  /** Sampling loops the activity runs, for the progress total (steps × loops). @default 1 */
  loops?: number;
  /** The activity's own work; returns the output artifact's bytes. */
  compute: (sampler: Sampler) => Promise<Uint8Array>;
}

/** Run a denoising activity under the checkpoint rule (stage-runner.ts runStage). */
export function runSamplingActivity(a: SamplingActivity): Promise<StageOutput> {
  return runStage(a.deps, a.key, a.ev, async () => {
    const loaded = await a.load();
    const model = await loaded.runtime.session(a.role);
    const { schedule: spec, prediction } = scheduleOf(loaded, a.role);
    const schedule = makeSchedule(spec);
    const settings = stageSampling(a.pack, a.role);
    // One detail object: the reporter's step and the newest checkpoint key share each heartbeat.
    const details: StepDetails = {};
    const report = makeStepReporter(a.deps.events, a.ev, settings.steps * (a.loops ?? 1), details);
    const sample = (loop: SamplingLoop) => {
      const offset = loop.offset ?? 0;
      return denoise({
        model,
        role: a.role,
        schedule,
        prediction,
        steps: settings.steps,
        eta: settings.eta,
        shape: loop.shape,
        initial: loop.initial,
        stepNoise: loop.stepNoise,
        ...(loop.conditioning
          ? {
              conditioning: {
                ...loop.conditioning,
                contextGuidance: settings.contextGuidance,
                labelGuidance: settings.labelGuidance,
              },
            }
          : {}),
        ...(loop.inputs ? { inputs: loop.inputs } : {}),
        onStep: (i) => report(offset + i),
        checkpoints: makeCheckpoints(a.deps, a.key, loop.slot, details),
        stopping: activityStopping,
      });
    };
    return a.compute({ loaded, schedule, settings, sample });
  });
}

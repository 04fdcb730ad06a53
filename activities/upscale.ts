/**
 * Video super-resolution stage (paper §3.4): a 4× pixel-space diffusion upsampler conditioned on the
 * noise-augmented low-res frames (c = α_γ·x + σ_γ·ε, γ given to the model), run on one
 * spatio-temporal tile: the unit that fans out across GPU pods. All noise is a function of the global
 * pixel position, so overlapping tiles start from the same noise and agree where they overlap; the
 * encode stage blends them with weights that fall to zero at tile edges.
 */
import { makeSchedule, addNoise, gaussianField } from '../src/sampling';
import { encodeTensor, sliceBox } from '../src/tensors';
import { UPSCALE_FACTOR } from '../src/planning/pack-summary';
import { denoise } from '../src/activity-runtime/denoise';
import { gatherFrames } from '../src/activity-runtime/frames';
import {
  activityStopping,
  makeCheckpoints,
  makeStepReporter,
  runStage,
  type StageEvent,
  type StepDetails,
} from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import { packFor, scheduleOf, type ActivityDeps } from './deps';
import type { StageOutput, UpscaleInput } from '../src/common/boundary';

export function createUpscaleActivities(deps: ActivityDeps) {
  return {
    async upscale(input: UpscaleInput): Promise<StageOutput> {
      const { spec, pack, segment, tile, sources } = input;
      const s = pack.sampling.upsampler;
      const name = `${segName(segment)}-tile${String(tile.index).padStart(4, '0')}`;
      const key = stageKey(spec.jobId, 'upscale', name, {
        pack: pack.digest,
        seed: spec.seed,
        sampling: s,
        tile: { t: tile.t, y: tile.y, x: tile.x },
        sources: sources.map((x) => x.key),
      });
      const ev: StageEvent = { jobId: spec.jobId, stage: 'upscale', segment, tile: tile.index };
      return runStage(deps, key, ev, async () => {
        const loaded = await packFor(deps, input);
        const model = await loaded.runtime.session('upsampler');
        const { schedule: sched, prediction } = scheduleOf(loaded, 'upsampler');
        const schedule = makeSchedule(sched);
        const frames = Math.round(spec.seconds * spec.fps);
        const { height: Hb, width: Wb } = pack.base;
        const Tt = tile.t.end - tile.t.start;
        const th = tile.y.end - tile.y.start;
        const tw = tile.x.end - tile.x.start;
        const low = await gatherFrames(deps.store, sources, tile.t.start, tile.t.end);
        const lowTile = sliceBox(low, [0, 0, tile.y.start, tile.x.start], [Tt, 3, th, tw]);
        const gamma = s.noiseAugmentation ?? 0;
        // γ = 0 means no augmentation: the clean low-res frames condition the model.
        const lowres =
          gamma > 0
            ? addNoise(
                schedule,
                lowTile.data,
                gaussianField(
                  { seed: spec.seed, stage: 'upscale-augment', segment: 0, step: 0 },
                  [frames, 3, Hb, Wb],
                  [tile.t.start, 0, tile.y.start, tile.x.start],
                  [Tt, 3, th, tw],
                ),
                gamma,
              )
            : lowTile.data;
        const F = UPSCALE_FACTOR;
        const hiShape = [frames, 3, Hb * F, Wb * F];
        const hiOrigin = [tile.t.start, 0, tile.y.start * F, tile.x.start * F];
        const hiSize = [Tt, 3, th * F, tw * F];
        const field = (step: number) =>
          gaussianField({ seed: spec.seed, stage: 'upscale', segment: 0, step }, hiShape, hiOrigin, hiSize);
        const details: StepDetails = {};
        const report = makeStepReporter(deps.events, ev, s.steps, details);
        const x0 = await denoise({
          model,
          schedule,
          prediction,
          steps: s.steps,
          eta: s.eta,
          shape: hiSize,
          initial: field(0),
          stepNoise: field,
          scalars: { noise_level: gamma },
          tensors: { lowres: { shape: [Tt, 3, th, tw], data: lowres } },
          onStep: (i) => report(i),
          checkpoints: makeCheckpoints(deps, key, 'sample', details),
          stopping: activityStopping,
        });
        for (let i = 0; i < x0.length; i++) x0[i] = x0[i] < -1 ? -1 : x0[i] > 1 ? 1 : x0[i];
        return encodeTensor({ shape: hiSize, data: x0 });
      });
    },
  };
}

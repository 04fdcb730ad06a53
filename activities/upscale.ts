/**
 * Video super-resolution stage (paper §3.4): a 4× pixel-space diffusion upsampler conditioned on the
 * noise-augmented low-res frames (c = α_γ·x + σ_γ·ε, γ given to the model), run on one
 * spatio-temporal tile: the unit that fans out across GPU pods. All noise is a function of the global
 * pixel position, so overlapping tiles start from the same noise and agree where they overlap; the
 * encode stage blends them with weights that fall to zero at tile edges.
 */
import { addNoise, gaussianField } from '../src/sampling';
import { gaussianFieldAsync } from '../src/activity-runtime/noise-threads';
import { sliceBox } from '../src/tensors';
import { encodePixels, pixelKeyInputs } from '../src/activity-runtime/artifact-format';
import { UPSCALE_FACTOR } from '../src/planning/pack-summary';
import { frameCount } from '../src/planning/plan';
import { gatherFrames } from '../src/activity-runtime/frames';
import { runSamplingActivity } from '../src/activity-runtime/sampling-activity';
import type { StageEvent } from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import { phase } from '../src/observability/host-phases';
import { packFor, type ActivityDeps } from './deps';
import type { StageOutput, UpscaleInput } from '../src/common/boundary';

export function createUpscaleActivities(deps: ActivityDeps) {
  return {
    async upscale(input: UpscaleInput): Promise<StageOutput> {
      const { spec, pack, segment, tile, sources } = input;
      const name = `${segName(segment)}-tile${String(tile.index).padStart(4, '0')}`;
      const key = stageKey(spec.jobId, 'upscale', name, {
        pack: pack.digest,
        seed: spec.seed,
        sampling: pack.sampling.upsampler,
        tile: { t: tile.t, y: tile.y, x: tile.x },
        sources: sources.map((x) => x.key),
        ...pixelKeyInputs,
      });
      const ev: StageEvent = { jobId: spec.jobId, stage: 'upscale', segment, tile: tile.index };
      return runSamplingActivity({
        deps,
        key,
        ev,
        role: 'upsampler',
        pack,
        load: () => packFor(deps, input),
        compute: async ({ schedule, settings, sample }) => {
          // Noise fields span the whole job's frames, so every tile reads its own part of the same field.
          const frames = frameCount(spec);
          const { height: Hb, width: Wb } = pack.base;
          const Tt = tile.t.end - tile.t.start;
          const th = tile.y.end - tile.y.start;
          const tw = tile.x.end - tile.x.start;
          const low = await gatherFrames(deps.store, sources, tile.t.start, tile.t.end);
          const lowTile = phase('decode', () =>
            sliceBox(low, [0, 0, tile.y.start, tile.x.start], [Tt, 3, th, tw]),
          );
          const gamma = settings.noiseAugmentation;
          // γ = 0 means no augmentation: the clean low-res frames condition the model.
          const F = UPSCALE_FACTOR;
          const hiShape = [frames, 3, Hb * F, Wb * F];
          const hiOrigin = [tile.t.start, 0, tile.y.start * F, tile.x.start * F];
          const hiSize = [Tt, 3, th * F, tw * F];
          const hiKey = (step: number) => ({ seed: spec.seed, stage: 'upscale', segment: 0, step });
          // The two big noise boxes go to the noise threads (noise-threads.ts), so this process's event
          // loop keeps serving its other activities meanwhile; η noise (per step, only when η > 0) stays inline.
          const [augment, initial] = await Promise.all([
            gamma > 0
              ? gaussianFieldAsync(
                  { seed: spec.seed, stage: 'upscale-augment', segment: 0, step: 0 },
                  [frames, 3, Hb, Wb],
                  [tile.t.start, 0, tile.y.start, tile.x.start],
                  [Tt, 3, th, tw],
                )
              : undefined,
            gaussianFieldAsync(hiKey(0), hiShape, hiOrigin, hiSize),
          ]);
          const lowres = augment
            ? phase('sampler', () => addNoise(schedule, lowTile.data, augment, gamma))
            : lowTile.data;
          const x0 = await sample({
            shape: hiSize,
            initial,
            stepNoise: (step) => gaussianField(hiKey(step), hiShape, hiOrigin, hiSize),
            inputs: { noiseLevel: gamma, lowres: { shape: [Tt, 3, th, tw], data: lowres } },
            slot: 'sample',
          });
          // x̂₀ is clipped to [-1, 1] by storing it as pixel8 (PIXEL_ARTIFACT_DTYPE): codes clamp to 0…255,
          // exactly the codes of the clipped values, so no pass of its own clips it first (a float32
          // pixel store would need that pass back).
          return encodePixels({ shape: hiSize, data: x0 });
        },
      });
    },
  };
}

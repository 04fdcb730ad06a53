/**
 * Temporal interpolation stage (paper §3.3): the known frames of a window sit every 4th frame and the
 * model fills the 3 frames between each pair; `rate` tells the one model which pass it is doing
 * (0: keyframes T → 4T, 1: 4T → 16T). Windows are independent once their known frames exist, so
 * they fan out across GPU pods. Known frames are copied through exactly, so windows sharing a
 * boundary frame agree on it.
 */
import { interpolationMask, gaussian, mergeKnown } from '../src/sampling';
import { encodeLatents } from '../src/activity-runtime/artifact-format';
import { INTERPOLATION_RATE, interpolationFrames } from '../src/planning/pack-summary';
import { gatherFrames } from '../src/activity-runtime/frames';
import { runSamplingActivity } from '../src/activity-runtime/sampling-activity';
import type { StageEvent } from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import { phase } from '../src/observability/host-phases';
import { packFor, type ActivityDeps } from './deps';
import type { InterpolationInput, StageOutput } from '../src/common/boundary';

export function createInterpolationActivities(deps: ActivityDeps) {
  return {
    async interpolate(input: InterpolationInput): Promise<StageOutput> {
      const { spec, pack, segment, window: w, sources } = input;
      const name = `${segName(segment)}-p${w.pass}-at${String(w.start).padStart(5, '0')}`;
      const key = stageKey(spec.jobId, 'interpolation', name, {
        pack: pack.digest,
        seed: spec.seed,
        labels: input.labels,
        sampling: pack.sampling.interpolation,
        window: w,
        sources: sources.map((x) => x.key),
      });
      const ev: StageEvent = {
        jobId: spec.jobId,
        stage: 'interpolation',
        segment,
        window: w.start,
        message: `pass ${w.pass}`,
      };
      return runSamplingActivity({
        deps,
        key,
        ev,
        role: 'interpolation',
        pack,
        load: () => packFor(deps, input),
        compute: async ({ sample }) => {
          const { channels: c, height: h, width: wd } = pack.latent;
          const frame = c * h * wd;
          const T = interpolationFrames(w.intervals);
          const knownFrames = await gatherFrames(deps.store, sources, w.start, w.start + w.intervals + 1);
          const frameMask = interpolationMask(T);
          const context = new Float32Array(T * frame);
          for (let k = 0; k <= w.intervals; k++) {
            context.set(
              knownFrames.data.subarray(k * frame, (k + 1) * frame),
              k * INTERPOLATION_RATE * frame,
            );
          }
          // Noise keyed by the window's position on its axis: same window, same noise, on any worker.
          const noiseKey = (step: number) => ({
            seed: spec.seed,
            stage: `interpolation-p${w.pass}`,
            segment,
            window: w.start,
            tile: 0,
            step,
          });
          const x0 = await sample({
            shape: [T, c, h, wd],
            initial: gaussian(noiseKey(0), T * frame),
            stepNoise: (i) => gaussian(noiseKey(i), T * frame),
            conditioning: { context, frameMask, labels: input.labels },
            inputs: { rate: w.pass },
            slot: 'sample',
          });
          const merged = phase('sampler', () => mergeKnown(x0, context, frameMask, frame));
          return encodeLatents({ shape: [T, c, h, wd], data: merged });
        },
      });
    },
  };
}

/**
 * `measureStage`: how long one model call of this pool's stage takes at the job's real shapes, on
 * this worker (median of 3 calls after a warm-up; cached per pack and shape for the worker's life).
 * The workflow derives the stage's heartbeat and start-to-close timeouts from it
 * (src/planning/timeouts.ts). Each GPU queue registers this activity, so it runs on that pool.
 */
import { guidanceRows } from '../src/sampling';
import { INTERPOLATION_RATE, UPSCALE_FACTOR } from '../src/planning/pack-summary';
import type { MeasuredStage, StageSpeed } from '../src/planning/timeouts';
import { packFor, type ActivityDeps } from './deps';
import type { StageContext } from '../src/common/boundary';

const cache = new Map<string, Promise<number>>();

export function createSpeedActivities(deps: ActivityDeps) {
  return {
    async measureStage(input: StageContext & { stage: MeasuredStage }): Promise<StageSpeed> {
      const { pack, stage } = input;
      const { channels: c, height: h, width: w } = pack.latent;
      const L = pack.labels.length;
      const rows = (g: { contextGuidance?: number; labelGuidance?: number }) =>
        guidanceRows({ context: g.contextGuidance ?? 1, labels: g.labelGuidance ?? 1 }, true).length;
      const z = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
      let role: 'keyframe' | 'interpolation' | 'decoder' | 'upsampler';
      let inputs: Record<string, { shape: number[]; data: Float32Array }>;
      let calls: number;
      if (stage === 'keyframe' || stage === 'interpolation') {
        const s = pack.sampling[stage];
        const B = rows(s);
        const T =
          stage === 'keyframe'
            ? pack.windows.keyframe.frames
            : INTERPOLATION_RATE * pack.windows.interpolation.intervals + 1;
        role = stage;
        inputs = {
          x: z([B, T, c, h, w]),
          t: z([B]),
          context: z([B, T, c, h, w]),
          mask: z([B, T, 1, h, w]),
          labels: z([B, L]),
          ...(stage === 'interpolation' ? { rate: z([B]) } : {}),
        };
        // Segment 0 runs the image frame and the first window: twice the steps of one window.
        calls = stage === 'keyframe' ? 2 * s.steps : s.steps;
      } else if (stage === 'decode') {
        const d = pack.windows.decode;
        role = 'decoder';
        inputs = { latents: z([1, d.frames + 2 * d.overlap, c, h, w]) };
        calls = 1;
      } else {
        const u = pack.windows.upscale;
        const th = Math.min(u.tileHeight, pack.base.height);
        const tw = Math.min(u.tileWidth, pack.base.width);
        role = 'upsampler';
        inputs = {
          x: z([1, u.frames, 3, th * UPSCALE_FACTOR, tw * UPSCALE_FACTOR]),
          t: z([1]),
          lowres: z([1, u.frames, 3, th, tw]),
          noise_level: z([1]),
        };
        calls = pack.sampling.upsampler.steps;
      }
      const cacheKey = `${pack.digest}/${stage}/${JSON.stringify(Object.values(inputs).map((v) => v.shape))}`;
      let ms = cache.get(cacheKey);
      if (!ms) {
        ms = (async () => {
          const model = await (await packFor(deps, input)).runtime.session(role);
          await model.run(inputs); // warm-up: first calls allocate
          const times: number[] = [];
          for (let i = 0; i < 3; i++) {
            const t0 = performance.now();
            await model.run(inputs);
            times.push(performance.now() - t0);
          }
          return times.sort((a, b) => a - b)[1];
        })();
        cache.set(cacheKey, ms);
        ms.catch(() => cache.delete(cacheKey));
      }
      return { stage, msPerCall: await ms, callsPerActivity: calls };
    },
  };
}

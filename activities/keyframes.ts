/**
 * Keyframe chain stage (paper §3.2, prediction model). Segment 0: the image model makes keyframe 0
 * (T = 1, no context), then the prediction model continues from it (S = 1); with an init image,
 * keyframe 0 is instead the init frame encoded by the pack's encoder, and the same S = 1 window
 * continues it. Later segments are
 * conditioned on the previous segment's last 2 keyframes (S = 2: two frames carry motion), with
 * context guidance f(z) + s·(f(z; c_S) − f(z)). Output: the whole window [T, c, h, w], context frames
 * copied through exactly so that neighbouring segments agree on them.
 */
import { contextMask, gaussian, mergeKnown } from '../src/sampling';
import { decodeTensor } from '../src/tensors';
import { encodeLatents } from '../src/activity-runtime/artifact-format';
import { soleFeed } from '../src/models/inputs';
import { runSamplingActivity } from '../src/activity-runtime/sampling-activity';
import type { StageEvent } from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import { packFor, type ActivityDeps } from './deps';
import type { KeyframeInput, StageOutput } from '../src/common/boundary';

export function createKeyframeActivities(deps: ActivityDeps) {
  return {
    async generateKeyframes(input: KeyframeInput): Promise<StageOutput> {
      const { spec, pack, segment, window: w, previous } = input;
      const key = stageKey(spec.jobId, 'keyframes', segName(segment), {
        pack: pack.digest,
        seed: spec.seed,
        labels: input.labels,
        sampling: pack.sampling.keyframe,
        window: w,
        previous: previous?.key,
        initFrame: input.initFrame, // undefined (left out of the digest) without an init image
      });
      const ev: StageEvent = { jobId: spec.jobId, stage: 'keyframe', segment };
      return runSamplingActivity({
        deps,
        key,
        ev,
        role: 'keyframe',
        pack,
        load: () => packFor(deps, input),
        // Segment 0 runs the image model's frame, then the first window.
        loops: w.firstFrameFromImage ? 2 : 1,
        compute: async ({ loaded, settings: s, sample: run }) => {
          const { channels: c, height: h, width: wd } = pack.latent;
          const frame = c * h * wd;
          const T = w.frames;
          const noiseKey = (window: number, step: number) => ({
            seed: spec.seed,
            stage: 'keyframe',
            segment,
            window,
            tile: 0,
            step,
          });
          const sample = async (
            window: number,
            frames: number,
            known: Float32Array,
            S: number,
            offset: number,
          ) => {
            const frameMask = contextMask(frames, S);
            const context = new Float32Array(frames * frame);
            context.set(known.subarray(0, S * frame));
            const x0 = await run({
              shape: [frames, c, h, wd],
              initial: gaussian(noiseKey(window, 0), frames * frame),
              stepNoise: (i) => gaussian(noiseKey(window, i), frames * frame),
              conditioning: { context, frameMask, labels: input.labels },
              slot: `window${window}`,
              offset,
            });
            return mergeKnown(x0, context, frameMask, frame);
          };

          if (w.initImage) {
            if (!input.initFrame)
              throw new Error(`segment ${segment} needs the init frame (prepareJob's initFrame)`);
            // z = latent_scale · E(x): the encoder takes [B, T, 3, H, W] pixels and returns unscaled latents.
            const pixels = decodeTensor(await deps.store.get(input.initFrame));
            const encoder = await loaded.runtime.session('encoder');
            const latents = await encoder.run(
              soleFeed('encoder', { shape: [1, ...pixels.shape], data: pixels.data }),
            );
            if (latents.data.length !== frame)
              throw new Error(
                `encoder gave [${latents.shape}] for the init frame, expected [1, 1, ${c}, ${h}, ${wd}]`,
              );
            const known = latents.data.map((v) => v * pack.latent.scale);
            // Window 1: the same noise and checkpoint slot as the image model's path uses for this window.
            const out = await sample(1, T, known, 1, 0);
            return encodeLatents({ shape: [T, c, h, wd], data: out });
          }
          if (w.firstFrameFromImage) {
            // The image LDM's frame: T = 1, S = 0 (label guidance only).
            const first = await sample(0, 1, new Float32Array(frame), 0, 0);
            const out = T > 1 ? await sample(1, T, first, 1, s.steps) : first;
            return encodeLatents({ shape: [T, c, h, wd], data: out });
          }
          if (!previous) throw new Error(`segment ${segment} needs the previous segment's keyframes`);
          const prev = decodeTensor(await deps.store.get(previous.key));
          const from = w.start - previous.start; // index of the first context frame in the previous window
          if (from < 0 || from + w.context > prev.shape[0]) {
            throw new Error(
              `previous keyframes [${previous.start}, ${previous.end}) do not hold context frames ${w.start}..${w.start + w.context - 1}`,
            );
          }
          const known = prev.data.slice(from * frame, (from + w.context) * frame);
          const out = await sample(0, T, known, w.context, 0);
          return encodeLatents({ shape: [T, c, h, wd], data: out });
        },
      });
    },
  };
}

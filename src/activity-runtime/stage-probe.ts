/**
 * What a speed probe of a stage runs: one call of the stage's model at the job's real shapes, and the
 * calls one activity of the stage makes. Shared by `measureStage` (activities/speed.ts), which sets a
 * job's timeouts from it, and src/bench/model-compute.ts, which times these calls for its speed table.
 */
import { guidanceRows } from '../sampling';
import {
  interpolationFrames,
  stageSampling,
  UPSCALE_FACTOR,
  type PackSummary,
} from '../planning/pack-summary';
import { tileLength } from '../planning/tiling';
import type { MeasuredStage } from '../planning/timeouts';
import type { SamplingRole } from '../models/contract';
import { zeroFeeds, type Feeds } from '../models/inputs';

/**
 * One call of `stage`'s role at the job's real shapes (zeros: these convolutional models take the
 * same time whatever the values), and how many calls one activity of the stage makes.
 */
export function stageProbe(
  pack: PackSummary,
  stage: MeasuredStage,
): { role: SamplingRole | 'decoder'; inputs: Feeds; calls: number } {
  const { channels: c, height: h, width: w } = pack.latent;
  const latent = { c, h, w, L: pack.labels.length };
  if (stage === 'keyframe' || stage === 'interpolation') {
    const s = stageSampling(pack, stage);
    const B = guidanceRows({ context: s.contextGuidance, labels: s.labelGuidance }, true).length;
    const T =
      stage === 'keyframe'
        ? pack.windows.keyframe.frames
        : interpolationFrames(pack.windows.interpolation.intervals);
    // Segment 0 runs the image frame and the first window: twice the steps of one window.
    return {
      role: stage,
      inputs: zeroFeeds(stage, { ...latent, B, T }),
      calls: stage === 'keyframe' ? 2 * s.steps : s.steps,
    };
  }
  if (stage === 'decode') {
    const d = pack.windows.decode;
    return {
      role: 'decoder',
      inputs: zeroFeeds('decoder', { ...latent, B: 1, T: d.frames + 2 * d.overlap }),
      calls: 1,
    };
  }
  const u = pack.windows.upscale;
  // The largest tile the plan makes: a tile is never longer than the low-res frame.
  const th = tileLength(pack.base.height, u.tileHeight);
  const tw = tileLength(pack.base.width, u.tileWidth);
  return {
    role: 'upsampler',
    inputs: zeroFeeds('upsampler', { B: 1, T: u.frames, H: th * UPSCALE_FACTOR, W: tw * UPSCALE_FACTOR }),
    calls: stageSampling(pack, 'upsampler').steps,
  };
}

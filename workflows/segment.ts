/**
 * One segment's rendering, as a child workflow of the job: interpolation T→4T→16T in windows,
 * decoding in overlapping temporal windows, 4× upscaling in spatio-temporal tiles, and the segment's
 * H.264 clip. New jobs render as one dataflow over the whole video (segment-dataflow.ts); jobs
 * planned before that (render version 1) run the stage-by-stage body below. It starts as soon as the segment's keyframes exist, so rendering overlaps the chain,
 * and keeps the job's own history small (one child per segment instead of hundreds of activities).
 */
import { defineQuery, setHandler } from '@temporalio/workflow';
import type {
  FrameSource,
  SegmentRenderInput,
  SegmentRenderResult,
  StageContext,
} from '../src/common/boundary';
import { INTERPOLATION_RATE } from '../src/planning/pack-summary';
import { QUERIES } from '../src/common/names';
import { emptyCount, type SegmentRenderProgress } from '../src/common/progress';
import { activityCounter } from './counting';
import {
  decodeActivities,
  interpolationActivities,
  mediaActivities,
  mediaOptions,
  stageOptions,
  upscaleActivities,
} from './proxies';
import { renderSegmentDataflow } from './segment-dataflow';

export const segmentProgressQuery = defineQuery<SegmentRenderProgress>(QUERIES.progress);

/** Sources whose frames overlap [start, end] (inclusive end: windows share their boundary frame). */
function covering(sources: FrameSource[], start: number, endInclusive: number): FrameSource[] {
  return sources.filter((s) => s.start <= endInclusive && s.end > start);
}

export async function segmentRenderWorkflow(input: SegmentRenderInput): Promise<SegmentRenderResult> {
  const { segment: seg, keyframes, timeouts, ...ctx } = input;
  const base: StageContext = { spec: ctx.spec, pack: ctx.pack, labels: ctx.labels };
  const pass0 = seg.interpolation.filter((w) => w.pass === 0);
  const pass1 = seg.interpolation.filter((w) => w.pass === 1);
  const progress: SegmentRenderProgress = {
    segment: seg.index,
    stages: {
      interpolation: emptyCount(seg.interpolation.length),
      decode: emptyCount(seg.decode.length),
      upscale: emptyCount(seg.upscale.length),
      encode: emptyCount(1),
    },
  };
  setHandler(segmentProgressQuery, () => progress);
  // Render version 2 plans carry `render`; plans of jobs started before it render stage by stage below.
  if (seg.render) return renderSegmentDataflow(input, seg.render, progress);
  const counter = activityCounter();
  const count = counter.counted;

  // Pass 0: T → 4T on the keyframe axis; its outputs are frames of the quarter axis.
  const quarter: FrameSource[] = await Promise.all(
    pass0.map((w) =>
      interpolationActivities.interpolate
        .executeWithOptions(
          stageOptions(
            timeouts.interpolation,
            `segment ${seg.index} T→4T window @${w.start}`,
            ctx.spec.deadline,
          ),
          [{ ...base, segment: seg.index, window: w, sources: [keyframes] }],
        )
        .then(count(progress.stages.interpolation))
        .then((o) => ({
          key: o.key,
          axis: 'quarter' as const,
          start: w.start * INTERPOLATION_RATE,
          end: (w.start + w.intervals) * INTERPOLATION_RATE + 1,
        })),
    ),
  );
  // Pass 1: 4T → 16T; outputs are frames of the output axis.
  const frames: FrameSource[] = await Promise.all(
    pass1.map((w) =>
      interpolationActivities.interpolate
        .executeWithOptions(
          stageOptions(
            timeouts.interpolation,
            `segment ${seg.index} 4T→16T window @${w.start}`,
            ctx.spec.deadline,
          ),
          [
            {
              ...base,
              segment: seg.index,
              window: w,
              sources: covering(quarter, w.start, w.start + w.intervals),
            },
          ],
        )
        .then(count(progress.stages.interpolation))
        .then((o) => ({
          key: o.key,
          axis: 'frame' as const,
          start: w.start * INTERPOLATION_RATE,
          end: (w.start + w.intervals) * INTERPOLATION_RATE + 1,
        })),
    ),
  );
  // Decode in overlapping temporal windows; each keeps only the frames it owns.
  const pixels: FrameSource[] = await Promise.all(
    seg.decode.map((w) =>
      decodeActivities.decode
        .executeWithOptions(
          stageOptions(
            timeouts.decode,
            `segment ${seg.index} decode frames ${w.own.start}–${w.own.end - 1}`,
            ctx.spec.deadline,
          ),
          [
            {
              ...base,
              segment: seg.index,
              window: w,
              sources: covering(frames, w.decoded.start, w.decoded.end - 1),
            },
          ],
        )
        .then(count(progress.stages.decode))
        .then((o) => ({ key: o.key, axis: 'frame' as const, start: w.own.start, end: w.own.end })),
    ),
  );
  // 4× super-resolution in overlapping spatio-temporal tiles: the fan-out unit across GPU pods.
  const tiles = await Promise.all(
    seg.upscale.map((tile) =>
      upscaleActivities.upscale
        .executeWithOptions(
          stageOptions(
            timeouts.upscale,
            `segment ${seg.index} upscale tile ${tile.index}`,
            ctx.spec.deadline,
          ),
          [{ ...base, segment: seg.index, tile, sources: covering(pixels, tile.t.start, tile.t.end - 1) }],
        )
        .then(count(progress.stages.upscale))
        .then((o) => ({ tile, key: o.key })),
    ),
  );
  const clip = await mediaActivities.encodeSegment
    .executeWithOptions(mediaOptions(`segment ${seg.index} encode clip`, ctx.spec.deadline), [
      { ...base, segment: seg, tiles },
    ])
    .then(count(progress.stages.encode));
  return { segment: seg.index, clipKey: clip.key, stages: progress.stages, activities: counter.totals() };
}

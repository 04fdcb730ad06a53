/**
 * A segment's rendering as one dataflow (render version 2, src/planning/render-plan.ts): every
 * interpolation window, decode window and tile is scheduled the moment the artifacts it reads exist,
 * with no barrier between stages. A 4T→16T window waits only for the T→4T windows it reads, a decode
 * window only for its latents, a tile only for its decode windows. Decode windows and tiles near a
 * segment boundary read frames of the earlier segment: those activities are re-issued here with
 * exactly the inputs the earlier segment's child gave them, so they return its artifacts (`reused`)
 * instead of computing again, and are not counted as this segment's work.
 */
import type {
  FrameSource,
  SegmentRenderInput,
  SegmentRenderResult,
  StageContext,
  StageOutput,
} from '../src/common/boundary';
import type { SegmentRenderProgress, StageCount } from '../src/common/progress';
import type { DecodeWindowPlan, InterpolationWindowPlan, UpscaleTilePlan } from '../src/planning/plan';
import { coveringSpans, interpolationOutput, type SegmentRender } from '../src/planning/render-plan';
import {
  decodeActivities,
  interpolationActivities,
  mediaActivities,
  mediaOptions,
  stageOptions,
  upscaleActivities,
} from './proxies';

/** Work of one segment's plan (its own or borrowed), with the keyframes its T→4T windows read. */
interface Work {
  segment: number;
  keyframes: FrameSource;
  interpolation: InterpolationWindowPlan[];
  decode: DecodeWindowPlan[];
  upscale: UpscaleTilePlan[];
}

export async function renderSegmentDataflow(
  input: SegmentRenderInput,
  render: SegmentRender,
  progress: SegmentRenderProgress,
): Promise<SegmentRenderResult> {
  const { segment: seg, keyframes, timeouts, spec, pack, labels } = input;
  const base: StageContext = { spec, pack, labels };
  const own: Work = {
    segment: seg.index,
    keyframes,
    interpolation: seg.interpolation,
    decode: seg.decode,
    upscale: seg.upscale,
  };
  const borrowed = render.borrowed ?? [];
  const earlier = input.earlierKeyframes ?? [];
  if (earlier.length !== borrowed.length)
    throw new Error(
      `segment ${seg.index}: ${borrowed.length} borrowed segments but ${earlier.length} keyframe sources`,
    );
  const works: Work[] = [...borrowed.map((b, i) => ({ ...b, keyframes: earlier[i] })), own];

  let total = 0;
  let reused = 0;
  /** Count an activity of this segment's own plan (borrowed ones belong to the earlier segment). */
  const counted =
    <T extends StageOutput>(work: Work, c: StageCount) =>
    (out: T): T => {
      if (work !== own) return out;
      c.done += 1;
      total += 1;
      if (out.reused) {
        c.reused += 1;
        reused += 1;
      }
      return out;
    };

  // One promise per activity, created on first need: the graph schedules itself in dependency order.
  const memo = new Map<string, Promise<FrameSource>>();
  const once = (id: string, start: () => Promise<FrameSource>): Promise<FrameSource> => {
    let p = memo.get(id);
    if (!p) memo.set(id, (p = start()));
    return p;
  };
  const all = (ps: Array<Promise<FrameSource>>) => Promise.all(ps);

  const interpolate = (work: Work, w: InterpolationWindowPlan): Promise<FrameSource> =>
    once(`i/${work.segment}/${w.pass}/${w.start}`, async () => {
      const sources =
        w.pass === 0
          ? [work.keyframes]
          : await all(
              coveringSpans(
                work.interpolation.filter((q) => q.pass === 0).map((q) => ({ ...interpolationOutput(q), q })),
                w.start,
                w.start + w.intervals,
              ).map((c) => interpolate(work, c.q)),
            );
      const out = await interpolationActivities.interpolate
        .executeWithOptions(
          stageOptions(
            timeouts.interpolation,
            `segment ${work.segment} ${w.pass === 0 ? 'T→4T' : '4T→16T'} window @${w.start}`,
            spec.deadline,
          ),
          [{ ...base, segment: work.segment, window: w, sources }],
        )
        .then(counted(work, progress.stages.interpolation));
      const span = interpolationOutput(w);
      return { key: out.key, axis: w.pass === 0 ? 'quarter' : 'frame', ...span };
    });

  // Latents of every work item, for decode windows to pick their inputs from.
  const latents = works.flatMap((work) =>
    work.interpolation.filter((w) => w.pass === 1).map((w) => ({ ...interpolationOutput(w), work, w })),
  );
  const decode = (work: Work, w: DecodeWindowPlan): Promise<FrameSource> =>
    once(`d/${w.own.start}`, async () => {
      const sources = await all(
        coveringSpans(latents, w.decoded.start, w.decoded.end - 1).map((l) => interpolate(l.work, l.w)),
      );
      const out = await decodeActivities.decode
        .executeWithOptions(
          stageOptions(
            timeouts.decode,
            `segment ${work.segment} decode frames ${w.own.start}–${w.own.end - 1}`,
            spec.deadline,
          ),
          [{ ...base, segment: work.segment, window: w, sources }],
        )
        .then(counted(work, progress.stages.decode));
      return { key: out.key, axis: 'frame', start: w.own.start, end: w.own.end };
    });

  const windows = works.flatMap((work) => work.decode.map((w) => ({ ...w.own, work, w })));
  const upscale = (work: Work, tile: UpscaleTilePlan): Promise<{ tile: UpscaleTilePlan; key: string }> =>
    once(`u/${tile.index}`, async () => {
      const sources = await all(
        coveringSpans(windows, tile.t.start, tile.t.end - 1).map((d) => decode(d.work, d.w)),
      );
      const out = await upscaleActivities.upscale
        .executeWithOptions(
          stageOptions(timeouts.upscale, `segment ${work.segment} upscale tile ${tile.index}`, spec.deadline),
          [{ ...base, segment: work.segment, tile, sources }],
        )
        .then(counted(work, progress.stages.upscale));
      return { key: out.key, axis: 'frame', start: tile.t.start, end: tile.t.end };
    }).then((s) => ({ tile, key: s.key }));

  // Everything this segment owns, and the tiles its clip blends; the graph pulls in the rest.
  const ownWork = [
    ...own.interpolation.map((w) => interpolate(own, w)),
    ...own.decode.map((w) => decode(own, w)),
  ];
  const tiles = works.flatMap((work) => work.upscale.map((tile) => ({ ...tile.t, work, tile })));
  const ownTiles = own.upscale.map((tile) => upscale(own, tile));
  const clipTiles = coveringSpans(tiles, render.clip.start, render.clip.end - 1).map((t) =>
    upscale(t.work, t.tile),
  );
  const [, , blended] = await Promise.all([all(ownWork), Promise.all(ownTiles), Promise.all(clipTiles)]);

  const clip = await mediaActivities.encodeSegment
    .executeWithOptions(
      mediaOptions(
        `segment ${seg.index} encode clip frames ${render.clip.start}–${render.clip.end - 1}`,
        spec.deadline,
      ),
      [
        // The clip's frames are the range the encoder blends; its tiles come from the whole-video tiling.
        { ...base, segment: { ...seg, frames: render.clip }, tiles: blended },
      ],
    )
    .then(counted(own, progress.stages.encode));
  return { segment: seg.index, clipKey: clip.key, stages: progress.stages, activities: { total, reused } };
}

/**
 * A segment's rendering as one dataflow (render version 2, src/planning/render-plan.ts): every
 * interpolation window, decode window and tile is scheduled the moment the artifacts it reads exist,
 * with no barrier between stages. A 4T→16T window waits only for the T→4T windows it reads, a decode
 * window only for its latents, a tile only for its decode windows, the clip for its tiles. Decode
 * windows and tiles near a segment boundary read outputs of earlier segments: those are borrowed
 * (lent by the segment that made them, signalled to this child; workflows/lending.ts), never
 * computed twice. Outputs that later segments read are lent as soon as they exist.
 */
import type {
  FrameSource,
  SegmentRenderInput,
  SegmentRenderResult,
  StageContext,
} from '../src/common/boundary';
import type { SegmentRenderProgress } from '../src/common/progress';
import type { DecodeWindowPlan, InterpolationWindowPlan, UpscaleTilePlan } from '../src/planning/plan';
import {
  coveringSpans,
  interpolationOutput,
  renderItemId,
  type SegmentRender,
} from '../src/planning/render-plan';
import { borrower, lender } from './lending';
import { activityCounter } from './counting';
import * as proxies from './proxies';

/** An input the dataflow can wait for: made here (`make`) or borrowed from an earlier segment. */
interface Node<P> {
  id: string;
  start: number;
  end: number;
  plan: P;
  get: () => Promise<FrameSource>;
}

export async function renderSegmentDataflow(
  input: SegmentRenderInput,
  render: SegmentRender,
  progress: SegmentRenderProgress,
): Promise<SegmentRenderResult> {
  // Registered before the first await, so no lent output can arrive unhandled.
  const borrowed = borrower();
  const { segment: seg, keyframes, timeouts, spec, pack, labels } = input;
  const lending = lender(spec.jobId, render.lends);
  const base: StageContext = { spec, pack, labels };

  const counter = activityCounter();
  const counted = counter.counted;

  // One promise per item, created on first need: the graph schedules itself in dependency order.
  const memo = new Map<string, Promise<FrameSource>>();
  const once = (id: string, start: () => Promise<FrameSource>) => (): Promise<FrameSource> => {
    let p = memo.get(id);
    if (!p) {
      p = start().then((source) => {
        lending.lend(id, source);
        return source;
      });
      memo.set(id, p);
    }
    return p;
  };
  const all = <P>(nodes: Array<Node<P>>) => Promise.all(nodes.map((n) => n.get()));
  const earlier = render.borrowed ?? [];

  // Interpolation: this segment's own windows only (windows never cross a segment boundary).
  const quarter: Array<Node<InterpolationWindowPlan>> = [];
  const interpolationNode = (w: InterpolationWindowPlan): Node<InterpolationWindowPlan> => {
    const span = interpolationOutput(w);
    const id = renderItemId.latents(seg.index, w);
    const get = once(id, async () => {
      const sources =
        w.pass === 0 ? [keyframes] : await all(coveringSpans(quarter, w.start, w.start + w.intervals));
      const out = await proxies.interpolationActivities.interpolate
        .executeWithOptions(
          proxies.stageOptions(
            timeouts.interpolation,
            `segment ${seg.index} ${w.pass === 0 ? 'T→4T' : '4T→16T'} window @${w.start}`,
            spec.deadline,
          ),
          [{ ...base, segment: seg.index, window: w, sources }],
        )
        .then(counted(progress.stages.interpolation));
      return { key: out.key, axis: w.pass === 0 ? 'quarter' : 'frame', ...span };
    });
    return { id, ...span, plan: w, get };
  };
  for (const w of seg.interpolation) if (w.pass === 0) quarter.push(interpolationNode(w));
  const ownLatents = seg.interpolation.filter((w) => w.pass === 1).map(interpolationNode);
  const latents: Array<Node<InterpolationWindowPlan>> = [
    ...earlier.flatMap((b) =>
      b.latents.map((w) => {
        const id = renderItemId.latents(b.segment, w);
        return { id, ...interpolationOutput(w), plan: w, get: () => borrowed(id) };
      }),
    ),
    ...ownLatents,
  ];

  const decodeNode = (w: DecodeWindowPlan): Node<DecodeWindowPlan> => {
    const id = renderItemId.decode(w);
    const get = once(id, async () => {
      const sources = await all(coveringSpans(latents, w.decoded.start, w.decoded.end - 1));
      const out = await proxies.decodeActivities.decode
        .executeWithOptions(
          proxies.stageOptions(
            timeouts.decode,
            `segment ${seg.index} decode frames ${w.own.start}–${w.own.end - 1}`,
            spec.deadline,
          ),
          [{ ...base, segment: seg.index, window: w, sources }],
        )
        .then(counted(progress.stages.decode));
      return { key: out.key, axis: 'frame', start: w.own.start, end: w.own.end };
    });
    return { id, ...w.own, plan: w, get };
  };
  const ownDecoded = seg.decode.map(decodeNode);
  const decoded: Array<Node<DecodeWindowPlan>> = [
    ...earlier.flatMap((b) =>
      b.decode.map((w) => {
        const id = renderItemId.decode(w);
        return { id, ...w.own, plan: w, get: () => borrowed(id) };
      }),
    ),
    ...ownDecoded,
  ];

  const tileNode = (tile: UpscaleTilePlan): Node<UpscaleTilePlan> => {
    const id = renderItemId.upscale(tile);
    const get = once(id, async () => {
      const sources = await all(coveringSpans(decoded, tile.t.start, tile.t.end - 1));
      const out = await proxies.upscaleActivities.upscale
        .executeWithOptions(
          proxies.stageOptions(
            timeouts.upscale,
            `segment ${seg.index} upscale tile ${tile.index}`,
            spec.deadline,
          ),
          [{ ...base, segment: seg.index, tile, sources }],
        )
        .then(counted(progress.stages.upscale));
      return { key: out.key, axis: 'frame', start: tile.t.start, end: tile.t.end };
    });
    return { id, start: tile.t.start, end: tile.t.end, plan: tile, get };
  };
  const ownTiles = seg.upscale.map(tileNode);
  const tiles: Array<Node<UpscaleTilePlan>> = [
    ...earlier.flatMap((b) =>
      b.upscale.map((tile) => {
        const id = renderItemId.upscale(tile);
        return { id, start: tile.t.start, end: tile.t.end, plan: tile, get: () => borrowed(id) };
      }),
    ),
    ...ownTiles,
  ];

  // Everything this segment makes (some of it only lent, not blended here) and the tiles its clip blends.
  const own = [...quarter, ...ownLatents, ...ownDecoded, ...ownTiles];
  const clipTiles = coveringSpans(tiles, render.clip.start, render.clip.end - 1);
  const [, blended] = await Promise.all([
    Promise.all(own.map((n) => n.get())),
    Promise.all(clipTiles.map(async (n) => ({ tile: n.plan, key: (await n.get()).key }))),
  ]);

  const clip = await proxies.mediaActivities.encodeSegment
    .executeWithOptions(
      proxies.mediaOptions(
        `segment ${seg.index} encode clip frames ${render.clip.start}–${render.clip.end - 1}`,
        spec.deadline,
      ),
      // The clip's frames are the range the encoder blends; its tiles come from the whole-video tiling.
      [{ ...base, segment: { ...seg, frames: render.clip }, tiles: blended }],
    )
    .then(counted(progress.stages.encode));
  await lending.drained();
  return { segment: seg.index, clipKey: clip.key, stages: progress.stages, activities: counter.totals() };
}

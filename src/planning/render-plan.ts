/**
 * The whole-video render plan (render version 2). Version 1 cut decoding and upscaling at segment
 * boundaries: a decode window or tile never read frames of the next segment, so the two sides of a
 * boundary were rendered with no shared context and every boundary showed (2.7–2.9× the frame
 * change around it in the README's video). Here decode windows and upscale tiles are laid over the
 * whole video, exactly as inside a segment, and a boundary is just more frames.
 *
 * Who renders what: each decode window and tile is assigned to the LATEST segment whose interpolated
 * frames it reads. That segment's child starts only once its keyframes exist, when every frame the
 * item reads can be made; it re-issues the few earlier-segment activities the item needs (same
 * inputs, hence the same artifact keys: they return the earlier child's output as `reused`). The
 * clip of a segment is the frames whose covering tiles are assigned to it at the latest, so clips
 * still partition the video and each is encoded by one child. Pure; imported by workflows.
 */
import { UserError } from '../common/errors';
import { INTERPOLATION_RATE, type PackSummary } from './pack-summary';
import { chunks, overlappingTiles, type Span } from './tiling';
import type { DecodeWindowPlan, InterpolationWindowPlan, UpscaleTilePlan } from './plan';

/** Render versions: 1 = per segment (histories of jobs started before version 2), 2 = whole video. */
export const RENDER_VERSION = { perSegment: 1, wholeVideo: 2 } as const;
export type RenderVersion = (typeof RENDER_VERSION)[keyof typeof RENDER_VERSION];

/** Work of an earlier segment that this segment's child re-issues (normally all `reused`). */
export interface BorrowedWork {
  segment: number;
  interpolation: InterpolationWindowPlan[];
  decode: DecodeWindowPlan[];
  upscale: UpscaleTilePlan[];
}

/** What a version-2 segment plan adds to the version-1 fields. */
export interface SegmentRender {
  /** Output frames [start, end) of this segment's clip (clips partition the video). */
  clip: Span;
  /** Earlier segments' work this segment's decode windows, tiles and clip read, by segment; absent when none. */
  borrowed?: BorrowedWork[];
}

/** One segment's interpolation windows, as planned per segment (unchanged by the render version). */
export interface SegmentInterpolation {
  index: number;
  interpolation: InterpolationWindowPlan[];
}

/** Frames [start, end) on its output axis that an interpolation window writes (its ends included). */
export function interpolationOutput(w: InterpolationWindowPlan): Span {
  return { start: w.start * INTERPOLATION_RATE, end: (w.start + w.intervals) * INTERPOLATION_RATE + 1 };
}

/**
 * The sources whose frames overlap [start, endInclusive]: the rule the segment workflow applies to
 * pick an activity's inputs, so the plan and the workflow agree on every dependency.
 */
export function coveringSpans<T extends Span>(sources: T[], start: number, endInclusive: number): T[] {
  return sources.filter((s) => s.start <= endInclusive && s.end > start);
}

interface Tagged<W> extends Span {
  segment: number;
  item: W;
}

export interface WholeVideoRender {
  /** Per segment: its own decode windows, tiles and render fields. */
  segments: Array<{ decode: DecodeWindowPlan[]; upscale: UpscaleTilePlan[]; render: SegmentRender }>;
}

/**
 * Lay decode windows and tiles over [0, frames) and assign each to a segment. `segments` are the
 * per-segment interpolation plans in order; `frames` the video's length.
 */
export function planWholeVideoRender(
  segments: SegmentInterpolation[],
  frames: number,
  pack: PackSummary,
): WholeVideoRender {
  const pass = (p: 0 | 1): Array<Tagged<InterpolationWindowPlan>> =>
    segments.flatMap((s) =>
      s.interpolation
        .filter((w) => w.pass === p)
        .map((w) => ({ ...interpolationOutput(w), segment: s.index, item: w })),
    );
  const quarter = pass(0);
  const latents = pass(1);
  const latentEnd = Math.max(...latents.map((l) => l.end));
  const maxSegment = (xs: Array<{ segment: number }>) => Math.max(...xs.map((x) => x.segment));

  const d = pack.windows.decode;
  const decode: Array<Tagged<DecodeWindowPlan> & { needs: Array<Tagged<InterpolationWindowPlan>> }> = chunks(
    0,
    frames,
    d.frames,
  ).map((own) => {
    const decoded = {
      start: Math.max(0, own.start - d.overlap),
      end: Math.min(latentEnd, own.end + d.overlap),
    };
    const needs = coveringSpans(latents, decoded.start, decoded.end - 1);
    return { ...own, segment: maxSegment(needs), item: { own, decoded }, needs };
  });

  const u = pack.windows.upscale;
  const tTiles = overlappingTiles(frames, u.frames, Math.min(u.overlapFrames, u.frames - 1));
  const yTiles = overlappingTiles(pack.base.height, u.tileHeight, u.overlap);
  const xTiles = overlappingTiles(pack.base.width, u.tileWidth, u.overlap);
  const rows = tTiles.map((t) => {
    const needs = coveringSpans(decode, t.start, t.end - 1);
    return { t, needs, segment: maxSegment(needs) };
  });
  const tiles: Array<Tagged<UpscaleTilePlan> & { needs: typeof decode }> = [];
  for (const row of rows)
    for (const y of yTiles)
      for (const x of xTiles) {
        const item = { index: tiles.length, t: row.t, y, x };
        tiles.push({ start: row.t.start, end: row.t.end, segment: row.segment, item, needs: row.needs });
      }

  // Frame f's clip is the latest segment among the tiles covering it.
  const clipOf = new Int32Array(frames).fill(-1);
  for (const row of rows)
    for (let f = row.t.start; f < row.t.end; f++) clipOf[f] = Math.max(clipOf[f], row.segment);

  return {
    segments: segments.map((s) => {
      const clip = clipSpan(clipOf, s.index);
      const ownTiles = tiles.filter((t) => t.segment === s.index);
      const ownDecode = decode.filter((w) => w.segment === s.index);
      // Everything the clip blends and everything this segment's items read, transitively.
      const clipTiles = coveringSpans(tiles, clip.start, clip.end - 1);
      const tileSet = unique([...ownTiles, ...clipTiles]);
      const decodeSet = unique([...ownDecode, ...tileSet.flatMap((t) => t.needs)]);
      const latentSet = unique(decodeSet.flatMap((w) => w.needs));
      const quarterSet = unique(
        latentSet.flatMap((l) =>
          coveringSpans(
            quarter.filter((q) => q.segment === l.segment),
            l.item.start,
            l.item.start + l.item.intervals,
          ),
        ),
      );
      const earlier = [...tileSet, ...decodeSet, ...latentSet, ...quarterSet].filter(
        (x) => x.segment !== s.index,
      );
      const borrowed: BorrowedWork[] = [...new Set(earlier.map((x) => x.segment))]
        .sort((a, b) => a - b)
        .map((g) => {
          const of = <W>(xs: Array<Tagged<W>>) => xs.filter((x) => x.segment === g).map((x) => x.item);
          return {
            segment: g,
            interpolation: [...of(quarterSet), ...of(latentSet)],
            decode: of(decodeSet),
            upscale: of(tileSet),
          };
        });
      return {
        decode: ownDecode.map((w) => w.item),
        upscale: ownTiles.map((t) => t.item),
        render: { clip, ...(borrowed.length > 0 ? { borrowed } : {}) },
      };
    }),
  };
}

/** The frames whose clip is `segment`: one contiguous, non-empty range (checked). */
function clipSpan(clipOf: Int32Array, segment: number): Span {
  const first = clipOf.indexOf(segment);
  const last = clipOf.lastIndexOf(segment);
  if (first < 0) {
    throw new UserError(
      `segment ${segment} has no frames of its own after tiling: the pack's upscale tiles are longer than its segments`,
    );
  }
  for (let f = first; f <= last; f++)
    if (clipOf[f] !== segment) throw new Error(`clip of segment ${segment} is not contiguous at frame ${f}`);
  return { start: first, end: last + 1 };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

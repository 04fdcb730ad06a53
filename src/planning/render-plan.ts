/**
 * The whole-video render plan (render version 2). Version 1 cut decoding and upscaling at segment
 * boundaries: a decode window or tile never read frames of the next segment, so the two sides of a
 * boundary were rendered with no shared context and every boundary showed (2.7–2.9× the frame
 * change around it in the README's video). Here decode windows and upscale tiles are laid over the
 * whole video, exactly as inside a segment, and a boundary is just more frames.
 *
 * Who renders what: each decode window and tile is rendered by the LATEST segment whose frames it
 * reads, so every input exists (or is being made) by the time that segment's child starts. What it
 * reads of earlier segments it does not compute again: the earlier child lends those outputs (its
 * latents near the boundary, its decode windows, its tiles that the later clip blends) by signalling
 * the later child (workflows/lending.ts). Every activity therefore runs in exactly one child.
 * The clip of a segment is the frames whose covering tiles belong to it at the latest, so clips still
 * partition the video and each is encoded by one child. Pure; imported by workflows.
 */
import { UserError } from '../common/errors';
import { INTERPOLATION_RATE, type PackSummary } from './pack-summary';
import { chunks, overlappingTiles, type Span } from './tiling';
import type { DecodeWindowPlan, InterpolationWindowPlan, UpscaleTilePlan } from './plan';

/** Render versions: 1 = per segment (histories of jobs started before version 2), 2 = whole video. */
export const RENDER_VERSION = { perSegment: 1, wholeVideo: 2 } as const;
export type RenderVersion = (typeof RENDER_VERSION)[keyof typeof RENDER_VERSION];

/**
 * The job workflow's patch marker (`patched()`) for version 2: jobs whose histories began before it
 * keep version 1, so they replay and finish the way they started.
 */
export const WHOLE_VIDEO_RENDER_PATCH = 'whole-video-render';

/** Outputs of one earlier segment that a segment reads (lent to it; never computed by it). */
export interface BorrowedOutputs {
  segment: number;
  /** 4T→16T windows whose latents this segment's decode windows read. */
  latents: InterpolationWindowPlan[];
  /** Decode windows whose frames this segment's tiles read. */
  decode: DecodeWindowPlan[];
  /** Tiles this segment's clip blends. */
  upscale: UpscaleTilePlan[];
}

/** What a version-2 segment plan adds to the version-1 fields. */
export interface SegmentRender {
  /** Output frames [start, end) of this segment's clip (clips partition the video). */
  clip: Span;
  /** Earlier segments' outputs this segment reads, by segment, in segment order; absent when none. */
  borrowed?: BorrowedOutputs[];
  /** This segment's outputs that later segments read (`renderItemId`s), by borrower; absent when none. */
  lends?: Array<{ segment: number; ids: string[] }>;
}

/** The one id of a render item, shared by the plan, the lending child, the relay and the borrower. */
export const renderItemId = {
  latents: (segment: number, w: InterpolationWindowPlan): string => `i/${segment}/${w.pass}/${w.start}`,
  decode: (w: DecodeWindowPlan): string => `d/${w.own.start}`,
  upscale: (tile: UpscaleTilePlan): string => `u/${tile.index}`,
};

/** Every id a segment borrows. */
export function borrowedIds(render: SegmentRender | undefined): string[] {
  return (render?.borrowed ?? []).flatMap((b) => [
    ...b.latents.map((w) => renderItemId.latents(b.segment, w)),
    ...b.decode.map(renderItemId.decode),
    ...b.upscale.map(renderItemId.upscale),
  ]);
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

/**
 * `coveringSpans` over a list that is queried many times: a binary search over the spans sorted by
 * start instead of a scan of all of them (a 60-minute plan has ~30,000 tiles). Returns the same
 * spans in the same order as `coveringSpans(sources, …)`; lists not sorted by start are scanned.
 */
export function spanIndex<T extends Span>(sources: T[]): (start: number, endInclusive: number) => T[] {
  const sorted = sources.every((s, i) => i === 0 || sources[i - 1].start <= s.start);
  if (!sorted) return (start, endInclusive) => coveringSpans(sources, start, endInclusive);
  const maxLength = Math.max(0, ...sources.map((s) => s.end - s.start));
  /** First index whose start is above `v`. */
  const above = (v: number): number => {
    let lo = 0;
    let hi = sources.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sources[mid].start > v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return (start, endInclusive) =>
    // A span that reaches past `start` starts after start - maxLength.
    sources.slice(above(start - maxLength), above(endInclusive)).filter((s) => s.end > start);
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
  const latents = pass(1);
  const latentEnd = Math.max(...latents.map((l) => l.end));
  const maxSegment = (xs: Array<{ segment: number }>) => Math.max(...xs.map((x) => x.segment));

  const latentsCovering = spanIndex(latents);
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
    const needs = latentsCovering(decoded.start, decoded.end - 1);
    return { ...own, segment: maxSegment(needs), item: { own, decoded }, needs };
  });

  const decodeCovering = spanIndex(decode);
  const u = pack.windows.upscale;
  const tTiles = overlappingTiles(frames, u.frames, Math.min(u.overlapFrames, u.frames - 1));
  const yTiles = overlappingTiles(pack.base.height, u.tileHeight, u.overlap);
  const xTiles = overlappingTiles(pack.base.width, u.tileWidth, u.overlap);
  const rows = tTiles.map((t) => {
    const needs = decodeCovering(t.start, t.end - 1);
    return { t, needs, segment: maxSegment(needs) };
  });
  const tiles: Array<Tagged<UpscaleTilePlan> & { needs: typeof decode }> = [];
  for (const row of rows)
    for (const y of yTiles)
      for (const x of xTiles) {
        const item = { index: tiles.length, t: row.t, y, x };
        tiles.push({ start: row.t.start, end: row.t.end, segment: row.segment, item, needs: row.needs });
      }

  const tilesCovering = spanIndex(tiles);
  const bySegment = <T extends { segment: number }>(xs: T[]): T[][] => {
    const out = segments.map((): T[] => []);
    for (const x of xs) out[x.segment].push(x);
    return out;
  };
  const tilesOf = bySegment(tiles);
  const decodeOf = bySegment(decode);

  // Frame f's clip is the latest segment among the tiles covering it.
  const clipOf = new Int32Array(frames).fill(-1);
  for (const row of rows)
    for (let f = row.t.start; f < row.t.end; f++) clipOf[f] = Math.max(clipOf[f], row.segment);

  const plans = segments.map((s) => {
    const clip = clipSpan(clipOf, s.index);
    const ownTiles = tilesOf[s.index];
    const ownDecode = decodeOf[s.index];
    // What this segment reads directly: latents for its decode windows, decode windows for its tiles,
    // tiles for its clip. Those of earlier segments are borrowed.
    const earlier = <T extends { segment: number }>(xs: T[]): T[] =>
      unique(xs).filter((x) => x.segment !== s.index);
    const latentsRead = earlier(ownDecode.flatMap((w) => w.needs));
    const decodeRead = earlier(ownTiles.flatMap((t) => t.needs));
    const tilesRead = earlier(tilesCovering(clip.start, clip.end - 1));
    const from = [...new Set([...latentsRead, ...decodeRead, ...tilesRead].map((x) => x.segment))];
    const borrowed: BorrowedOutputs[] = from
      .sort((a, b) => a - b)
      .map((g) => {
        const of = <W>(xs: Array<Tagged<W>>): W[] => xs.filter((x) => x.segment === g).map((x) => x.item);
        return { segment: g, latents: of(latentsRead), decode: of(decodeRead), upscale: of(tilesRead) };
      });
    return { clip, ownDecode, ownTiles, borrowed };
  });
  // A segment lends exactly what later segments borrow from it.
  const lends = segments.map((): Array<{ segment: number; ids: string[] }> => []);
  plans.forEach((p, j) => {
    for (const b of p.borrowed)
      lends[b.segment].push({ segment: j, ids: borrowedIds({ clip: p.clip, borrowed: [b] }).sort() });
  });

  return {
    segments: plans.map((p, i) => ({
      decode: p.ownDecode.map((w) => w.item),
      upscale: p.ownTiles.map((t) => t.item),
      render: {
        clip: p.clip,
        ...(p.borrowed.length > 0 ? { borrowed: p.borrowed } : {}),
        ...(lends[i].length > 0 ? { lends: lends[i] } : {}),
      },
    })),
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

/**
 * Segments per chapter workflow (workflows/chapter.ts) in long version-2 jobs: each chapter's history
 * then holds ~15 events per segment (≈1,500 for 100), the job's a few per chapter.
 */
export const CHAPTER_SEGMENTS = 100;

/** Runs of segment indices [start, end) of at most `size` segments; one run when they all fit. */
export function chapterRanges(segments: number, size: number = CHAPTER_SEGMENTS): Span[] {
  if (!Number.isInteger(size) || size < 1)
    throw new UserError(`chapter size must be an integer ≥ 1, got ${size}`);
  const out: Span[] = [];
  for (let start = 0; start < segments; start += size)
    out.push({ start, end: Math.min(segments, start + size) });
  return out;
}

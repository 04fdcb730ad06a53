/**
 * The job plan: segments of the keyframe chain, and for each segment the interpolation windows,
 * decode windows and upscale tiles that render it. A pure function of (spec, pack summary), so the
 * workflow, `vldm plan` and the tests compute the same plan. Pure; imported by workflows.
 *
 * Time axes (all global indices):
 *  - keyframe k sits at output frame 16k (1.5 fps keyframes for 24 fps video);
 *  - the 4T axis (after the first interpolation pass) has frame j at output frame 4j;
 *  - output frames f ∈ [0, N), N = seconds × fps.
 * Segment s owns the keyframe intervals whose right end it generates, hence the output frames of
 * those intervals: every output frame belongs to exactly one segment, window and tile-blend.
 */
import { UserError } from '../common/errors';
import type { JobSpec } from './spec';
import { FRAMES_PER_KEYFRAME, INTERPOLATION_RATE, type PackSummary } from './pack-summary';
import { chunks, overlappingTiles, overlappingTilesIn, tilingFaults, type Span, type Tile } from './tiling';
import { RENDER_VERSION, planWholeVideoRender, type RenderVersion, type SegmentRender } from './render-plan';

export interface KeyframeWindowPlan {
  /** Global index of the window's first keyframe (context frames included). */
  start: number;
  /** Frames in the window (context + new). */
  frames: number;
  /** Context frames S at the start of the window (0 only for the image model's first frame). */
  context: number;
  /** Segment 0 first makes keyframe 0 with the image model (T = 1, S = 0). */
  firstFrameFromImage: boolean;
  /**
   * Segment 0 of a job with an init image: keyframe 0 is the encoded init image instead (the S = 1
   * context of the window). Absent otherwise, so plans (and the keys hashed from them) of jobs
   * without an init image are exactly what they were before init images existed.
   */
  initImage?: true;
}

export interface InterpolationWindowPlan {
  /** 0: T → 4T (keyframe axis); 1: 4T → 16T (4T axis). */
  pass: 0 | 1;
  /** Index of the window's first known frame on the pass's input axis. */
  start: number;
  /** Intervals filled (window T = 4·intervals + 1). */
  intervals: number;
}

export interface DecodeWindowPlan {
  /** Output frames this window owns. */
  own: Span;
  /** Frames decoded (own plus context on each side, thrown away after decoding). */
  decoded: Span;
}

export interface UpscaleTilePlan {
  index: number;
  /** Output frames (global). */
  t: Tile;
  /** Low-res rows and columns. */
  y: Tile;
  x: Tile;
}

export interface SegmentPlan {
  index: number;
  keyframes: KeyframeWindowPlan;
  /** Keyframe intervals [start, end) this segment renders. */
  intervals: Span;
  /** Output frames [start, end) this segment owns. */
  frames: Span;
  interpolation: InterpolationWindowPlan[];
  /** Decode windows this segment renders (render version 2: laid over the whole video, see render-plan.ts). */
  decode: DecodeWindowPlan[];
  /** Upscale tiles this segment renders (version 2: tile indices are global). */
  upscale: UpscaleTilePlan[];
  /** Render version 2 only: the segment's clip and the earlier work it reads. */
  render?: SegmentRender;
}

export interface ActivityCounts {
  prepare: number;
  keyframe: number;
  interpolation: number;
  decode: number;
  upscale: number;
  encode: number;
  stitch: number;
  total: number;
}

export interface JobPlan {
  jobId: string;
  frames: number;
  fps: number;
  width: number;
  height: number;
  keyframes: number;
  keyframeFps: number;
  /** Multi-hot label vector, in the pack's label order. */
  labels: number[];
  segments: SegmentPlan[];
  counts: ActivityCounts;
}

/** Check the pack's windows make sense before planning with them. */
function checkWindows(pack: PackSummary): void {
  const w = pack.windows;
  const problems: string[] = [];
  // Window sizes count frames, intervals and pixels: fractions would give fractional indices.
  const atLeast = (name: string, v: number, min: number, why = '') => {
    if (!(Number.isInteger(v) && v >= min))
      problems.push(`windows.${name} must be an integer ≥ ${min}${why}, got ${v}`);
  };
  // Overlaps follow the tiling rule (tiling.ts), as the manifest parser checks them too.
  const below = (name: string, v: number, limit: number, limitName: string) => {
    if (tilingFaults(limit, v).overlap)
      problems.push(`windows.${name} must be an integer in [0, ${limit}) (below ${limitName}), got ${v}`);
  };
  atLeast('keyframe.frames', w.keyframe.frames, 3, ' (2 context + 1 new)');
  atLeast('interpolation.intervals', w.interpolation.intervals, 1);
  atLeast('decode.frames', w.decode.frames, 1);
  atLeast('decode.overlap', w.decode.overlap, 0);
  const u = w.upscale;
  atLeast('upscale.frames', u.frames, 1);
  below('upscale.overlapFrames', u.overlapFrames, u.frames, 'windows.upscale.frames');
  atLeast('upscale.tileHeight', u.tileHeight, 1);
  atLeast('upscale.tileWidth', u.tileWidth, 1);
  below('upscale.overlap', u.overlap, Math.min(u.tileHeight, u.tileWidth), 'the smaller tile side');
  if (problems.length) throw new UserError(`model pack ${pack.name}: ${problems.join('; ')}`);
}

/**
 * Keyframe windows of the chain: segment 0 = first frame (the image model's, or the init image) +
 * (W−1) predicted, then W−2 new per segment.
 */
function keyframeWindows(keyframes: number, window: number, initImage: boolean): KeyframeWindowPlan[] {
  const frames = Math.min(window, keyframes);
  const out: KeyframeWindowPlan[] = [
    initImage
      ? { start: 0, frames, context: 1, firstFrameFromImage: false, initImage: true }
      : { start: 0, frames, context: 1, firstFrameFromImage: true },
  ];
  let next = out[0].frames; // first keyframe not yet generated
  while (next < keyframes) {
    const fresh = Math.min(window - 2, keyframes - next);
    out.push({ start: next - 2, frames: fresh + 2, context: 2, firstFrameFromImage: false });
    next += fresh;
  }
  return out;
}

/** Output frames of a job, N = seconds × fps: the plan's frame axis and every stage's noise fields. */
export function frameCount(spec: Pick<JobSpec, 'seconds' | 'fps'>): number {
  return Math.round(spec.seconds * spec.fps);
}

export interface PlanOptions {
  /**
   * How decoding and upscaling are laid out (src/planning/render-plan.ts). Jobs whose histories
   * started before version 2 keep version 1, so they replay and finish as they began.
   * @default 2 (whole video: no seams at segment boundaries)
   */
  render?: RenderVersion;
}

export function planJob(spec: JobSpec, pack: PackSummary, options: PlanOptions = {}): JobPlan {
  const renderVersion = options.render ?? RENDER_VERSION.wholeVideo;
  checkWindows(pack);
  const frames = frameCount(spec);
  // Keyframe k is output frame 16k; the last frame needs the interval that contains it.
  const keyframes = Math.floor((frames - 1) / FRAMES_PER_KEYFRAME) + 2;
  const labels = pack.labels.map((l) => (l === spec.scene || l === spec.traffic ? 1 : 0));
  const u = pack.windows.upscale;
  const segments: SegmentPlan[] = keyframeWindows(
    keyframes,
    pack.windows.keyframe.frames,
    spec.initImage !== undefined,
  ).map((kw, index) => {
    // Segment 0 owns keyframe 0 whether the image model makes it or the init image gives it.
    const newStart = kw.firstFrameFromImage || kw.initImage ? 0 : kw.start + kw.context;
    const newEnd = kw.start + kw.frames;
    // Intervals whose right keyframe this segment generates.
    const intervals: Span = { start: Math.max(0, newStart - 1), end: newEnd - 1 };
    const own: Span = {
      start: intervals.start * FRAMES_PER_KEYFRAME,
      end: Math.min(frames, intervals.end * FRAMES_PER_KEYFRAME),
    };
    // 4T-axis intervals needed to cover the owned frames, then keyframe intervals needed for those.
    const quarter: Span = {
      start: Math.floor(own.start / INTERPOLATION_RATE),
      end: Math.floor((own.end - 1) / INTERPOLATION_RATE) + 1,
    };
    const kfNeeded: Span = { start: intervals.start, end: Math.ceil(quarter.end / INTERPOLATION_RATE) };
    const n = pack.windows.interpolation.intervals;
    const interpolation: InterpolationWindowPlan[] = [
      ...chunks(kfNeeded.start, kfNeeded.end, n).map((c) => ({
        pass: 0 as const,
        start: c.start,
        intervals: c.end - c.start,
      })),
      ...chunks(quarter.start, quarter.end, n).map((c) => ({
        pass: 1 as const,
        start: c.start,
        intervals: c.end - c.start,
      })),
    ];
    // Latent frames available after pass 1 of this segment: [own.start, 4·quarter.end] inclusive.
    const available: Span = { start: own.start, end: quarter.end * INTERPOLATION_RATE + 1 };
    const d = pack.windows.decode;
    const decode = chunks(own.start, own.end, d.frames).map((c) => ({
      own: c,
      decoded: {
        start: Math.max(available.start, c.start - d.overlap),
        end: Math.min(available.end, c.end + d.overlap),
      },
    }));
    const tTiles = overlappingTilesIn(own.start, own.end, u.frames, u.overlapFrames);
    const yTiles = overlappingTiles(pack.base.height, u.tileHeight, u.overlap);
    const xTiles = overlappingTiles(pack.base.width, u.tileWidth, u.overlap);
    const upscale: UpscaleTilePlan[] = [];
    for (const t of tTiles)
      for (const y of yTiles) for (const x of xTiles) upscale.push({ index: upscale.length, t, y, x });
    return { index, keyframes: kw, intervals, frames: own, interpolation, decode, upscale };
  });
  if (renderVersion === RENDER_VERSION.wholeVideo) {
    const whole = planWholeVideoRender(segments, frames, pack);
    segments.forEach((s, i) => Object.assign(s, whole.segments[i]));
  }
  const sum = (f: (s: SegmentPlan) => number) => segments.reduce((a, s) => a + f(s), 0);
  const counts = {
    prepare: 1,
    keyframe: segments.length,
    interpolation: sum((s) => s.interpolation.length),
    decode: sum((s) => s.decode.length),
    upscale: sum((s) => s.upscale.length),
    encode: segments.length,
    stitch: 1,
  };
  return {
    jobId: spec.jobId,
    frames,
    fps: spec.fps,
    width: pack.video.width,
    height: pack.video.height,
    keyframes,
    keyframeFps: spec.fps / FRAMES_PER_KEYFRAME,
    labels,
    segments,
    counts: { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) },
  };
}

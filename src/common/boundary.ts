/**
 * The values that cross the workflow / activity / client boundaries: every stage activity's input and
 * output, the segment child's input and result, and the job's result. Small, JSON-safe values only:
 * tensors and clips never cross a boundary; artifacts travel by key (Temporal payloads are capped at
 * 2 MB and histories at 50 MB). Types only and pure: workflows, activities and the client all import
 * this module, and it imports nothing but other pure types.
 */
import type { JobSpec } from '../planning/spec';
import type { PackSummary } from '../planning/pack-summary';
import type {
  DecodeWindowPlan,
  InterpolationWindowPlan,
  KeyframeWindowPlan,
  SegmentPlan,
  UpscaleTilePlan,
} from '../planning/plan';
import type { StageSpeed, StageTimeouts } from '../planning/timeouts';
import type { Span } from '../planning/tiling';
import type { SegmentRenderProgress, Stage, StageCount } from './progress';

/** What every stage activity returns: where its output is, and whether it was already there. */
export interface StageOutput {
  key: string;
  /** True when a verified output already existed (the checkpoint) and nothing was computed. */
  reused: boolean;
}

/**
 * An artifact holding frames [start, end) of one time axis as a tensor [T, C, H, W].
 * Axis `keyframe` (1.5 fps), `quarter` (4T, after the first interpolation pass) or `frame` (output).
 */
export interface FrameSource {
  key: string;
  axis: 'keyframe' | 'quarter' | 'frame';
  start: number;
  end: number;
}

/**
 * One render output lent from the segment that made it to a later segment that reads it (render
 * version 2, src/planning/render-plan.ts), by a signal to the later segment's child. `id` is a `renderItemId`.
 */
export interface LentOutput {
  id: string;
  source: FrameSource;
}

/** What every stage needs to know about the job. */
export interface StageContext {
  spec: JobSpec;
  pack: PackSummary;
  /** Multi-hot labels in the pack's order. */
  labels: number[];
}

export interface PrepareOutput extends StageOutput {
  pack: PackSummary;
  /** Jobs with an init image: its frame at the pack's base size, [1, 3, H, W] pixels in [-1, 1]. */
  initFrame?: string;
}

export interface KeyframeInput extends StageContext {
  segment: number;
  window: KeyframeWindowPlan;
  /** The previous segment's keyframes (their last 2 frames are this window's context). */
  previous?: FrameSource;
  /** Segment 0 of a job with an init image: the init frame (PrepareOutput.initFrame), encoded as keyframe 0. */
  initFrame?: string;
}

export interface InterpolationInput extends StageContext {
  segment: number;
  window: InterpolationWindowPlan;
  /** Frames on the pass's input axis that cover the window's known frames. */
  sources: FrameSource[];
}

export interface DecodeInput extends StageContext {
  segment: number;
  window: DecodeWindowPlan;
  /** Latents on the frame axis covering `window.decoded`. */
  sources: FrameSource[];
}

export interface UpscaleInput extends StageContext {
  segment: number;
  tile: UpscaleTilePlan;
  /** Decoded low-res pixels on the frame axis covering the tile's frames. */
  sources: FrameSource[];
}

export interface EncodeInput extends StageContext {
  segment: SegmentPlan;
  /** Upscaled tiles of the segment, in plan order. */
  tiles: Array<{ tile: UpscaleTilePlan; key: string }>;
}

export interface StitchInput extends StageContext {
  clips: string[];
  frames: number;
}

/** What ffprobe and a checksum say of the finished MP4: the stitch's output and the job's result share it. */
export interface VideoFacts {
  frames: number;
  width: number;
  height: number;
  fps: number;
  bytes: number;
  sha256: string;
}

export interface StitchOutput extends StageOutput, VideoFacts {}

/** Input of one segment's rendering child (`segmentRenderWorkflow`). */
export interface SegmentRenderInput extends StageContext {
  segment: SegmentPlan;
  keyframes: FrameSource;
  /** Per-stage timeouts from the speeds the pools measured for this job. */
  timeouts: Record<'interpolation' | 'decode' | 'upscale', StageTimeouts>;
}

/** What a segment's rendering child returns to the job. */
export interface SegmentRenderResult {
  segment: number;
  clipKey: string;
  /** Per-stage counters, folded into the job's progress when the child completes. */
  stages: SegmentRenderProgress['stages'];
  activities: { total: number; reused: number };
}

/**
 * Options of one run of the job workflow that are not part of the spec (they change how the work is
 * laid out in Temporal, never what is rendered): its optional second argument.
 */
export interface JobRunOptions {
  /** Segments per chapter workflow (workflows/chapter.ts). @default CHAPTER_SEGMENTS */
  chapterSegments?: number;
  /**
   * Render with version 1, the per-segment schedule with a barrier after each stage (workflows/segment.ts),
   * for `vldm bench --schedule barrier` to compare against. @default false (version 2, the dataflow)
   */
  stageBarriers?: boolean;
}

/**
 * A chapter workflow's input: which run of the plan's segments, and where the chain stands. The
 * chapter plans the job again (pure, the same plan) rather than receive 100 segment plans as payload.
 */
export interface ChapterInput extends StageContext {
  chapter: number;
  /** Segment indices [start, end). */
  segments: Span;
  /** The previous chapter's last keyframes; absent for the first chapter. */
  previous?: FrameSource;
  initFrame?: string;
  keyframeTimeouts: StageTimeouts;
  renderTimeouts: SegmentRenderInput['timeouts'];
}

/** Signalled by a chapter to its job once its last keyframes exist (the next chapter continues from them). */
export interface ChapterChainDone {
  chapter: number;
  last?: FrameSource;
}

export interface ChapterResult {
  chapter: number;
  /** Clip keys of its segments, in order. */
  clips: string[];
  stages: Partial<Record<Stage, StageCount>>;
  activities: { total: number; reused: number };
}

/** What a job workflow returns (and `vldm generate --json` / `fetch` report). */
export interface JobResult extends VideoFacts {
  jobId: string;
  outputKey: string;
  segments: number;
  /** Stage activities (artifact-producing; the speed probes are not counted). */
  activities: { total: number; reused: number };
  /** What each pool measured for this job, from which its timeouts were derived. */
  stageSpeeds: StageSpeed[];
}

/**
 * Upper estimates of what a job puts into Temporal, per workflow, from its plan alone: history
 * events, history bytes, the most activities and children pending at once, and the largest payload.
 * `vldm plan` prints them beside Temporal's limits, so a job that would not fit is seen before it
 * runs. Pure; the constants below were calibrated on real histories of contract-pack jobs
 * (test/integration/pipeline.test.ts compares the estimate with the real histories of a job).
 *
 * Events: every activity is scheduled, started and completed (3); every child start is initiated,
 * started and completed (3); every signal sent is initiated and acknowledged (2), every signal
 * received 1; and at most one workflow task (scheduled, started, completed: 3) per thing the
 * workflow can wake up for (its start, each activity or child completion, child start, signal).
 */
import type { JobSpec } from './spec';
import type { PackSummary } from './pack-summary';
import type { JobPlan, SegmentPlan } from './plan';
import { CHAPTER_SEGMENTS, borrowedIds, chapterRanges } from './render-plan';

/** Temporal's defaults: the server warns past 10,240 events / 10 MB and refuses payloads past ~2 MB (blob limit); 256 KB is its advice. */
export const TEMPORAL_LIMITS = {
  historyEvents: 10_240,
  historyBytes: 10 * 1024 * 1024,
  pendingActivities: 1_000,
  pendingChildren: 1_000,
  payloadBytes: 256 * 1024,
} as const;

/** Sizes, calibrated on real histories (bytes are generous upper values). */
const SIZES = {
  /** What an event costs besides its payloads (ids, timestamps, task queue, retry policy…). */
  eventOverhead: 200,
  /** An activity's result (key, sha256, reuse flag and a few numbers). */
  result: 400,
  /** One FrameSource in an activity's input or a signal. */
  source: 160,
  /** Per-stage timeouts and the per-call speeds the job passes down. */
  timeouts: 400,
  /** One artifact key (the stitch input holds one per clip). */
  key: 160,
  /**
   * A child's result (a segment's clip key, its stages' counts and its activity totals). A
   * 30-minute bench job's chapter came to 0.15 % over the estimate when children counted as
   * `result` (issue 10's note, session 10).
   */
  childResult: 800,
};
/** Speed probes the job runs (one per measured stage). */
const SPEED_PROBES = 4;

export interface WorkflowEstimate {
  workflow: string;
  events: number;
  bytes: number;
  pendingActivities: number;
  pendingChildren: number;
  largestPayloadBytes: number;
}

export interface HistoryEstimates {
  limits: typeof TEMPORAL_LIMITS;
  job: WorkflowEstimate;
  /** Chapter workflows (long jobs, workflows/chapter.ts); empty when the job runs its chain itself. */
  chapters: WorkflowEstimate[];
  /** The segment child with the most events. */
  largestSegment: WorkflowEstimate;
  segments: WorkflowEstimate[];
  /** Names of the limits an estimate exceeds (empty when everything fits). */
  exceeded: string[];
}

const size = (v: unknown): number => JSON.stringify(v).length;

function events(activities: number, children: number, sent: number, received: number): number {
  const wakeUps = 1 + activities + 2 * children + sent + received;
  return 2 + 3 * activities + 3 * children + 2 * sent + received + 3 * wakeUps + 2; // + marker, search attributes
}

function segmentEstimate(seg: SegmentPlan, ctxBytes: number): WorkflowEstimate {
  const activities = seg.interpolation.length + seg.decode.length + seg.upscale.length + 1;
  const received = borrowedIds(seg.render).length;
  const sent = (seg.render?.lends ?? []).reduce((a, l) => a + l.ids.length, 0);
  // Inputs: each carries the job context, its item and the sources it reads (at most 3 of each).
  const itemBytes = [...seg.interpolation, ...seg.decode, ...seg.upscale].map(size);
  const inputs = itemBytes.reduce((a, b) => a + b, 0) + (activities - 1) * (ctxBytes + 3 * SIZES.source);
  const clipInput = ctxBytes + size(seg) + seg.upscale.length * SIZES.key * 2;
  const startInput = ctxBytes + size(seg) + SIZES.timeouts;
  const ev = events(activities, 0, sent, received);
  return {
    workflow: `segment ${seg.index}`,
    events: ev,
    bytes:
      startInput +
      inputs +
      clipInput +
      activities * SIZES.result +
      (sent + received) * SIZES.source +
      ev * SIZES.eventOverhead,
    pendingActivities: activities,
    pendingChildren: 0,
    largestPayloadBytes: Math.max(
      startInput,
      clipInput,
      ctxBytes + Math.max(0, ...itemBytes) + 3 * SIZES.source,
    ),
  };
}

export function estimateHistories(
  spec: JobSpec,
  pack: PackSummary,
  plan: JobPlan,
  chapterSegments: number = CHAPTER_SEGMENTS,
): HistoryEstimates {
  const ctxBytes = size({ spec, pack, labels: plan.labels });
  const segments = plan.segments.map((s) => segmentEstimate(s, ctxBytes));
  const ranges = plan.segments.some((s) => s.render)
    ? chapterRanges(plan.segments.length, chapterSegments)
    : [];
  const chaptered = ranges.length > 1;
  const chainOf = (
    segs: SegmentPlan[],
    extraActivities: number,
    name: string,
    received: number,
    sent: number,
  ) => {
    const S = segs.length;
    const activities = extraActivities + S;
    const childInputs = segs.reduce((a, s) => a + ctxBytes + size(s) + SIZES.timeouts, 0);
    const keyframeInputs = segs.reduce((a, s) => a + ctxBytes + size(s.keyframes) + SIZES.source, 0);
    const ev = events(activities, S, sent, received);
    return {
      workflow: name,
      events: ev,
      bytes:
        childInputs +
        keyframeInputs +
        activities * SIZES.result +
        S * SIZES.childResult +
        (sent + received) * SIZES.source +
        ev * SIZES.eventOverhead,
      pendingActivities: 1,
      pendingChildren: S,
      largestPayloadBytes: Math.max(0, ...segs.map((s) => ctxBytes + size(s) + SIZES.timeouts)),
    };
  };
  const chapters = chaptered
    ? ranges.map((r, c) => {
        const segs = plan.segments.slice(r.start, r.end);
        const w = chainOf(segs, 0, `chapter ${c}`, 0, 1);
        // Its input: the job context, its range, where the chain stands, the timeouts.
        const input = ctxBytes + SIZES.source + 2 * SIZES.timeouts;
        return { ...w, bytes: w.bytes + input, largestPayloadBytes: Math.max(w.largestPayloadBytes, input) };
      })
    : [];
  const S = plan.segments.length;
  const stitchInput = ctxBytes + S * SIZES.key;
  const fixed = 1 + SPEED_PROBES + 1; // prepare, probes, stitch
  const jobBase = chaptered
    ? {
        ...chainOf([], fixed, 'job', ranges.length, 0),
        events: events(fixed, ranges.length, 0, ranges.length),
        pendingChildren: ranges.length,
      }
    : chainOf(plan.segments, fixed, 'job', 0, 0);
  const chapterInputs = chapters.reduce((a, c) => a + c.largestPayloadBytes, 0);
  const job: WorkflowEstimate = {
    ...jobBase,
    bytes:
      jobBase.bytes +
      2 * size(spec) +
      (SPEED_PROBES + 1) * ctxBytes +
      stitchInput +
      chapterInputs +
      (chaptered ? ranges.length * (SIZES.result + SIZES.key * chapterSegments) : 0) +
      (chaptered ? (fixed + ranges.length) * SIZES.eventOverhead * 4 : 0),
    // The chain runs one keyframe activity at a time; the probes run beside it.
    pendingActivities: 1 + SPEED_PROBES,
    largestPayloadBytes: Math.max(
      stitchInput,
      jobBase.largestPayloadBytes,
      ...chapters.map((c) => c.largestPayloadBytes),
    ),
  };
  const largestSegment = segments.reduce((a, b) => (b.events > a.events ? b : a), segments[0]);
  const all = [job, ...chapters, ...segments];
  const L = TEMPORAL_LIMITS;
  const exceeded = [
    ...(all.some((w) => w.events > L.historyEvents) ? ['historyEvents'] : []),
    ...(all.some((w) => w.bytes > L.historyBytes) ? ['historyBytes'] : []),
    ...(all.some((w) => w.pendingActivities > L.pendingActivities) ? ['pendingActivities'] : []),
    ...(all.some((w) => w.pendingChildren > L.pendingChildren) ? ['pendingChildren'] : []),
    ...(all.some((w) => w.largestPayloadBytes > L.payloadBytes) ? ['payloadBytes'] : []),
  ];
  return { limits: L, job, chapters, largestSegment, segments, exceeded };
}

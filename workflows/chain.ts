/**
 * The keyframe chain over a run of segments: for each segment in order, its keyframes (conditioned
 * on the previous segment's last two), then its rendering child, started at once so rendering
 * overlaps the rest of the chain. Run by the job workflow itself, or, for long jobs, by one chapter
 * workflow per run of segments (workflows/chapter.ts), so that no history holds every segment.
 */
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import type {
  FrameSource,
  SegmentRenderInput,
  SegmentRenderResult,
  StageContext,
  StageOutput,
} from '../src/common/boundary';
import { TASK_QUEUES, WORKFLOW_TASK_TIMEOUT, segmentWorkflowId } from '../src/common/names';
import type { SegmentPlan } from '../src/planning/plan';
import type { StageTimeouts } from '../src/planning/timeouts';
import { keyframeActivities, stageOptions } from './proxies';
import { segmentRenderWorkflow } from './segment';
import { childMetadata } from './child-metadata';

export interface ChainRun {
  ctx: StageContext;
  /** Segments in the whole job (the chain may run over a chapter's share of them). */
  segmentCount: number;
  /** Jobs with an init image: its frame (PrepareOutput.initFrame), for the segment that starts from it. */
  initFrame?: string;
  keyframeTimeouts: StageTimeouts;
  /** The render timeouts; awaited only after the first keyframes exist (the probes run meanwhile). */
  renderTimeouts: () => Promise<SegmentRenderInput['timeouts']>;
  countKeyframe: (out: StageOutput) => void;
  onSegment: (index: number, state: 'rendering' | 'done' | 'failed', result?: SegmentRenderResult) => void;
}

export async function runChain(
  segments: SegmentPlan[],
  start: FrameSource | undefined,
  run: ChainRun,
): Promise<{ last: FrameSource | undefined; rendering: Array<Promise<SegmentRenderResult>> }> {
  const { ctx } = run;
  const { spec } = ctx;
  const rendering: Array<Promise<SegmentRenderResult>> = [];
  let previous = start;
  let renderTimeouts: SegmentRenderInput['timeouts'] | undefined;
  for (const seg of segments) {
    const kf = await keyframeActivities.generateKeyframes.executeWithOptions(
      stageOptions(
        run.keyframeTimeouts,
        `segment ${seg.index}: keyframes ${seg.keyframes.start}–${seg.keyframes.start + seg.keyframes.frames - 1}`,
        spec.deadline,
      ),
      [
        {
          ...ctx,
          segment: seg.index,
          window: seg.keyframes,
          ...(previous ? { previous } : {}),
          // Only jobs with an init image have one: other jobs' activity inputs stay as they were.
          ...(seg.keyframes.initImage && run.initFrame ? { initFrame: run.initFrame } : {}),
        },
      ],
    );
    run.countKeyframe(kf);
    previous = {
      key: kf.key,
      axis: 'keyframe',
      start: seg.keyframes.start,
      end: seg.keyframes.start + seg.keyframes.frames,
    };
    renderTimeouts ??= await run.renderTimeouts();
    const child = await startChild(segmentRenderWorkflow, {
      workflowId: segmentWorkflowId(spec.jobId, seg.index),
      taskQueue: TASK_QUEUES.orchestration,
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      args: [{ ...ctx, segment: seg, keyframes: previous, timeouts: renderTimeouts }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      memo: { jobId: spec.jobId, segment: seg.index },
      ...childMetadata(
        spec.jobId,
        { segment: seg.index },
        `${spec.jobId} segment ${seg.index}: frames ${seg.frames.start}–${seg.frames.end - 1}`,
        () => ({
          summary: `${spec.jobId} segment ${seg.index} of ${run.segmentCount}: frames ${seg.frames.start}–${seg.frames.end - 1}`,
          details: [
            `Segment ${seg.index} of ${run.segmentCount} of job ${spec.jobId}: output frames ${seg.frames.start}–${seg.frames.end - 1}, keyframes ${seg.keyframes.start}–${seg.keyframes.start + seg.keyframes.frames - 1}.`,
            `${seg.interpolation.length} interpolation windows, ${seg.decode.length} decode windows, ${seg.upscale.length} upscale tiles, then one clip.`,
          ].join('\n\n'),
        }),
      ),
    });
    run.onSegment(seg.index, 'rendering');
    const renderingSegment = child.result().then(
      (r) => {
        run.onSegment(seg.index, 'done', r);
        return r;
      },
      (err: unknown) => {
        run.onSegment(seg.index, 'failed');
        throw err;
      },
    );
    // Awaited by the caller with Promise.all; if the chain stops first (cancellation, a failed
    // keyframe activity), a child's later failure must not become an unhandled rejection, which would
    // fail every workflow task from then on instead of letting the job close.
    renderingSegment.catch(() => undefined);
    rendering.push(renderingSegment);
  }
  return { last: previous, rendering };
}

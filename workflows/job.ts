/**
 * The job workflow: one per video. It prepares and plans the job, runs the keyframe chain (the only
 * sequential part: segment k+1 is conditioned on segment k's last two keyframes), starts each
 * segment's rendering child as soon as that segment's keyframes exist, and stitches the clips.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  defineQuery,
  isCancellation,
  patched,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type {
  FrameSource,
  JobResult,
  SegmentRenderInput,
  SegmentRenderResult,
  StageContext,
  StageOutput,
  StitchOutput,
} from '../src/common/boundary';
import type { JobSpec } from '../src/planning/spec';
import { planJob, type JobPlan } from '../src/planning/plan';
import { RENDER_VERSION, WHOLE_VIDEO_RENDER_PATCH, type RenderVersion } from '../src/planning/render-plan';
import { QUERIES, TASK_QUEUES, WORKFLOW_TASK_TIMEOUT, segmentWorkflowId } from '../src/common/names';
import { FAILURE_TYPES } from '../src/common/errors';
import { STAGES, emptyCount, type JobProgress, type Stage, type StageCount } from '../src/common/progress';
import { keyframeActivities, mediaActivities, mediaOptions, speedProbe, stageOptions } from './proxies';
import { MEASURED_STAGES, timeoutsFor, type MeasuredStage, type StageSpeed } from '../src/planning/timeouts';
import { segmentRenderWorkflow } from './segment';

export const jobProgressQuery = defineQuery<JobProgress>(QUERIES.progress);

function plannedOrFail(spec: JobSpec, pack: Parameters<typeof planJob>[1], render: RenderVersion): JobPlan {
  try {
    return planJob(spec, pack, { render });
  } catch (err) {
    // A bad plan is bad input: fail the workflow, not the workflow task (which would retry forever).
    throw ApplicationFailure.create({
      message: (err as Error).message,
      type: FAILURE_TYPES.badInput,
      nonRetryable: true,
    });
  }
}

export async function videoJobWorkflow(spec: JobSpec): Promise<JobResult> {
  const progress: JobProgress = {
    jobId: spec.jobId,
    state: 'planning',
    stages: Object.fromEntries(STAGES.map((s) => [s, emptyCount()])) as Record<
      Stage,
      ReturnType<typeof emptyCount>
    >,
    segments: [],
  };
  setHandler(jobProgressQuery, () => progress);
  let total = 0;
  let reused = 0;
  const count = <T extends StageOutput>(stage: Stage, out: T): T => {
    progress.stages[stage].done += 1;
    total += 1;
    if (out.reused) {
      progress.stages[stage].reused += 1;
      reused += 1;
    }
    return out;
  };

  let speeds = {} as Record<MeasuredStage, Promise<StageSpeed>>;
  try {
    progress.stages.prepare.total = 1;
    const prepared = count(
      'prepare',
      await mediaActivities.prepareJob.executeWithOptions(
        mediaOptions('load pack, validate spec', spec.deadline),
        [spec],
      ),
    );
    const render = patched(WHOLE_VIDEO_RENDER_PATCH) ? RENDER_VERSION.wholeVideo : RENDER_VERSION.perSegment;
    const plan = plannedOrFail(spec, prepared.pack, render);
    const ctx: StageContext = { spec, pack: prepared.pack, labels: plan.labels };
    for (const stage of STAGES) progress.stages[stage].total = plan.counts[stage];
    progress.segments = plan.segments.map((s) => ({
      index: s.index,
      workflowId: segmentWorkflowId(spec.jobId, s.index),
      state: 'waiting',
    }));
    progress.state = 'running';
    // Each pool measures its stage at this job's shapes; timeouts follow from the measurements.
    speeds = Object.fromEntries(
      MEASURED_STAGES.map((stage) => [
        stage,
        speedProbe(stage).executeWithOptions(mediaOptions(`measure ${stage} speed`, spec.deadline), [
          { ...ctx, stage },
        ]),
      ]),
    ) as Record<MeasuredStage, Promise<StageSpeed>>;
    for (const p of Object.values(speeds)) p.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    const keyframeTimeouts = timeoutsFor(await speeds.keyframe);
    let renderTimeouts: SegmentRenderInput['timeouts'] | undefined;

    const rendering: Promise<SegmentRenderResult>[] = [];
    let previous: FrameSource | undefined;
    for (const seg of plan.segments) {
      const kf = count(
        'keyframe',
        await keyframeActivities.generateKeyframes.executeWithOptions(
          stageOptions(
            keyframeTimeouts,
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
              ...(seg.keyframes.initImage && prepared.initFrame ? { initFrame: prepared.initFrame } : {}),
            },
          ],
        ),
      );
      previous = {
        key: kf.key,
        axis: 'keyframe',
        start: seg.keyframes.start,
        end: seg.keyframes.start + seg.keyframes.frames,
      };
      renderTimeouts ??= {
        interpolation: timeoutsFor(await speeds.interpolation),
        decode: timeoutsFor(await speeds.decode),
        upscale: timeoutsFor(await speeds.upscale),
      };
      const child = await startChild(segmentRenderWorkflow, {
        workflowId: segmentWorkflowId(spec.jobId, seg.index),
        taskQueue: TASK_QUEUES.orchestration,
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        args: [
          {
            ...ctx,
            segment: seg,
            keyframes: previous,
            timeouts: renderTimeouts,
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${spec.jobId} segment ${seg.index}: frames ${seg.frames.start}–${seg.frames.end - 1}`,
        memo: { jobId: spec.jobId, segment: seg.index },
      });
      progress.segments[seg.index].state = 'rendering';
      const renderingSegment = child.result().then(
        (r) => {
          progress.segments[seg.index].state = 'done';
          // Fold the child's counters into the job's, so one query shows the whole job.
          for (const [stage, c] of Object.entries(r.stages) as Array<[Stage, StageCount]>) {
            progress.stages[stage].done += c.done;
            progress.stages[stage].reused += c.reused;
          }
          total += r.activities.total;
          reused += r.activities.reused;
          return r;
        },
        (err: unknown) => {
          progress.segments[seg.index].state = 'failed';
          throw err;
        },
      );
      // Awaited below with Promise.all; if the chain stops first (cancellation, a failed keyframe
      // activity), a child's later failure must not become an unhandled rejection, which would fail
      // every workflow task from then on instead of letting the job close.
      renderingSegment.catch(() => undefined);
      rendering.push(renderingSegment);
    }
    const results = await Promise.all(rendering);
    const stitched: StitchOutput = count(
      'stitch',
      await mediaActivities.stitchJob.executeWithOptions(
        mediaOptions(`stitch ${results.length} clips`, spec.deadline),
        [{ ...ctx, clips: results.map((r) => r.clipKey), frames: plan.frames }],
      ),
    );
    progress.state = 'completed';
    progress.outputKey = stitched.key;
    return {
      jobId: spec.jobId,
      outputKey: stitched.key,
      frames: stitched.frames,
      width: stitched.width,
      height: stitched.height,
      fps: stitched.fps,
      bytes: stitched.bytes,
      sha256: stitched.sha256,
      segments: plan.segments.length,
      activities: { total, reused },
      stageSpeeds: await Promise.all(MEASURED_STAGES.map((stage) => speeds[stage])),
    };
  } catch (err) {
    progress.state = isCancellation(err) ? 'cancelled' : 'failed';
    progress.error = (err as Error).message;
    throw err;
  }
}

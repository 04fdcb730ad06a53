/**
 * The job workflow: one per video. It prepares and plans the job, runs the keyframe chain (the only
 * sequential part: segment k+1 is conditioned on segment k's last two keyframes), starts each
 * segment's rendering child as soon as that segment's keyframes exist, and stitches the clips.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  condition,
  defineQuery,
  isCancellation,
  patched,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type {
  ChapterChainDone,
  ChapterResult,
  FrameSource,
  JobResult,
  JobRunOptions,
  SegmentRenderInput,
  StageContext,
  StageOutput,
  StitchOutput,
} from '../src/common/boundary';
import type { JobSpec } from '../src/planning/spec';
import { planJob, type JobPlan, type SegmentPlan } from '../src/planning/plan';
import {
  CHAPTER_SEGMENTS,
  RENDER_VERSION,
  WHOLE_VIDEO_RENDER_PATCH,
  chapterRanges,
  type RenderVersion,
} from '../src/planning/render-plan';
import type { Span } from '../src/planning/tiling';
import {
  QUERIES,
  TASK_QUEUES,
  WORKFLOW_TASK_TIMEOUT,
  chapterWorkflowId,
  segmentWorkflowId,
} from '../src/common/names';
import { FAILURE_TYPES } from '../src/common/errors';
import { STAGES, emptyCount, type JobProgress, type Stage, type StageCount } from '../src/common/progress';
import { mediaActivities, mediaOptions, speedProbe } from './proxies';
import { runChain, type ChainRun } from './chain';
import { chapterChainDoneSignal, chapterWorkflow } from './chapter';
import { childMetadata } from './child-metadata';
import { MEASURED_STAGES, timeoutsFor, type MeasuredStage, type StageSpeed } from '../src/planning/timeouts';

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

export async function videoJobWorkflow(spec: JobSpec, options: JobRunOptions = {}): Promise<JobResult> {
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
    // A job that asks for stage barriers (a benchmark's comparison) records no patch marker: its
    // history replays on the version-1 path like those from before the marker.
    const render =
      options.stageBarriers !== true && patched(WHOLE_VIDEO_RENDER_PATCH)
        ? RENDER_VERSION.wholeVideo
        : RENDER_VERSION.perSegment;
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
    const renderTimeouts = async (): Promise<SegmentRenderInput['timeouts']> => ({
      interpolation: timeoutsFor(await speeds.interpolation),
      decode: timeoutsFor(await speeds.decode),
      upscale: timeoutsFor(await speeds.upscale),
    });
    const foldStages = (stages: Partial<Record<Stage, StageCount>>): void => {
      // Fold a child's counters into the job's, so one query shows the whole job.
      for (const [stage, c] of Object.entries(stages) as Array<[Stage, StageCount]>) {
        progress.stages[stage].done += c.done;
        progress.stages[stage].reused += c.reused;
      }
    };
    const chain: ChainRun = {
      ctx,
      segmentCount: plan.segments.length,
      ...(prepared.initFrame ? { initFrame: prepared.initFrame } : {}),
      keyframeTimeouts,
      renderTimeouts,
      countKeyframe: (out) => count('keyframe', out),
      onSegment: (index, state, r) => {
        progress.segments[index].state = state;
        if (r) {
          foldStages(r.stages);
          total += r.activities.total;
          reused += r.activities.reused;
        }
      },
    };

    // Long version-2 jobs run their chain in chapters, one history per run of segments; the rest
    // (and every version-1 history) run it here.
    const chapterSize = options.chapterSegments ?? CHAPTER_SEGMENTS;
    if (!Number.isInteger(chapterSize) || chapterSize < 1)
      throw ApplicationFailure.create({
        message: `chapterSegments must be an integer ≥ 1, got ${String(chapterSize)}`,
        type: FAILURE_TYPES.badInput,
        nonRetryable: true,
      });
    const chapters = chapterRanges(plan.segments.length, chapterSize);
    let clips: string[];
    if (render === RENDER_VERSION.wholeVideo && chapters.length > 1) {
      clips = await runChapters(plan.segments, chapters, chain, renderTimeouts, progress, (r) => {
        foldStages(r.stages);
        total += r.activities.total;
        reused += r.activities.reused;
      });
    } else {
      const { rendering } = await runChain(plan.segments, undefined, chain);
      clips = (await Promise.all(rendering)).map((r) => r.clipKey);
    }
    const stitched: StitchOutput = count(
      'stitch',
      await mediaActivities.stitchJob.executeWithOptions(
        mediaOptions(`stitch ${clips.length} clips`, spec.deadline),
        [{ ...ctx, clips, frames: plan.frames }],
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

/**
 * The chain in chapters (workflows/chapter.ts): chapter c+1 starts from chapter c's last keyframes as
 * soon as chapter c signals them, while chapter c's segments still render. Returns every clip key in
 * order once every chapter has finished.
 */
async function runChapters(
  segments: SegmentPlan[],
  chapters: Span[],
  chain: ChainRun,
  renderTimeouts: () => Promise<SegmentRenderInput['timeouts']>,
  progress: JobProgress,
  fold: (r: ChapterResult) => void,
): Promise<string[]> {
  const { ctx } = chain;
  const { spec } = ctx;
  const chainDone = new Map<number, ChapterChainDone>();
  setHandler(chapterChainDoneSignal, (done) => {
    chainDone.set(done.chapter, done);
  });
  const timeouts = await renderTimeouts();
  const running: Array<Promise<ChapterResult>> = [];
  let previous: FrameSource | undefined;
  for (const [c, range] of chapters.entries()) {
    const own = segments.slice(range.start, range.end);
    const child = await startChild(chapterWorkflow, {
      workflowId: chapterWorkflowId(spec.jobId, c),
      taskQueue: TASK_QUEUES.orchestration,
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      args: [
        {
          ...ctx,
          chapter: c,
          segments: range,
          ...(previous ? { previous } : {}),
          ...(chain.initFrame ? { initFrame: chain.initFrame } : {}),
          keyframeTimeouts: chain.keyframeTimeouts,
          renderTimeouts: timeouts,
        },
      ],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      memo: { jobId: spec.jobId, chapter: c },
      ...childMetadata(
        spec.jobId,
        { chapter: c },
        `${spec.jobId} chapter ${c}: segments ${range.start}–${range.end - 1}`,
        () => ({
          summary: `${spec.jobId} chapter ${c} of ${chapters.length}: segments ${range.start}–${range.end - 1}`,
          details: [
            `Chapter ${c} of ${chapters.length} of job ${spec.jobId}: the keyframe chain over segments ${range.start}–${range.end - 1} of ${segments.length}, and the parent of their rendering children.`,
            c === 0
              ? 'It starts the chain.'
              : `It continues the chain from chapter ${c - 1}'s last keyframes.`,
          ].join('\n\n'),
        }),
      ),
    });
    for (const s of own) progress.segments[s.index].state = 'rendering';
    const result = child.result().then(
      (r) => {
        for (const s of own) progress.segments[s.index].state = 'done';
        fold(r);
        return r;
      },
      (err: unknown) => {
        for (const s of own) progress.segments[s.index].state = 'failed';
        throw err;
      },
    );
    result.catch(() => undefined); // awaited below; a failure while the chain goes on is not unhandled
    running.push(result);
    // The next chapter continues the chain from this one's last keyframes (or this one fails first).
    await Promise.race([condition(() => chainDone.has(c)), result]);
    previous = chainDone.get(c)?.last;
  }
  return (await Promise.all(running)).flatMap((r) => r.clips);
}

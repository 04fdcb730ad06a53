/**
 * A chapter: the keyframe chain over one run of segments of a long job, and the parent of their
 * rendering children (render version 2 jobs with more segments than `CHAPTER_SEGMENTS`). It signals
 * the job workflow as soon as its last keyframes exist, so the next chapter's chain starts while this
 * one's segments still render, and returns once they all have. One history per chapter keeps every
 * history inside Temporal's limits however long the video (src/planning/history-estimate.ts).
 */
import { defineSignal, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import type {
  ChapterChainDone,
  ChapterInput,
  ChapterResult,
  SegmentRenderResult,
} from '../src/common/boundary';
import { SIGNALS } from '../src/common/names';
import { emptyCount, type Stage, type StageCount } from '../src/common/progress';
import { planJob } from '../src/planning/plan';
import { RENDER_VERSION } from '../src/planning/render-plan';
import { runChain } from './chain';

export const chapterChainDoneSignal = defineSignal<[ChapterChainDone]>(SIGNALS.chapterChainDone);

export async function chapterWorkflow(input: ChapterInput): Promise<ChapterResult> {
  const { chapter, segments: range, previous, initFrame, keyframeTimeouts, renderTimeouts, ...ctx } = input;
  // Chapters exist only in render version 2; the plan is the job workflow's, computed again.
  const all = planJob(ctx.spec, ctx.pack, { render: RENDER_VERSION.wholeVideo }).segments;
  const segments = all.slice(range.start, range.end);
  const stages: Partial<Record<Stage, StageCount>> = { keyframe: emptyCount(segments.length) };
  let total = 0;
  let reused = 0;
  const fold = (r: SegmentRenderResult): void => {
    for (const [stage, c] of Object.entries(r.stages) as Array<[Stage, StageCount]>) {
      const into = (stages[stage] ??= emptyCount(0));
      into.total += c.total;
      into.done += c.done;
      into.reused += c.reused;
    }
    total += r.activities.total;
    reused += r.activities.reused;
  };
  const { last, rendering } = await runChain(segments, previous, {
    ctx,
    segmentCount: all.length,
    ...(initFrame ? { initFrame } : {}),
    keyframeTimeouts,
    renderTimeouts: () => Promise.resolve(renderTimeouts),
    countKeyframe: (out) => {
      stages.keyframe!.done += 1;
      total += 1;
      if (out.reused) {
        stages.keyframe!.reused += 1;
        reused += 1;
      }
    },
    onSegment: (_index, state, result) => {
      if (state === 'done' && result) fold(result);
    },
  });
  const parent = workflowInfo().parent;
  if (!parent) throw new Error(`chapter ${chapter} must run as a child of its job workflow`);
  await getExternalWorkflowHandle(parent.workflowId).signal(chapterChainDoneSignal, {
    chapter,
    ...(last ? { last } : {}),
  });
  const results = await Promise.all(rendering);
  return { chapter, clips: results.map((r) => r.clipKey), stages, activities: { total, reused } };
}

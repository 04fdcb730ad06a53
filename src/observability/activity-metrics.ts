/**
 * Activity metrics from one Temporal activity interceptor, so no activity has to count itself: each
 * attempt's stage and outcome, its wall time, and how long it waited in its task queue (scheduled →
 * started). "reused" is read from the result: every stage returns `{ key, reused }` (StageOutput).
 * Each attempt that did not fail also logs one INFO line (failures the SDK logs itself, at WARN).
 * With tracing on, the same fields go on the attempt's span (the OpenTelemetry interceptor, which
 * runs outside this one, made it).
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { CancelledFailure } from '@temporalio/common';
import { activitiesTotal, activityQueueWaitSeconds, activitySeconds, stageOfActivity } from './metrics';
import { annotateActiveSpan } from './tracing';

function outcomeOf(result: unknown): 'completed' | 'reused' {
  return typeof result === 'object' && result !== null && (result as { reused?: unknown }).reused === true
    ? 'reused'
    : 'completed';
}

/** The job and segment an activity works for, from its input (StageContext and the stage inputs). */
function jobOfInput(args: readonly unknown[]): Record<string, unknown> {
  const first = args[0];
  if (typeof first !== 'object' || first === null) return {};
  const { jobId, segment } = first as { jobId?: unknown; segment?: unknown };
  return {
    ...(typeof jobId === 'string' ? { jobId } : {}),
    ...(typeof segment === 'number' ? { segment } : {}),
  };
}

export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => {
  let job: Record<string, unknown> = {};
  return {
    // Every log line of the activity (the SDK's and its own) carries its job id and segment.
    outbound: {
      getLogAttributes: (input, next) => ({ ...next(input), ...job }),
    },
    inbound: {
      async execute(input, next) {
        job = jobOfInput(input.args);
        const { info } = ctx;
        const stage = stageOfActivity(info.activityType);
        const started = Date.now();
        // Temporal's clock against this host's: a small skew can make it negative, which means ~0.
        activityQueueWaitSeconds
          .labels({ queue: info.taskQueue })
          .observe(Math.max(0, started - info.currentAttemptScheduledTimestampMs) / 1000);
        // The job from the input, else from the workflow id (`<jobId>` or `<jobId>/segment-NNN`).
        const workflowId = info.workflowExecution?.workflowId;
        const segment =
          typeof job.segment === 'number'
            ? job.segment
            : Number(/\/segment-(\d+)$/.exec(workflowId ?? '')?.[1] ?? NaN);
        annotateActiveSpan({
          'vldm.stage': stage,
          'vldm.attempt': info.attempt,
          'vldm.task_queue': info.taskQueue,
          'vldm.job_id': typeof job.jobId === 'string' ? job.jobId : (workflowId ?? '').split('/')[0],
          ...(Number.isInteger(segment) ? { 'vldm.segment': segment } : {}),
        });
        let outcome: string = 'failed';
        try {
          const result = await next(input);
          outcome = outcomeOf(result);
          return result;
        } catch (err) {
          outcome =
            err instanceof CancelledFailure || ctx.cancellationSignal.aborted ? 'cancelled' : 'failed';
          throw err;
        } finally {
          const seconds = (Date.now() - started) / 1000;
          annotateActiveSpan({ 'vldm.outcome': outcome });
          activitiesTotal.labels({ stage, outcome }).inc();
          activitySeconds.labels({ stage, outcome }).observe(seconds);
          // One line per attempt at INFO (VLDM_LOG_LEVEL=INFO shows them), with the SDK's context fields.
          if (outcome !== 'failed') ctx.log.info(`activity ${outcome}`, { outcome, seconds });
        }
      },
    },
  };
};

/**
 * Activity proxies, one per task queue, with the retry and timeout policy of each stage.
 * Errors of the non-retryable types (bad input, contract violation) fail at once.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { TASK_QUEUES, type QueueRole } from '../src/common/names';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/common/errors';
import { specPriority } from '../src/common/priority';
import type { MeasuredStage, StageTimeouts } from '../src/planning/timeouts';

type Activities = ReturnType<typeof createActivities>;

/**
 * Default timeouts. The GPU stages' calls override them with timeouts derived from the speed each
 * pool measured for this job (src/planning/timeouts.ts, `stageOptions`); media work (ffmpeg) keeps
 * these: encoding a segment clip takes seconds, 15 minutes is far above any real run.
 */
function proxy(role: QueueRole, startToCloseMinutes: number) {
  return proxyActivities<Activities>({
    taskQueue: TASK_QUEUES[role],
    startToCloseTimeout: `${startToCloseMinutes} minutes`,
    // Media activities heartbeat every frame (encode) or every 5 s (prepare, stitch: withHeartbeats).
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 10,
      nonRetryableErrorTypes: NON_RETRYABLE_FAILURE_TYPES,
    },
  });
}

export const keyframeActivities = proxy('keyframe', 30);
export const interpolationActivities = proxy('interpolation', 30);
export const decodeActivities = proxy('decode', 15);
export const upscaleActivities = proxy('upscale', 30);
export const mediaActivities = proxy('media', 15);

/**
 * Priority of an activity scheduled now for a job with this deadline (src/common/priority.ts): the
 * nearer the deadline, the sooner its tasks are dispatched. `Date.now()` is workflow time here.
 */
export function priorityNow(deadline: string | undefined) {
  return { priorityKey: specPriority(deadline, Date.now()) };
}

/** Call-site options of a GPU stage's activity from its measured timeouts and the job's deadline. */
export function stageOptions(t: StageTimeouts, summary: string, deadline: string | undefined) {
  return {
    summary,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    startToCloseTimeout: t.startToCloseTimeoutMs,
    priority: priorityNow(deadline),
  };
}

/** Call-site options of a media activity (default timeouts) with the job's deadline's priority. */
export function mediaOptions(summary: string, deadline: string | undefined) {
  return { summary, priority: priorityNow(deadline) };
}

/** `measureStage` on the pool of `stage` (it waits there until the pool has a worker). */
export function speedProbe(stage: MeasuredStage) {
  return proxyActivities<Activities>({
    taskQueue: TASK_QUEUES[stage],
    startToCloseTimeout: '10 minutes',
    // It heartbeats while it runs (activities/speed.ts): an attempt lost with its worker (kill -9, a
    // SIGTERM past the grace time) is retried within this, not after the 10 minutes.
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_FAILURE_TYPES },
  }).measureStage;
}

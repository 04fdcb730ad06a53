/**
 * Activity proxies, one per task queue, with the retry and timeout policy of each stage.
 * Errors of the non-retryable types (bad input, contract violation) fail at once.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { TASK_QUEUES, type QueueRole } from '../src/common/names';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/common/errors';

type Activities = ReturnType<typeof createActivities>;

/**
 * Timeouts: heartbeats come at least every sampling step (a step of the reference pack takes well
 * under a second on CPU), so a dead worker is noticed within the heartbeat timeout; start-to-close
 * bounds a whole window or tile on a slow CPU. issue 4 derives them from measured stage speeds.
 */
function proxy(role: QueueRole, startToCloseMinutes: number) {
  return proxyActivities<Activities>({
    taskQueue: TASK_QUEUES[role],
    startToCloseTimeout: `${startToCloseMinutes} minutes`,
    heartbeatTimeout: '2 minutes',
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

/**
 * Activity metrics from one Temporal activity interceptor, so no activity has to count itself: each
 * attempt's stage and outcome, its wall time, and how long it waited in its task queue (scheduled →
 * started). "reused" is read from the result: every stage returns `{ key, reused }` (StageOutput).
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { CancelledFailure } from '@temporalio/common';
import { activitiesTotal, activityQueueWaitSeconds, activitySeconds, stageOfActivity } from './metrics';

function outcomeOf(result: unknown): 'completed' | 'reused' {
  return typeof result === 'object' && result !== null && (result as { reused?: unknown }).reused === true
    ? 'reused'
    : 'completed';
}

export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const { info } = ctx;
      const stage = stageOfActivity(info.activityType);
      const started = Date.now();
      // Temporal's clock against this host's: a small skew can make it negative, which means ~0.
      activityQueueWaitSeconds
        .labels({ queue: info.taskQueue })
        .observe(Math.max(0, started - info.currentAttemptScheduledTimestampMs) / 1000);
      let outcome: string = 'failed';
      try {
        const result = await next(input);
        outcome = outcomeOf(result);
        return result;
      } catch (err) {
        outcome = err instanceof CancelledFailure || ctx.cancellationSignal.aborted ? 'cancelled' : 'failed';
        throw err;
      } finally {
        activitiesTotal.labels({ stage, outcome }).inc();
        activitySeconds.labels({ stage, outcome }).observe((Date.now() - started) / 1000);
      }
    },
  },
});

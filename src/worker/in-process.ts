/**
 * Activities run in this process, outside a Temporal worker, for measuring them (the host-work probe,
 * src/bench/host-probe.ts): the same factory the worker uses, and a real SDK activity Context in the
 * activity's async-local storage, as @temporalio/testing's MockActivityEnvironment gives (that package
 * is not installed). Heartbeats go nowhere; nothing cancels.
 */
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { noopMetricMeter, type Logger } from '@temporalio/common';

export { createActivities, type ActivityDeps } from '../../activities';

const quietLogger: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Runs `fn` as an activity of `type` outside a worker: a real SDK Context in async-local storage. */
export function inActivity<T>(type: string, fn: () => Promise<T>): Promise<T> {
  const now = Date.now();
  const info: Info = {
    taskToken: new Uint8Array(),
    base64TaskToken: '',
    activityId: 'host-probe',
    activityType: type,
    activityNamespace: 'default',
    namespace: 'default',
    attempt: 1,
    isLocal: false,
    workflowExecution: { workflowId: 'host-probe', runId: 'host-probe' },
    workflowNamespace: 'default',
    workflowType: 'segmentRenderWorkflow',
    scheduledTimestampMs: now,
    scheduleToCloseTimeoutMs: 600_000,
    startToCloseTimeoutMs: 600_000,
    currentAttemptScheduledTimestampMs: now,
    heartbeatTimeoutMs: 60_000,
    heartbeatDetails: undefined,
    taskQueue: 'host-probe',
    inWorkflow: true,
  };
  const ctx = new Context(
    info,
    new Promise<never>(() => {}),
    new AbortController().signal,
    () => {},
    undefined,
    quietLogger,
    noopMetricMeter,
    {},
  );
  return asyncLocalStorage.run(ctx, fn);
}

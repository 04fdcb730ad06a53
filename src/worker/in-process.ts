/**
 * Activities run in this process, outside a Temporal worker, for measuring them (the host-work probe,
 * src/bench/host-probe.ts): the same factory the worker uses, and a real SDK activity Context in the
 * activity's async-local storage, as @temporalio/testing's MockActivityEnvironment gives (that package
 * is not installed). Heartbeats go to `onHeartbeat` when given; nothing cancels. The tiling test runs
 * its activities the same way.
 */
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { noopMetricMeter, type Logger } from '@temporalio/common';

export { createActivities, type ActivityDeps } from '../../activities';

const quietLogger: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Where the activity's heartbeats go, and the names its Info carries (logs, errors). */
export interface InProcessOptions {
  /** Called with each heartbeat's details (default: dropped). */
  onHeartbeat?: (details: unknown) => void;
  /** Activity and workflow id, and task queue, in the Info (default "host-probe"). */
  name?: string;
}

/** Runs `fn` as an activity of `type` outside a worker: a real SDK Context in async-local storage. */
export function inActivity<T>(type: string, fn: () => Promise<T>, opts: InProcessOptions = {}): Promise<T> {
  const now = Date.now();
  const name = opts.name ?? 'host-probe';
  const info: Info = {
    taskToken: new Uint8Array(),
    base64TaskToken: '',
    activityId: name,
    activityType: type,
    activityNamespace: 'default',
    namespace: 'default',
    attempt: 1,
    isLocal: false,
    workflowExecution: { workflowId: name, runId: name },
    workflowNamespace: 'default',
    workflowType: 'segmentRenderWorkflow',
    scheduledTimestampMs: now,
    scheduleToCloseTimeoutMs: 600_000,
    startToCloseTimeoutMs: 600_000,
    currentAttemptScheduledTimestampMs: now,
    heartbeatTimeoutMs: 60_000,
    heartbeatDetails: undefined,
    taskQueue: name,
    inWorkflow: true,
  };
  const ctx = new Context(
    info,
    new Promise<never>(() => {}),
    new AbortController().signal,
    opts.onHeartbeat ?? (() => {}),
    undefined,
    quietLogger,
    noopMetricMeter,
    {},
  );
  return asyncLocalStorage.run(ctx, fn);
}

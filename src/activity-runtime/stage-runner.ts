/**
 * The checkpoint rule every stage activity follows: if its output key already holds a verified
 * artifact, return it (reused); otherwise compute, store atomically and return. A corrupt artifact
 * fails verification, is dropped by the store, and is recomputed.
 */
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../storage';
import type { EventBus, ProgressEvent } from '../events';
import type { StageOutput } from '../common/boundary';
import { SamplingCheckpoints, checkpointEveryFromEnv } from './checkpoints';
import { stageOfActivity } from '../observability/metrics';

export interface StageEvent {
  jobId: string;
  stage: ProgressEvent['stage'];
  segment?: number;
  window?: number;
  tile?: number;
  /** Tells apart units with the same numbers (e.g. the two interpolation passes). */
  message?: string;
}

export interface StageDeps {
  store: ArtifactStore;
  events: EventBus;
}

export function emit(
  events: EventBus,
  ev: StageEvent,
  state: ProgressEvent['state'],
  extra: Partial<ProgressEvent> = {},
): void {
  events.publish({ ...ev, ...extra, state, at: new Date().toISOString() });
}

/** Heartbeat details: step numbers and artifact keys only, never tensors. */
export interface StepDetails {
  step?: number;
  steps?: number;
  checkpoint?: string;
}

/** Where an activity's in-flight checkpoints live: beside its output key, removed once it is stored. */
export function checkpointPrefix(outputKey: string): string {
  return `${outputKey}.ckpt/`;
}

/**
 * The checkpoints of one sampling loop of the running activity (`slot` tells loops apart when an
 * activity runs several, like segment 0's image frame and prediction window).
 */
export function makeCheckpoints(
  deps: StageDeps,
  outputKey: string,
  slot: string,
  details: StepDetails,
): SamplingCheckpoints {
  const ctx = Context.current();
  return new SamplingCheckpoints(
    deps.store,
    `${checkpointPrefix(outputKey)}${slot}/`,
    checkpointEveryFromEnv(),
    (d) => {
      details.checkpoint = d.checkpoint;
      ctx.heartbeat({ ...details, step: d.step });
    },
    stageOfActivity(ctx.info.activityType),
  );
}

/**
 * Heartbeat with a small detail (step numbers and the newest checkpoint key) and stop when the
 * activity is cancelled: long sampling loops call this once per model evaluation.
 */
export function makeStepReporter(
  events: EventBus,
  ev: StageEvent,
  steps: number,
  details: StepDetails = {},
): (step: number) => void {
  const ctx = Context.current();
  return (step: number) => {
    details.step = step;
    details.steps = steps;
    ctx.heartbeat({ ...details });
    emit(events, ev, 'progress', { step, steps });
    throwIfCancelled(ctx);
  };
}

/** Stop here when the running activity is being cancelled (job cancelled, worker shutting down). */
export function throwIfCancelled(ctx: Context = Context.current()): void {
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}

/**
 * The first half of the checkpoint rule: true, with a `reused` event, when `key` already holds an
 * artifact that verifies. A corrupt one is dropped by the store, so the caller recomputes it.
 */
export async function alreadyDone(deps: StageDeps, key: string, ev: StageEvent): Promise<boolean> {
  if ((await deps.store.exists(key)) && (await deps.store.getVerified(key)) !== undefined) {
    emit(deps.events, ev, 'reused');
    return true;
  }
  return false;
}

export async function runStage(
  deps: StageDeps,
  key: string,
  ev: StageEvent,
  compute: () => Promise<Uint8Array>,
): Promise<StageOutput> {
  if (await alreadyDone(deps, key, ev)) return { key, reused: true };
  emit(deps.events, ev, 'started');
  const bytes = await compute();
  await deps.store.put(key, bytes);
  // The output is the final checkpoint; the in-flight ones are no longer needed.
  for (const a of await deps.store.list(checkpointPrefix(key))) await deps.store.delete(a.key);
  emit(deps.events, ev, 'completed');
  return { key, reused: false };
}

/** True once the running activity is being cancelled (job cancelled, worker shutting down). */
export function activityStopping(): boolean {
  return Context.current().cancellationSignal.aborted;
}

/** How often `withHeartbeats` beats: well inside the media queue's 30 s heartbeat timeout. */
export const BACKGROUND_HEARTBEAT_MS = 5_000;

/**
 * Run `fn` while heartbeating in the background, for steps with no natural progress points (loading a
 * pack, an ffmpeg concat): a worker that dies is then noticed within the heartbeat timeout instead
 * of the start-to-close timeout.
 */
export async function withHeartbeats<T>(
  fn: () => Promise<T>,
  details: Record<string, unknown> = {},
): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), BACKGROUND_HEARTBEAT_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

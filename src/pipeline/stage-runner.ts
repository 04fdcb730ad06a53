/**
 * The checkpoint rule every stage activity follows: if its output key already holds a verified
 * artifact, return it (reused); otherwise compute, store atomically and return. A corrupt artifact
 * fails verification, is dropped by the store, and is recomputed.
 */
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../storage';
import type { EventBus, ProgressEvent } from '../events';
import type { StageOutput } from '../../activities/types';

export interface StageEvent {
  jobId: string;
  stage: ProgressEvent['stage'];
  segment?: number;
  window?: number;
  tile?: number;
}

export interface StageDeps {
  store: ArtifactStore;
  events: EventBus;
}

export function emit(events: EventBus, ev: StageEvent, state: ProgressEvent['state'], extra: Partial<ProgressEvent> = {}): void {
  events.publish({ ...ev, ...extra, state, at: new Date().toISOString() });
}

/**
 * Heartbeat with a small detail (step numbers only, never tensors) and stop when the activity is
 * cancelled: long sampling loops call this once per model evaluation.
 */
export function makeStepReporter(events: EventBus, ev: StageEvent, steps: number): (step: number) => void {
  const ctx = Context.current();
  return (step: number) => {
    ctx.heartbeat({ step, steps });
    emit(events, ev, 'progress', { step, steps });
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
  };
}

export async function runStage(
  deps: StageDeps,
  key: string,
  ev: StageEvent,
  compute: () => Promise<Uint8Array>,
): Promise<StageOutput> {
  if ((await deps.store.exists(key)) && (await deps.store.getVerified(key)) !== undefined) {
    emit(deps.events, ev, 'reused');
    return { key, reused: true };
  }
  emit(deps.events, ev, 'started');
  const bytes = await compute();
  await deps.store.put(key, bytes);
  emit(deps.events, ev, 'completed');
  return { key, reused: false };
}

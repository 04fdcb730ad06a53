/**
 * Activity timeouts derived from measured stage speed instead of guessed constants. At the start of
 * a job each GPU pool measures one model call at the job's real shapes (`measureStage`); from that:
 *
 * - heartbeat timeout = 10 × one model call (a step heartbeats once per call; 10× leaves room for a
 *   worker running several activities on the same cores, and for GC), at least 30 s;
 * - start-to-close = 10 × (model calls per activity × one call) + 60 s of I/O, at least 2 min.
 *
 * A dead worker is therefore noticed within ~10 model calls, and a slow but live one is never cut off.
 * Pure; imported by workflows.
 */

export type MeasuredStage = 'keyframe' | 'interpolation' | 'decode' | 'upscale';
export const MEASURED_STAGES: MeasuredStage[] = ['keyframe', 'interpolation', 'decode', 'upscale'];

export interface StageSpeed {
  stage: MeasuredStage;
  /** Median wall time of one model call at the job's shapes on the pool's worker, ms. */
  msPerCall: number;
  /** Model calls one activity of the stage makes (sampling steps; 1 for decoding). */
  callsPerActivity: number;
}

export interface StageTimeouts {
  heartbeatTimeoutMs: number;
  startToCloseTimeoutMs: number;
}

/** Slack factor over the measured time (contention, GC, a slower node of the same pool). */
export const TIMEOUT_SLACK = 10;
/** Fixed allowance per activity for artifact reads and writes. */
export const IO_ALLOWANCE_MS = 60_000;
export const MIN_HEARTBEAT_MS = 30_000;
export const MIN_START_TO_CLOSE_MS = 120_000;
export const MAX_START_TO_CLOSE_MS = 6 * 3600_000;

export function timeoutsFor(speed: StageSpeed): StageTimeouts {
  const heartbeatTimeoutMs = Math.max(MIN_HEARTBEAT_MS, Math.ceil(TIMEOUT_SLACK * speed.msPerCall));
  const work = TIMEOUT_SLACK * speed.msPerCall * Math.max(1, speed.callsPerActivity);
  const startToCloseTimeoutMs = Math.min(
    MAX_START_TO_CLOSE_MS,
    Math.max(MIN_START_TO_CLOSE_MS, Math.ceil(work + IO_ALLOWANCE_MS)),
  );
  return { heartbeatTimeoutMs, startToCloseTimeoutMs };
}

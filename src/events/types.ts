/**
 * Progress events: what a job is doing right now (stage, segment, window, tile, diffusion step), as
 * published on NATS for `vldm watch` and dashboards. Pure types and helpers, no I/O.
 */
import { STAGES } from '../common/progress';

/** The job's stages (one list, src/common/progress.ts), and `job` for events about the job as a whole. */
export const PROGRESS_STAGES = [...STAGES, 'job'] as const;
export type ProgressStage = (typeof PROGRESS_STAGES)[number];

export const PROGRESS_STATES = ['started', 'progress', 'completed', 'reused', 'failed'] as const;
/** `reused`: the stage's output artifact already existed and verified (a checkpoint hit). */
export type ProgressState = (typeof PROGRESS_STATES)[number];

export interface ProgressEvent {
  jobId: string;
  stage: ProgressStage;
  segment?: number;
  window?: number;
  tile?: number;
  /** Diffusion step, 0-based, out of `steps`. */
  step?: number;
  steps?: number;
  /** Units of the stage finished so far, out of `total` (e.g. tiles of a segment). */
  done?: number;
  total?: number;
  state: ProgressState;
  message?: string;
  /** ISO 8601 time the event was made. */
  at: string;
}

/** Builds an event stamped with the current time. */
export function progressEvent(fields: Omit<ProgressEvent, 'at'>, now: Date = new Date()): ProgressEvent {
  return { ...fields, at: now.toISOString() };
}

const NUMERIC_FIELDS = ['segment', 'window', 'tile', 'step', 'steps', 'done', 'total'] as const;

/** True when `x` has the shape of a ProgressEvent (messages from the wire are checked before use). */
export function isProgressEvent(x: unknown): x is ProgressEvent {
  if (typeof x !== 'object' || x === null) return false;
  const e = x as Record<string, unknown>;
  if (typeof e.jobId !== 'string' || typeof e.at !== 'string') return false;
  if (!(PROGRESS_STAGES as readonly unknown[]).includes(e.stage)) return false;
  if (!(PROGRESS_STATES as readonly unknown[]).includes(e.state)) return false;
  if (e.message !== undefined && typeof e.message !== 'string') return false;
  return NUMERIC_FIELDS.every(
    (f) => e[f] === undefined || (typeof e[f] === 'number' && Number.isFinite(e[f])),
  );
}

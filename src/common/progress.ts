/**
 * The shape of a job's progress, as the `progress` query returns it and as the CLI draws it.
 * Pure; workflows import it.
 */

export const STAGES = [
  'prepare',
  'keyframe',
  'interpolation',
  'decode',
  'upscale',
  'encode',
  'stitch',
] as const;
export type Stage = (typeof STAGES)[number];

export interface StageCount {
  done: number;
  total: number;
  reused: number;
}

export interface SegmentProgress {
  index: number;
  workflowId: string;
  state: 'waiting' | 'rendering' | 'done' | 'failed';
}

export interface JobProgress {
  jobId: string;
  state: 'planning' | 'running' | 'completed' | 'failed' | 'cancelled';
  /** Stage counters; the job's own stages plus what finished children reported. */
  stages: Record<Stage, StageCount>;
  segments: SegmentProgress[];
  /** Set when the job finished. */
  outputKey?: string;
  error?: string;
}

/** Progress of one segment's child workflow. */
export interface SegmentRenderProgress {
  segment: number;
  stages: Pick<Record<Stage, StageCount>, 'interpolation' | 'decode' | 'upscale' | 'encode'>;
}

export function emptyCount(total = 0): StageCount {
  return { done: 0, total, reused: 0 };
}

/**
 * The simulated entities every part of the simulator shares: jobs (job progression owns them), the
 * tasks they queue (dispatch moves them) and the pods that run them (the cluster owns those). Plain
 * records, so each part's state and rules live in its own module and not in these shapes.
 */
import type { QueueRole } from '../../common/names';
import type { Stage } from '../../common/progress';
import type { PoolConfig } from '../pools';
import type { SegmentShape, TraceJob } from '../trace';

/** One activity waiting for, or running on, a pod. */
export interface Task {
  job: Job;
  stage: Stage;
  segment: number;
  /** Work left, in seconds on a speed-1 pod. */
  work: number;
  queuedAt: number;
  /** Temporal priority key (1 first). */
  priority: number;
}

export interface Job {
  spec: TraceJob;
  index: number;
  shape: SegmentShape[];
  durations: Map<string, number[]>;
  deadline?: number;
  keyframesDone: number;
  /** Per segment: the phase being rendered (0 pass0, 1 pass1, 2 decode, 3 upscale, 4 encode, 5 done) and its tasks left. */
  phase: number[];
  left: number[];
  encoded: number;
  remaining: Partial<Record<QueueRole, number>>;
  done?: number;
}

export interface Pod {
  id: number;
  pool: PoolConfig;
  state: 'unschedulable' | 'starting' | 'ready' | 'draining';
  createdAt: number;
  billedFrom?: number;
  readyAt?: number;
  idleSince: number;
  task?: Task;
  taskStart: number;
  /** Bumped whenever the pod's scheduled events become stale. */
  epoch: number;
  removed: boolean;
}

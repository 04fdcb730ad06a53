/** What a simulation run reports: cost and use per pool, each job's outcome, and the summary figures. */
import type { Job } from './model';

export interface PoolUsage {
  pool: string;
  gpu: boolean;
  spot: boolean;
  /** Billed pod-hours (from getting a node to going away). */
  podHours: number;
  /** Pod-hours spent running activities (the rest is cold start and idling). */
  busyHours: number;
  cost: number;
  /** Pods that got a node (each paid a cold start). */
  coldStarts: number;
  preemptions: number;
  peakReplicas: number;
}

export interface JobOutcome {
  id: string;
  seconds: number;
  arrival: number;
  /** Completion time, seconds after the trace start; absent when it never finished. */
  done?: number;
  deadline?: number;
  met?: boolean;
}

export interface SimResult {
  policy: string;
  /** Cost of pools with GPUs. */
  gpuCost: number;
  /** Cost of all pools (GPU and CPU). */
  totalCost: number;
  jobs: number;
  finished: number;
  deadlineJobs: number;
  deadlinesMet: number;
  /** deadlinesMet / deadlineJobs (1 when no job has a deadline). */
  hitRate: number;
  /** Job latency (arrival to done), seconds. */
  latencyP50: number;
  latencyP95: number;
  /** Seconds of work redone because a pod went away mid-activity (since the last checkpoint). */
  lostWorkSeconds: number;
  /** When the run ended (all jobs done, and the arrival window over). Hours. */
  endHours: number;
  pools: PoolUsage[];
  outcomes: JobOutcome[];
}

/** What {@link summarize} reads from a finished run. */
export interface RunRecord {
  policy: string;
  /** Jobs in the trace (arrived or not). */
  jobs: number;
  /** Jobs that arrived, in arrival order. */
  arrived: Job[];
  finished: number;
  pools: PoolUsage[];
  lostWorkSeconds: number;
  /** When the run ended, seconds after the trace start; unfinished jobs count as waiting until then. */
  end: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i];
}

export function summarize(run: RunRecord): SimResult {
  const { arrived, end, pools } = run;
  const outcomes: JobOutcome[] = arrived.map((j) => ({
    id: j.spec.id,
    seconds: j.spec.seconds,
    arrival: j.spec.arrival,
    ...(j.done !== undefined ? { done: j.done } : {}),
    ...(j.deadline !== undefined
      ? { deadline: j.deadline, met: j.done !== undefined && j.done <= j.deadline }
      : {}),
  }));
  const latencies = arrived.map((j) => (j.done ?? end) - j.spec.arrival).sort((a, b) => a - b);
  const withDeadline = outcomes.filter((o) => o.deadline !== undefined);
  const met = withDeadline.filter((o) => o.met).length;
  return {
    policy: run.policy,
    gpuCost: pools.filter((p) => p.gpu).reduce((a, p) => a + p.cost, 0),
    totalCost: pools.reduce((a, p) => a + p.cost, 0),
    jobs: run.jobs,
    finished: run.finished,
    deadlineJobs: withDeadline.length,
    deadlinesMet: met,
    hitRate: withDeadline.length ? met / withDeadline.length : 1,
    latencyP50: percentile(latencies, 0.5),
    latencyP95: percentile(latencies, 0.95),
    lostWorkSeconds: run.lostWorkSeconds,
    endHours: end / 3600,
    pools,
    outcomes,
  };
}

/**
 * Every Prometheus metric vldm exports (prom-client), in three registries: Node's process metrics,
 * the workers' (activities, model calls, queue waits, artifact bytes, checkpoints, slots) and the
 * scaler's (rounds, decisions, replicas, price, deadline slack). A process serves its kind's at
 * `/metrics` (server.ts); the dashboard test (test/unit/observability-dashboard.test.ts) reads the
 * names from here, so a panel cannot name a metric nobody exports. docs/observability.md lists them.
 *
 * Label values are bounded on purpose: stage, queue, role, pool, outcome — never a job id, except the
 * scaler's per-job deadline slack, which holds only the running jobs with a deadline (reset each round).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Node's process metrics (CPU, memory, event-loop lag, GC), which every vldm process exports. */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry });
/** What a worker process exports besides (vldm_activities_*, vldm_model_*, vldm_worker_*, ...). */
export const workerRegistry = new Registry();
/** What the scaler exports besides (vldm_scaler_*): a worker does not show a price of 0. */
export const scalerRegistry = new Registry();

/** Seconds buckets from 10 ms to ~45 min (model calls on a CPU are seconds; upscale tiles minutes). */
const SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 2700];

// --- workers -------------------------------------------------------------------------------------

/** Stage of each activity type (the job plan's `counts` keys; `measure` is the pools' speed probe). */
export const ACTIVITY_STAGES: Record<string, string> = {
  prepareJob: 'prepare',
  generateKeyframes: 'keyframe',
  interpolate: 'interpolation',
  decode: 'decode',
  upscale: 'upscale',
  encodeSegment: 'encode',
  stitchJob: 'stitch',
  measureStage: 'measure',
};

export function stageOfActivity(activityType: string): string {
  return ACTIVITY_STAGES[activityType] ?? activityType;
}

/** outcome: completed (computed and stored), reused (the output was already stored), failed, cancelled. */
export const activitiesTotal = new Counter({
  name: 'vldm_activities_total',
  help: 'Activity attempts finished on this worker, by stage and outcome (completed, reused, failed, cancelled)',
  labelNames: ['stage', 'outcome'] as const,
  registers: [workerRegistry],
});

export const activitySeconds = new Histogram({
  name: 'vldm_activity_seconds',
  help: 'Wall time of one activity attempt on this worker, by stage and outcome',
  labelNames: ['stage', 'outcome'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [workerRegistry],
});

export const activityQueueWaitSeconds = new Histogram({
  name: 'vldm_activity_queue_wait_seconds',
  help: "Time from an activity attempt's scheduling to its start on this worker (Temporal's clock to this host's), by task queue",
  labelNames: ['queue'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [workerRegistry],
});

export const modelCallSeconds = new Histogram({
  name: 'vldm_model_call_seconds',
  help: 'Wall time of one model call (onnxruntime session run), by model role',
  labelNames: ['role'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [workerRegistry],
});

export const artifactBytesTotal = new Counter({
  name: 'vldm_artifact_bytes_total',
  help: 'Artifact bytes moved between this process and the artifact store, by direction (read, written)',
  labelNames: ['direction'] as const,
  registers: [workerRegistry],
});

export const checkpointSavesTotal = new Counter({
  name: 'vldm_checkpoint_saves_total',
  help: 'Sampling checkpoints written (mid-activity saves of x_t), by stage',
  labelNames: ['stage'] as const,
  registers: [workerRegistry],
});

export const checkpointResumesTotal = new Counter({
  name: 'vldm_checkpoint_resumes_total',
  help: 'Sampling loops resumed from a stored checkpoint instead of step 0, by stage',
  labelNames: ['stage'] as const,
  registers: [workerRegistry],
});

export const slotsUsed = new Gauge({
  name: 'vldm_worker_slots_used',
  help: 'Tasks running now on this process, by task queue (activities, or workflow activations on orchestration)',
  labelNames: ['queue'] as const,
  registers: [workerRegistry],
});

export const slotsMax = new Gauge({
  name: 'vldm_worker_slots',
  help: 'Tasks this process runs at once at most, by task queue (its concurrency)',
  labelNames: ['queue'] as const,
  registers: [workerRegistry],
});

export const modelsLoaded = new Gauge({
  name: 'vldm_worker_models_loaded',
  help: '1 once the models of the queues this process serves are loaded and warm',
  registers: [workerRegistry],
});

// --- scaler --------------------------------------------------------------------------------------

export const scalerRoundsTotal = new Counter({
  name: 'vldm_scaler_rounds_total',
  help: 'Scaler rounds, by result (decided, skipped: observation failed, follower: another replica leads)',
  labelNames: ['result'] as const,
  registers: [scalerRegistry],
});

export const scalerLeader = new Gauge({
  name: 'vldm_scaler_leader',
  help: '1 while this scaler replica holds the leader-election Lease (or runs without election)',
  registers: [scalerRegistry],
});

export const scalerScaleChangesTotal = new Counter({
  name: 'vldm_scaler_scale_changes_total',
  help: 'Replica changes the scaler applied, by pool and direction (up, down, failed)',
  labelNames: ['pool', 'direction'] as const,
  registers: [scalerRegistry],
});

export const scalerDesiredReplicas = new Gauge({
  name: 'vldm_scaler_desired_replicas',
  help: "Replicas the scaler's last decision asked for, by pool",
  labelNames: ['pool'] as const,
  registers: [scalerRegistry],
});

export const scalerCurrentReplicas = new Gauge({
  name: 'vldm_scaler_current_replicas',
  help: "Replicas of the pool's Deployment when the scaler last observed it, by pool",
  labelNames: ['pool'] as const,
  registers: [scalerRegistry],
});

export const scalerReadyReplicas = new Gauge({
  name: 'vldm_scaler_ready_replicas',
  help: 'Ready pods of the pool when the scaler last observed it, by pool',
  labelNames: ['pool'] as const,
  registers: [scalerRegistry],
});

export const scalerPricePerHour = new Gauge({
  name: 'vldm_scaler_price_per_hour',
  help: "Summed price per hour of every pool's replicas as last decided (the pools file's currency)",
  registers: [scalerRegistry],
});

export const scalerMaxPricePerHour = new Gauge({
  name: 'vldm_scaler_max_price_per_hour',
  help: "The pools file's maxPricePerHour cap",
  registers: [scalerRegistry],
});

export const scalerQueueBacklog = new Gauge({
  name: 'vldm_scaler_queue_backlog',
  help: "Tasks waiting in each task queue as the scaler last read them (Temporal's approximate backlog)",
  labelNames: ['queue'] as const,
  registers: [scalerRegistry],
});

export const scalerRunningJobs = new Gauge({
  name: 'vldm_scaler_running_jobs',
  help: 'Running jobs the scaler saw in its last round',
  registers: [scalerRegistry],
});

export const scalerDeadlineSlackSeconds = new Gauge({
  name: 'vldm_scaler_deadline_slack_seconds',
  help:
    "Per running job with a deadline: seconds to its deadline minus its remaining work at the pools' ready capacity " +
    '(negative: late unless capacity grows); reset every round',
  labelNames: ['job_id'] as const,
  registers: [scalerRegistry],
});

/** The registry a worker or the scaler serves at /metrics: its own metrics and the process's. */
export function registryFor(kind: 'worker' | 'scaler'): Registry {
  return Registry.merge([processRegistry, kind === 'worker' ? workerRegistry : scalerRegistry]);
}

/** Every metric vldm registers, in one registry (the dashboard test reads the names from it). */
export function allMetrics(): Registry {
  return Registry.merge([processRegistry, workerRegistry, scalerRegistry]);
}

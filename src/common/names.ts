/**
 * Names shared by every part of vldm: task queues, workflow ids, NATS subjects, artifact key layout.
 * Defined once here and imported everywhere, never repeated as literals. Pure: workflows import it.
 */

/** One task queue per stage/GPU role, so each worker pool loads only the models it serves. */
export const TASK_QUEUES = {
  /** Job and segment workflows (no models). */
  orchestration: 'vldm-orchestration',
  /** Keyframe chain: the prediction denoiser (GPU). */
  keyframe: 'vldm-keyframe',
  /** Temporal interpolation T→4T→16T (GPU). */
  interpolation: 'vldm-interpolation',
  /** Latent → pixel decoding with the temporal decoder (GPU). */
  decode: 'vldm-decode',
  /** Patchwise 4× super-resolution (GPU). */
  upscale: 'vldm-upscale',
  /** ffmpeg encoding and stitching (CPU). */
  media: 'vldm-media',
} as const;

export type QueueRole = keyof typeof TASK_QUEUES;
export const QUEUE_ROLES = Object.keys(TASK_QUEUES) as QueueRole[];

/** Workflow type names (the exported function names in workflows/). */
export const WORKFLOW_TYPES = {
  job: 'videoJobWorkflow',
  segment: 'segmentRenderWorkflow',
  chapter: 'chapterWorkflow',
} as const;

/** Readable workflow ids: the job id, and `<jobId>/segment-003` for its children. */
export function segmentWorkflowId(jobId: string, segment: number): string {
  return `${jobId}/segment-${String(segment).padStart(3, '0')}`;
}

/**
 * Workflow task timeout of job and segment workflows. Temporal's default (10 s) is meant for
 * workers with idle CPUs; a vldm worker may share its cores with model inference (the embedded
 * default runs everything in one process on 2 cores), where a workflow task can wait seconds for CPU.
 * A timed-out task is only retried, but each retry costs another wait: 60 s avoids the churn.
 */
export const WORKFLOW_TASK_TIMEOUT = '60 seconds';

/** Query and signal names. */
export const QUERIES = { progress: 'progress' } as const;

/** Workflow signal names: render outputs lent between segments (workflows/lending.ts), chapters' chains done (workflows/chapter.ts). */
export const SIGNALS = { lent: 'lent', chapterChainDone: 'chapterChainDone' } as const;

/** A chapter workflow's id: `<jobId>/chapter-NNN`. */
export function chapterWorkflowId(jobId: string, chapter: number): string {
  return `${jobId}/chapter-${String(chapter).padStart(3, '0')}`;
}

/** NATS subjects: per-job progress events and worker telemetry. */
export const SUBJECTS = {
  progress: (jobId: string) => `vldm.jobs.${jobId}.progress`,
  allProgress: 'vldm.jobs.*.progress',
  telemetry: 'vldm.workers.telemetry',
} as const;

/** Job ids name artifact prefixes and workflow ids, so they are restricted to a safe alphabet. */
export const JOB_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Every artifact of a job lives under `jobs/<jobId>/` (docs/artifacts.md). */
export function jobPrefix(jobId: string): string {
  return `jobs/${jobId}/`;
}

/** Default Temporal namespace and ports of the embedded default (dev servers on loopback). */
export const DEFAULTS = {
  namespace: 'default',
  temporalAddress: '127.0.0.1:7233',
  temporalUiPort: 8233,
  natsUrl: 'nats://127.0.0.1:4222',
  s3Endpoint: 'http://127.0.0.1:9000',
  s3Bucket: 'vldm',
} as const;

/**
 * Custom search attributes of job workflows, so jobs are findable in the Temporal UI
 * (`VldmJob = "day-7-…"`, `VldmDeadline < "2026-…"`). `vldm dev up` registers them with
 * CHILD_SEARCH_ATTRIBUTES; on a cluster run `temporal operator search-attribute create --name VldmJob
 * --type Keyword` and one such command for each of the others (docs/deploy.md).
 */
export const JOB_SEARCH_ATTRIBUTES = {
  VldmJob: 'Keyword',
  VldmScene: 'Keyword',
  VldmDeadline: 'Datetime',
} as const;

/**
 * Custom search attributes of a job's child workflows, beside `VldmJob` (their job's id):
 * `VldmJob = "…" AND VldmSegment = 3` finds one segment's rendering, `VldmChapter = 1` a chapter
 * (docs/observability.md#search-attributes).
 */
export const CHILD_SEARCH_ATTRIBUTES = {
  VldmSegment: 'Int',
  VldmChapter: 'Int',
} as const;

/** Every custom search attribute vldm sets: what `vldm dev up` registers and a cluster's namespace needs. */
export const SEARCH_ATTRIBUTES = { ...JOB_SEARCH_ATTRIBUTES, ...CHILD_SEARCH_ATTRIBUTES } as const;

/** NATS subject of the scaler's decisions (one JSON message per decision round, src/scaling/loop.ts). */
export const SCALER_DECISIONS_SUBJECT = 'vldm.scaler.decisions';

/**
 * The client side of a job: start it, follow it, cancel it, list jobs and read results, over a Temporal
 * connection. The job id is the workflow id; segments are child workflows `<jobId>/segment-NNN`.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import {
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type PayloadCodec,
  type SearchAttributePair,
} from '@temporalio/common';
import { dataConverterWith, payloadCodecFromEnv } from '../security';
import { TASK_QUEUES, WORKFLOW_TASK_TIMEOUT, WORKFLOW_TYPES, QUERIES } from '../common/names';
import { UserError } from '../common/errors';
import { SEARCH_ATTRIBUTE_KEYS } from '../common/search-attributes';
import { temporalTlsProblem } from '../config/tls';
import { temporalConnectOptions } from '../config/temporal-env';
import { clientTracing } from '../observability/tracing';
import { temporal } from '@temporalio/proto';
import type { JobSpec } from '../planning/spec';
import {
  STAGES,
  type JobProgress,
  type SegmentRenderProgress,
  type Stage,
  type StageCount,
} from '../common/progress';
import type { JobResult, JobRunOptions } from '../common/boundary';

/** How long to wait for the Temporal frontend before saying it is unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `payloadCodec` encrypts payloads (src/security); by default the one VLDM_CODEC_KEYS /
 * VLDM_CODEC_KEY_FILE configure, else none.
 */
export async function connectTemporal(
  address: string,
  namespace: string,
  opts: { payloadCodec?: PayloadCodec } = {},
): Promise<Client> {
  const dataConverter = dataConverterWith(opts.payloadCodec ?? payloadCodecFromEnv());
  let connection: Connection;
  // TLS, API key and gRPC metadata: vldm's variables and Temporal's conventions (src/config/temporal-env.ts).
  const connect = temporalConnectOptions();
  const { tls } = connect;
  try {
    connection = await Connection.connect({
      address,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...connect,
    });
  } catch (err) {
    // The gRPC error does not say why a TLS handshake failed; src/config/tls.ts finds out.
    const tlsProblem = await temporalTlsProblem(address, tls);
    throw new UserError(
      tlsProblem ??
        `cannot reach the Temporal server at ${address} (${(err as Error).message}); start one with "vldm dev up" or set VLDM_TEMPORAL_ADDRESS (or TEMPORAL_ADDRESS)`,
    );
  }
  // With tracing started (src/observability/tracing.ts), each job's trace starts here.
  const traced = clientTracing();
  return new Client({
    connection,
    namespace,
    ...(dataConverter ? { dataConverter } : {}),
    ...(traced.length ? { interceptors: { workflow: traced } } : {}),
  });
}

export interface StartedJob {
  jobId: string;
  runId: string;
  /** False when a run of the same job was already in progress and this call attached to it. */
  started: boolean;
}

/** The job's search attributes (src/common/names.ts JOB_SEARCH_ATTRIBUTES). */
function jobSearchAttributes(spec: JobSpec): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [
    { key: SEARCH_ATTRIBUTE_KEYS.VldmJob, value: spec.jobId },
    { key: SEARCH_ATTRIBUTE_KEYS.VldmScene, value: spec.scene },
  ];
  if (spec.deadline) pairs.push({ key: SEARCH_ATTRIBUTE_KEYS.VldmDeadline, value: new Date(spec.deadline) });
  return pairs;
}

let warnedNoSearchAttributes = false;

/**
 * Start the job workflow. The job id is derived from the spec, so the same spec is the same job: a
 * finished one may run again (reusing every verified artifact), a running one is attached to.
 */
export async function startJob(client: Client, spec: JobSpec, options?: JobRunOptions): Promise<StartedJob> {
  try {
    return await startJobWith(client, spec, jobSearchAttributes(spec), options);
  } catch (err) {
    // A namespace without vldm's search attributes still runs jobs; they are just less findable.
    if (!/search attribute|SearchAttribute/i.test(describeFailure(err))) throw err;
    if (!warnedNoSearchAttributes) {
      warnedNoSearchAttributes = true;
      process.stderr.write(
        `vldm: the namespace has no VldmJob/VldmScene/VldmDeadline search attributes; starting without them (see docs/deploy.md)\n`,
      );
    }
    return startJobWith(client, spec, [], options);
  }
}

async function startJobWith(
  client: Client,
  spec: JobSpec,
  searchAttributes: SearchAttributePair[],
  options?: JobRunOptions,
): Promise<StartedJob> {
  let handle;
  try {
    handle = await client.workflow.start(WORKFLOW_TYPES.job, {
      ...(searchAttributes.length ? { typedSearchAttributes: searchAttributes } : {}),
      // The run options travel only when given, so ordinary jobs start exactly as before.
      args: options ? [spec, options] : [spec],
      taskQueue: TASK_QUEUES.orchestration,
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      workflowId: spec.jobId,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      // FAIL, not USE_EXISTING: the SDK does not say whether USE_EXISTING started a run, and callers
      // (`vldm submit` prints "already running:") need to know; the error below is how we learn it.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      memo: {
        seconds: spec.seconds,
        fps: spec.fps,
        scene: spec.scene,
        traffic: spec.traffic,
        seed: spec.seed,
        pack: spec.pack,
        ...(spec.deadline ? { deadline: spec.deadline } : {}),
        // Key and sha256 only: the image itself stays in the artifact store.
        ...(spec.initImage ? { initImage: spec.initImage } : {}),
        // The store the job's artifacts go to (an identity, never a credential): shown by `vldm list`
        // and compared when another client attaches to the run.
        ...(spec.fleet?.store ? { store: spec.fleet.store } : {}),
      },
      staticSummary: `vldm job ${spec.name}: ${spec.seconds}s ${spec.scene}/${spec.traffic} seed ${spec.seed}${spec.initImage ? ` from init image ${spec.initImage.sha256.slice(0, 12)}` : ''}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // A run of this job is in progress: attach to it (a resubmission never starts a second run),
    // unless it writes to another store than ours: we would wait for artifacts we can never read.
    const running = await client.workflow.getHandle(spec.jobId).describe();
    const theirs = running.memo?.store;
    const ours = spec.fleet?.store;
    if (typeof theirs === 'string' && ours !== undefined && theirs !== ours)
      throw new UserError(
        `job ${spec.jobId} is already running with store ${theirs}, not ${ours}: wait for it to finish, ` +
          `cancel it ("vldm cancel ${spec.jobId}"), or give this run another --name or --job-id`,
      );
    return { jobId: spec.jobId, runId: running.runId, started: false };
  }
  return { jobId: spec.jobId, runId: handle.firstExecutionRunId, started: true };
}

function notFound(jobId: string): UserError {
  return new UserError(`no job "${jobId}" on this Temporal server (see "vldm list")`);
}

export interface JobStatus {
  jobId: string;
  status: string;
  startTime?: string;
  closeTime?: string;
  progress?: JobProgress;
  segments?: SegmentRenderProgress[];
  /** The job's stage counters plus those of its segments still rendering. */
  stages?: Record<Stage, StageCount>;
  result?: JobResult;
  error?: string;
  /**
   * With Worker Versioning (docs/deploy.md): the Worker Deployment version the job runs on, and whether
   * it is pinned there (vldm's versioned workers pin every job). Absent for unversioned workers.
   */
  version?: { deploymentName: string; buildId: string; pinned: boolean };
}

/** Describe a job and query its progress (and its running segments' progress). */
export async function jobStatus(client: Client, jobId: string): Promise<JobStatus> {
  const handle = client.workflow.getHandle(jobId);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(jobId);
    throw err;
  }
  const out: JobStatus = {
    jobId,
    status: desc.status.name,
    startTime: desc.startTime.toISOString(),
    ...(desc.closeTime ? { closeTime: desc.closeTime.toISOString() } : {}),
  };
  const versioning = desc.raw.workflowExecutionInfo?.versioningInfo;
  const version = versioning?.deploymentVersion;
  if (version?.buildId) {
    out.version = {
      deploymentName: version.deploymentName ?? '',
      buildId: version.buildId,
      pinned: versioning?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
    };
  }
  try {
    out.progress = await handle.query<JobProgress>(QUERIES.progress);
  } catch {
    // A job whose worker is gone cannot answer queries; the status above still stands.
  }
  if (out.progress) {
    const running = out.progress.segments.filter((s) => s.state === 'rendering');
    out.segments = (
      await Promise.all(
        running.map((s) =>
          client.workflow
            .getHandle(s.workflowId)
            .query<SegmentRenderProgress>(QUERIES.progress)
            .catch(() => undefined),
        ),
      )
    ).filter((p): p is SegmentRenderProgress => p !== undefined);
    const stages = {} as Record<Stage, StageCount>;
    for (const stage of STAGES) {
      const c = { ...out.progress.stages[stage] };
      for (const seg of out.segments) {
        const sc = (seg.stages as Partial<Record<Stage, StageCount>>)[stage];
        if (sc) {
          c.done = Math.min(c.total, c.done + sc.done);
          c.reused += sc.reused;
        }
      }
      stages[stage] = c;
    }
    out.stages = stages;
  }
  if (desc.status.name === 'COMPLETED') out.result = (await handle.result()) as JobResult;
  if (desc.status.name === 'FAILED') {
    try {
      await handle.result();
    } catch (err) {
      out.error = describeFailure(err);
    }
  }
  return out;
}

/** The innermost cause of a failed job, which names the stage and what went wrong. */
export function describeFailure(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  while (e instanceof Error) {
    parts.push(e.message);
    e = (e as Error & { cause?: unknown }).cause;
  }
  return parts.filter((p, i) => p && parts.indexOf(p) === i).join(': ');
}

export async function waitForJob(client: Client, jobId: string): Promise<JobResult> {
  return (await client.workflow.getHandle(jobId).result()) as JobResult;
}

export async function cancelJob(client: Client, jobId: string): Promise<void> {
  try {
    await client.workflow.getHandle(jobId).cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(jobId);
    throw err;
  }
}

export interface JobListing {
  jobId: string;
  status: string;
  startTime: string;
  closeTime?: string;
  summary?: Record<string, unknown>;
}

export async function listJobs(client: Client, limit = 50): Promise<JobListing[]> {
  const query = `WorkflowType = '${WORKFLOW_TYPES.job}'`;
  const out: JobListing[] = [];
  try {
    for await (const w of client.workflow.list({ query })) {
      out.push({
        jobId: w.workflowId,
        status: w.status.name,
        startTime: w.startTime.toISOString(),
        ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
        ...(w.memo ? { summary: w.memo } : {}),
      });
      if (out.length >= limit) break;
    }
    return out;
  } catch (err) {
    // A memo this client cannot decode (a job encrypted with a key it lacks) must not hide the list:
    // list again from the raw service, without memos.
    if (!/encoding|decrypt|key id/i.test((err as Error).message)) throw err;
    const resp = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: limit,
    });
    return resp.executions.map((e) => ({
      jobId: e.execution?.workflowId ?? '',
      status: workflowStatusName(e.status),
      startTime: timestampIso(e.startTime) ?? '',
      ...(e.closeTime ? { closeTime: timestampIso(e.closeTime) } : {}),
    }));
  }
}

function timestampIso(
  t: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined,
): string | undefined {
  if (!t) return undefined;
  const s = typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0);
  return new Date(s * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

const STATUS_NAMES = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
];
function workflowStatusName(status: number | null | undefined): string {
  return STATUS_NAMES[status ?? 0] ?? 'UNKNOWN';
}

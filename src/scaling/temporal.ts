/**
 * What the scaler reads from Temporal: per task queue the backlog statistics (DescribeTaskQueue in
 * enhanced mode with stats: approximate backlog count and age, add and dispatch rates), and per
 * running job its deadline (from the job workflow's memo), its start and how many activities of each
 * queue it still has to run (its progress query, plus its running segments'), and which activities
 * are running now (the pending activities of the job and segment workflows).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUES, WORKFLOW_TYPES, QUERIES, type QueueRole } from '../common/names';
import { STAGES, type JobProgress, type SegmentRenderProgress, type Stage } from '../common/progress';
import { STAGE_QUEUE, type JobObservation, type QueueObservation } from './decide';

const TaskQueueType = temporal.api.enums.v1.TaskQueueType;
const PendingActivityState = temporal.api.enums.v1.PendingActivityState;

/** A query to a job whose orchestration worker is down would wait for one; the scaler does not. */
const QUERY_TIMEOUT_MS = 3_000;
/** Running workflows described per round, at most (each round lists them afresh). */
const MAX_WORKFLOWS = 500;
/** Describe and query calls in flight at once. */
const CONCURRENCY = 8;

type Long = { toNumber(): number } | number | null | undefined;
const num = (x: Long): number =>
  x === null || x === undefined ? 0 : typeof x === 'number' ? x : x.toNumber();
const seconds = (d: { seconds?: Long; nanos?: number | null } | null | undefined): number =>
  d ? num(d.seconds) + (d.nanos ?? 0) / 1e9 : 0;

const ROLE_OF_QUEUE = new Map<string, QueueRole>(
  Object.entries(TASK_QUEUES).map(([role, name]) => [name, role as QueueRole]),
);

interface TypeStats {
  approximateBacklogCount?: Long;
  approximateBacklogAge?: { seconds?: Long; nanos?: number | null } | null;
  tasksAddRate?: number | null;
  tasksDispatchRate?: number | null;
}

/**
 * Backlog statistics of one task queue, workflow and activity tasks together, over every build id.
 * Enhanced mode is what the server (Temporal CLI 1.5.1) reports stats in; a server that
 * answers it without per-version info is asked again in the default mode, which carries `stats` too.
 */
export async function describeQueue(
  client: Client,
  namespace: string,
  role: QueueRole,
): Promise<Omit<QueueObservation, 'running'>> {
  const taskQueue = {
    name: TASK_QUEUES[role],
    kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
  };
  const types = [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY];
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue,
    apiMode: temporal.api.enums.v1.DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
    taskQueueTypes: types,
    reportStats: true,
    reportPollers: false,
  });
  const stats: TypeStats[] = [];
  for (const version of Object.values(res.versionsInfo ?? {})) {
    for (const t of Object.values(version.typesInfo ?? {})) if (t.stats) stats.push(t.stats);
  }
  if (stats.length === 0) {
    for (const taskQueueType of types) {
      const r = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue,
        taskQueueType,
        reportStats: true,
      });
      if (r.stats) stats.push(r.stats);
    }
  }
  return {
    backlog: stats.reduce((a, s) => a + num(s.approximateBacklogCount), 0),
    backlogAgeSeconds: stats.reduce((a, s) => Math.max(a, seconds(s.approximateBacklogAge)), 0),
    addRate: stats.reduce((a, s) => a + (s.tasksAddRate ?? 0), 0),
    dispatchRate: stats.reduce((a, s) => a + (s.tasksDispatchRate ?? 0), 0),
  };
}

/** Run `fn` over `items`, at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

export interface TemporalObservation {
  queues: Partial<Record<QueueRole, QueueObservation>>;
  jobs: JobObservation[];
}

interface RunningWorkflow {
  workflowId: string;
  type: string;
  startTime: Date;
  memo?: Record<string, unknown>;
}

/** Read everything the decision needs from Temporal, for the given queues. */
export async function observeTemporal(
  client: Client,
  namespace: string,
  roles: QueueRole[],
): Promise<TemporalObservation> {
  const stats = await Promise.all(roles.map((r) => describeQueue(client, namespace, r)));

  const workflows: RunningWorkflow[] = [];
  const query = `ExecutionStatus = 'Running' AND (WorkflowType = '${WORKFLOW_TYPES.job}' OR WorkflowType = '${WORKFLOW_TYPES.segment}')`;
  for await (const w of client.workflow.list({ query })) {
    workflows.push({
      workflowId: w.workflowId,
      type: w.type,
      startTime: w.startTime,
      ...(w.memo ? { memo: w.memo } : {}),
    });
    if (workflows.length >= MAX_WORKFLOWS) break;
  }

  // Running activities, by the queue each was scheduled on.
  const running = new Map<QueueRole, number>();
  // Progress of jobs and segments, for the work they have left.
  const jobProgress = new Map<string, JobProgress>();
  const segmentDone = new Map<string, Partial<Record<Stage, number>>>();
  await pool(workflows, CONCURRENCY, async (w) => {
    const handle = client.workflow.getHandle(w.workflowId);
    try {
      const desc = await handle.describe();
      for (const a of desc.raw.pendingActivities ?? []) {
        if (a.state !== PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) continue;
        const role = ROLE_OF_QUEUE.get(a.activityOptions?.taskQueue?.name ?? '');
        if (role) running.set(role, (running.get(role) ?? 0) + 1);
      }
    } catch {
      // Closed between list and describe: nothing of it is running any more.
      return;
    }
    try {
      const progress = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
        handle.query<unknown>(QUERIES.progress),
      );
      if (w.type === WORKFLOW_TYPES.job) jobProgress.set(w.workflowId, progress as JobProgress);
      else {
        const jobId = typeof w.memo?.jobId === 'string' ? w.memo.jobId : w.workflowId.split('/')[0];
        const done = segmentDone.get(jobId) ?? {};
        for (const [stage, c] of Object.entries((progress as SegmentRenderProgress).stages))
          done[stage as Stage] = (done[stage as Stage] ?? 0) + c.done;
        segmentDone.set(jobId, done);
      }
    } catch {
      // No orchestration worker to answer: the job's remaining work is unknown; its queued tasks
      // still count, as tasks no job accounts for.
    }
  });

  const queues: Partial<Record<QueueRole, QueueObservation>> = {};
  roles.forEach((r, i) => (queues[r] = { ...stats[i], running: running.get(r) ?? 0 }));

  const jobs: JobObservation[] = workflows
    .filter((w) => w.type === WORKFLOW_TYPES.job)
    .map((w) => {
      const deadline = typeof w.memo?.deadline === 'string' ? Date.parse(w.memo.deadline) : NaN;
      const progress = jobProgress.get(w.workflowId);
      let remaining: Partial<Record<QueueRole, number>> | undefined;
      if (progress) {
        remaining = {};
        const seg = segmentDone.get(w.workflowId) ?? {};
        for (const stage of STAGES) {
          const c = progress.stages[stage];
          const left = Math.max(0, c.total - c.done - (seg[stage] ?? 0));
          if (left > 0) remaining[STAGE_QUEUE[stage]] = (remaining[STAGE_QUEUE[stage]] ?? 0) + left;
        }
      }
      return {
        jobId: w.workflowId,
        startedAt: w.startTime.getTime() / 1000,
        ...(Number.isFinite(deadline) ? { deadline: deadline / 1000 } : {}),
        ...(remaining ? { remaining } : {}),
      };
    });
  return { queues, jobs };
}

/**
 * A job's run report, read from Temporal alone (`vldm report`, docs/observability.md#run-report):
 * the histories of the job and its child workflows (segments, chapters), plus the pending activities
 * of those still running, become one row per activity — which worker ran it and when, how long it
 * waited in its queue, how many attempts it took — and from those: time per stage, queue waits,
 * retries and what they cost, busy time per worker, and the run's cost when a pools file gives prices.
 *
 * What Temporal records bounds what is known: an activity's history holds its first scheduling and
 * its last attempt's start and end, so the time an activity spent on earlier attempts (their runs,
 * backoff and waits) is `retrySeconds`: from its scheduling to its last attempt's start, less one
 * queue wait (the stage's median).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';
import { TASK_QUEUES, type QueueRole } from '../common/names';
import type { PoolsConfig } from '../scaling/pools';
import { stageOfActivity } from './metrics';
import { criticalPath, type CriticalPath } from './critical-path';
import { median as medianOrNaN } from '../common/stats';

/** The report shows 0, not NaN, for a stage with no timed attempts. */
const median = (xs: number[]) => (xs.length ? medianOrNaN(xs) : 0);

export type ActivityOutcome =
  'completed' | 'reused' | 'failed' | 'timed-out' | 'cancelled' | 'running' | 'scheduled';

export interface ActivityRow {
  workflowId: string;
  activityId: string;
  type: string;
  stage: string;
  queue: string;
  /** The identity of the worker that ran (or runs) its last attempt, e.g. `1234@host`. */
  worker?: string;
  attempt: number;
  outcome: ActivityOutcome;
  /** Seconds since the job started. */
  scheduled: number;
  started?: number;
  ended?: number;
  /** Scheduled → last attempt started (includes earlier attempts when attempt > 1). */
  waitSeconds?: number;
  runSeconds?: number;
  /** Lane within its worker (activities that overlapped in time on one worker get different lanes). */
  lane?: number;
  /** Artifact keys its input reads, when the input is plain JSON (critical-path.ts links on them). */
  reads?: string[];
  /** The artifact key its result names, when the result is plain JSON. */
  wrote?: string;
}

export interface StageSummary {
  stage: string;
  activities: number;
  reused: number;
  runSeconds: number;
  medianRunSeconds: number;
  queueWaitSeconds: number;
  medianQueueWaitSeconds: number;
  retries: number;
  retrySeconds: number;
  cost?: number;
}

export interface WorkerSummary {
  worker: string;
  activities: number;
  busySeconds: number;
  lanes: number;
  first: number;
  last: number;
  stages: string[];
}

export interface RunReport {
  jobId: string;
  status: string;
  /** ISO time the job workflow started. */
  startTime: string;
  closeTime?: string;
  /** Start → close, or → now for a running job. */
  wallSeconds: number;
  workflows: number;
  activities: ActivityRow[];
  stages: StageSummary[];
  workers: WorkerSummary[];
  retries: Array<
    Pick<ActivityRow, 'workflowId' | 'activityId' | 'type' | 'attempt' | 'worker'> & { retrySeconds: number }
  >;
  totals: {
    activities: number;
    runSeconds: number;
    queueWaitSeconds: number;
    retries: number;
    retrySeconds: number;
  };
  /** Present when a pools file gave prices: busy activity-seconds priced at the cheapest pool of each queue. */
  cost?: {
    total: number;
    currencyNote: string;
    byQueue: Record<string, { pool: string; pricePerHour: number; cost: number }>;
  };
  /** The job's spec and result summary, from the job workflow's memo (as `vldm list` shows it). */
  summary?: Record<string, unknown>;
  /** The chain of activities that determined the job's end (critical-path.ts); absent before any ran. */
  criticalPath?: CriticalPath;
}

type Ts = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const at = (t: Ts): number =>
  t ? (typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0)) + (t.nanos ?? 0) / 1e9 : 0;
const round = (x: number) => Math.round(x * 1000) / 1000;

/** A payload's value when it is plain JSON (not encrypted, not binary). */
function plainJson(p: temporal.api.common.v1.IPayload | null | undefined): unknown {
  if (!p?.data) return undefined;
  const enc = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : '';
  if (enc !== 'json/plain') return undefined;
  try {
    return JSON.parse(Buffer.from(p.data).toString()) as unknown;
  } catch {
    return undefined;
  }
}

/** `reused` and the written key from a StageOutput result. */
function resultOf(payloads: temporal.api.common.v1.IPayloads | null | undefined): {
  reused: boolean;
  wrote?: string;
} {
  const v = plainJson(payloads?.payloads?.[0]) as { reused?: unknown; key?: unknown } | undefined;
  return {
    reused: v?.reused === true,
    ...(typeof v?.key === 'string' ? { wrote: v.key } : {}),
  };
}

/**
 * The artifact keys an activity input reads (src/common/boundary.ts): every `key` of its sources,
 * previous keyframes and tiles, its `clips` and `initFrame`. The spec is skipped: its init image is
 * the client's upload, not an activity's output.
 */
function readsOf(payloads: temporal.api.common.v1.IPayloads | null | undefined): string[] | undefined {
  const input = plainJson(payloads?.payloads?.[0]);
  if (input === undefined) return undefined;
  const keys = new Set<string>();
  const walk = (v: unknown, name: string): void => {
    if (name === 'spec' || v === null || typeof v !== 'object') {
      if (typeof v === 'string' && (name === 'key' || name === 'initFrame' || name === 'clips')) keys.add(v);
      return;
    }
    if (Array.isArray(v)) for (const x of v) walk(x, name);
    else for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(input, '');
  return [...keys];
}

/** One history's activities (times absolute, seconds since the epoch) and the children it started. */
function readHistory(
  workflowId: string,
  events: temporal.api.history.v1.IHistoryEvent[],
): { rows: ActivityRow[]; children: string[] } {
  const rows = new Map<number, ActivityRow>();
  const children: string[] = [];
  for (const e of events) {
    const id = Number(e.eventId);
    const t = at(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const type = s.activityType?.name ?? '?';
      const reads = readsOf(s.input);
      rows.set(id, {
        workflowId,
        activityId: s.activityId ?? String(id),
        type,
        stage: stageOfActivity(type),
        queue: s.taskQueue?.name ?? '?',
        attempt: 1,
        outcome: 'scheduled',
        scheduled: t,
        ...(reads?.length ? { reads } : {}),
      });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const r = rows.get(Number(st.scheduledEventId));
      if (r) {
        r.started = t;
        r.attempt = st.attempt ?? 1;
        if (st.identity) r.worker = st.identity;
      }
    }
    const close = (sid: unknown, outcome: ActivityOutcome, wrote?: string) => {
      const r = rows.get(Number(sid));
      if (r) {
        r.ended = t;
        r.outcome = outcome;
        if (wrote) r.wrote = wrote;
      }
    };
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const result = resultOf(done.result);
      close(done.scheduledEventId, result.reused ? 'reused' : 'completed', result.wrote);
    }
    if (e.activityTaskFailedEventAttributes)
      close(e.activityTaskFailedEventAttributes.scheduledEventId, 'failed');
    if (e.activityTaskTimedOutEventAttributes)
      close(e.activityTaskTimedOutEventAttributes.scheduledEventId, 'timed-out');
    if (e.activityTaskCanceledEventAttributes)
      close(e.activityTaskCanceledEventAttributes.scheduledEventId, 'cancelled');
    const child = e.childWorkflowExecutionStartedEventAttributes;
    if (child?.workflowExecution?.workflowId) children.push(child.workflowExecution.workflowId);
  }
  return { rows: [...rows.values()], children };
}

/** Put each worker's activities in lanes: an activity takes the lowest lane free when it started. */
function assignLanes(rows: ActivityRow[]): void {
  const byWorker = new Map<string, ActivityRow[]>();
  for (const r of rows)
    if (r.worker && r.started !== undefined) byWorker.set(r.worker, [...(byWorker.get(r.worker) ?? []), r]);
  for (const list of byWorker.values()) {
    const laneEnds: number[] = [];
    for (const r of list.sort((a, b) => a.started! - b.started!)) {
      let lane = laneEnds.findIndex((end) => end <= r.started!);
      if (lane < 0) lane = laneEnds.push(0) - 1;
      laneEnds[lane] = r.ended ?? Number.POSITIVE_INFINITY;
      r.lane = lane;
    }
  }
}

const ROLE_OF_QUEUE = new Map<string, QueueRole>(
  Object.entries(TASK_QUEUES).map(([r, q]) => [q, r as QueueRole]),
);

/** Build the report from activity rows (pure: the unit tests feed it rows directly). */
export function analyse(
  base: Omit<RunReport, 'stages' | 'workers' | 'retries' | 'totals' | 'cost' | 'activities' | 'criticalPath'>,
  rows: ActivityRow[],
  pools?: PoolsConfig,
): RunReport {
  assignLanes(rows);
  const stagesSeen = [...new Set(rows.map((r) => r.stage))];
  const medianWait = new Map<string, number>();
  for (const stage of stagesSeen) {
    const firstAttempts = rows.filter(
      (r) => r.stage === stage && r.attempt === 1 && r.waitSeconds !== undefined,
    );
    medianWait.set(stage, median(firstAttempts.map((r) => r.waitSeconds!)));
  }
  const retrySecondsOf = (r: ActivityRow) =>
    r.attempt > 1 && r.waitSeconds !== undefined
      ? Math.max(0, r.waitSeconds - (medianWait.get(r.stage) ?? 0))
      : 0;
  // Cost: each queue's cheapest pool per activity slot (price per hour ÷ activities per pod).
  let cost: RunReport['cost'];
  const slotPrice = new Map<string, { pool: string; pricePerHour: number; perSlotHour: number }>();
  if (pools) {
    for (const p of pools.pools)
      for (const q of p.queues) {
        const perSlotHour = p.pricePerHour / Math.max(1, p.activitiesPerPod) / Math.max(1e-9, p.speedFactor);
        const cur = slotPrice.get(TASK_QUEUES[q]);
        if (!cur || perSlotHour < cur.perSlotHour)
          slotPrice.set(TASK_QUEUES[q], { pool: p.name, pricePerHour: p.pricePerHour, perSlotHour });
      }
    cost = { total: 0, currencyNote: "the pools file's currency", byQueue: {} };
  }
  const costOf = (r: ActivityRow) => {
    const price = slotPrice.get(r.queue);
    return price && r.runSeconds !== undefined ? (r.runSeconds / 3600) * price.perSlotHour : 0;
  };
  const stages: StageSummary[] = stagesSeen.map((stage) => {
    const list = rows.filter((r) => r.stage === stage);
    const runs = list.filter((r) => r.runSeconds !== undefined).map((r) => r.runSeconds!);
    const waits = list
      .filter((r) => r.attempt === 1 && r.waitSeconds !== undefined)
      .map((r) => r.waitSeconds!);
    const s: StageSummary = {
      stage,
      activities: list.length,
      reused: list.filter((r) => r.outcome === 'reused').length,
      runSeconds: round(runs.reduce((a, b) => a + b, 0)),
      medianRunSeconds: round(median(runs)),
      queueWaitSeconds: round(waits.reduce((a, b) => a + b, 0)),
      medianQueueWaitSeconds: round(median(waits)),
      retries: list.reduce((a, r) => a + Math.max(0, r.attempt - 1), 0),
      retrySeconds: round(list.reduce((a, r) => a + retrySecondsOf(r), 0)),
    };
    if (cost) s.cost = round(list.reduce((a, r) => a + costOf(r), 0) * 1e4) / 1e4;
    return s;
  });
  if (cost) {
    for (const r of rows) {
      const price = slotPrice.get(r.queue);
      if (!price) continue;
      const role = ROLE_OF_QUEUE.get(r.queue) ?? r.queue;
      const entry = (cost.byQueue[role] ??= { pool: price.pool, pricePerHour: price.pricePerHour, cost: 0 });
      entry.cost += costOf(r);
    }
    for (const v of Object.values(cost.byQueue)) v.cost = round(v.cost * 1e4) / 1e4;
    cost.total = round(Object.values(cost.byQueue).reduce((a, v) => a + v.cost, 0) * 1e4) / 1e4;
  }
  const workers: WorkerSummary[] = [...new Set(rows.map((r) => r.worker).filter((w): w is string => !!w))]
    .sort()
    .map((worker) => {
      const list = rows.filter((r) => r.worker === worker && r.started !== undefined);
      return {
        worker,
        activities: list.length,
        busySeconds: round(list.reduce((a, r) => a + (r.runSeconds ?? 0), 0)),
        lanes: Math.max(0, ...list.map((r) => (r.lane ?? 0) + 1)),
        first: round(Math.min(...list.map((r) => r.started!))),
        last: round(Math.max(...list.map((r) => r.ended ?? r.started!))),
        stages: [...new Set(list.map((r) => r.stage))],
      };
    });
  const retries = rows
    .filter((r) => r.attempt > 1)
    .map((r) => ({
      workflowId: r.workflowId,
      activityId: r.activityId,
      type: r.type,
      attempt: r.attempt,
      ...(r.worker ? { worker: r.worker } : {}),
      retrySeconds: round(retrySecondsOf(r)),
    }));
  const path = criticalPath(rows, base.wallSeconds);
  return {
    ...base,
    activities: rows,
    stages,
    workers,
    retries,
    totals: {
      activities: rows.length,
      runSeconds: round(stages.reduce((a, s) => a + s.runSeconds, 0)),
      queueWaitSeconds: round(stages.reduce((a, s) => a + s.queueWaitSeconds, 0)),
      retries: stages.reduce((a, s) => a + s.retries, 0),
      retrySeconds: round(stages.reduce((a, s) => a + s.retrySeconds, 0)),
    },
    ...(cost ? { cost } : {}),
    ...(path ? { criticalPath: path } : {}),
  };
}

/** Read the job's workflows from Temporal and build its report (finished or still running). */
export async function buildRunReport(client: Client, jobId: string, pools?: PoolsConfig): Promise<RunReport> {
  let jobDesc;
  try {
    jobDesc = await client.workflow.getHandle(jobId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UserError(`no job ${quote(jobId)} on this Temporal server (see "vldm list")`);
    throw err;
  }
  const t0 = jobDesc.startTime.getTime() / 1000;
  const rows: ActivityRow[] = [];
  const queue = [jobId];
  const seen = new Set<string>();
  const now = Date.now() / 1000;
  while (queue.length) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const handle = client.workflow.getHandle(id);
    const history = await handle.fetchHistory();
    const { rows: found, children } = readHistory(id, history.events ?? []);
    queue.push(...children);
    const desc = id === jobId ? jobDesc : await handle.describe();
    // A running activity has no Started event yet: the pending list says which worker runs it.
    for (const p of desc.raw.pendingActivities ?? []) {
      const r = found.find((x) => x.activityId === p.activityId && x.ended === undefined);
      if (!r) continue;
      r.attempt = p.attempt ?? r.attempt;
      if (p.lastWorkerIdentity) r.worker = p.lastWorkerIdentity;
      if (p.lastStartedTime && at(p.lastStartedTime) >= r.scheduled) {
        r.started = at(p.lastStartedTime);
        r.outcome = 'running';
        r.ended = now;
      }
    }
    rows.push(...found);
  }
  for (const r of rows) {
    r.scheduled = round(r.scheduled - t0);
    if (r.started !== undefined) {
      r.started = round(r.started - t0);
      r.waitSeconds = round(Math.max(0, r.started - r.scheduled));
    }
    if (r.ended !== undefined) {
      r.ended = round(r.ended - t0);
      if (r.started !== undefined) r.runSeconds = round(Math.max(0, r.ended - r.started));
    }
  }
  rows.sort((a, b) => a.scheduled - b.scheduled);
  const closeTime = jobDesc.closeTime;
  return analyse(
    {
      jobId,
      status: jobDesc.status.name,
      startTime: jobDesc.startTime.toISOString(),
      ...(closeTime ? { closeTime: closeTime.toISOString() } : {}),
      wallSeconds: round((closeTime ? closeTime.getTime() / 1000 : now) - t0),
      workflows: seen.size,
      ...(jobDesc.memo ? { summary: jobDesc.memo as Record<string, unknown> } : {}),
    },
    rows,
    pools,
  );
}

/** The report as text lines (the CLI's default output). */
export function reportText(r: RunReport): string[] {
  const s = (x: number) => `${x.toFixed(1)} s`;
  const lines = [
    `job ${r.jobId}: ${r.status}, ${s(r.wallSeconds)} wall, ${r.workflows} workflow(s), ${r.totals.activities} activities`,
    `activity time ${s(r.totals.runSeconds)}, queue waits ${s(r.totals.queueWaitSeconds)}, retries ${r.totals.retries} (${s(r.totals.retrySeconds)})`,
    '',
    'stage          n  reused   run total  run median  wait total  wait median  retries' +
      (r.cost ? '      cost' : ''),
  ];
  for (const st of r.stages)
    lines.push(
      `${st.stage.padEnd(12)} ${String(st.activities).padStart(3)} ${String(st.reused).padStart(7)} ${s(st.runSeconds).padStart(11)} ${s(st.medianRunSeconds).padStart(11)} ${s(st.queueWaitSeconds).padStart(11)} ${s(st.medianQueueWaitSeconds).padStart(12)} ${String(st.retries).padStart(8)}` +
        (st.cost !== undefined ? ` ${st.cost.toFixed(4).padStart(9)}` : ''),
    );
  lines.push('', 'worker                               activities   busy      lanes  stages');
  for (const w of r.workers)
    lines.push(
      `${w.worker.padEnd(36)} ${String(w.activities).padStart(10)} ${s(w.busySeconds).padStart(9)} ${String(w.lanes).padStart(6)}  ${w.stages.join(',')}`,
    );
  if (r.criticalPath) {
    const c = r.criticalPath;
    lines.push(
      '',
      `critical path: ${c.steps.length} activities, ${s(c.totalSeconds)} (running ${s(c.runSeconds)}, idle ${s(c.idleSeconds)}), ${r.closeTime ? `then ${s(c.tailSeconds)} to the job's close` : 'the job still runs'}`,
      '  idle before    start      end    run  stage          activity',
    );
    for (const x of c.steps)
      lines.push(
        `  ${s(x.gapSeconds).padStart(11)} ${s(x.started).padStart(8)} ${s(x.ended).padStart(8)} ${s(x.runSeconds).padStart(6)}  ${x.stage.padEnd(14)} ${x.workflowId} ${x.type} #${x.activityId}`,
      );
  }
  if (r.retries.length) {
    lines.push('', 'retried activities:');
    for (const x of r.retries)
      lines.push(
        `  ${x.workflowId} ${x.type} #${x.activityId}: attempt ${x.attempt}, ~${s(x.retrySeconds)} lost to earlier attempts`,
      );
  }
  if (r.cost) {
    lines.push(
      '',
      `cost (busy activity time at the cheapest pool per queue, ${r.cost.currencyNote}): ${r.cost.total.toFixed(4)}`,
    );
    for (const [q, c] of Object.entries(r.cost.byQueue))
      lines.push(`  ${q.padEnd(14)} ${c.cost.toFixed(4)} (pool ${c.pool}, ${c.pricePerHour}/h)`);
  }
  return lines;
}

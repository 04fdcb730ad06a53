/**
 * `vldm scaler measure <jobId>`: the seconds each activity of a finished job took, from the Temporal
 * histories of the job and its segment workflows (started → completed of each attempt that
 * completed), per activity type (median, mean, range) and per task queue (the activity types'
 * medians weighted by their counts), so `secondsPerActivity` in the pools file is a measurement of
 * the operator's own GPUs and pack rather than a guess.
 */
import type { Client } from '@temporalio/client';
import { TASK_QUEUES, type QueueRole } from '../common/names';
import { UserError } from '../common/errors';
import { median } from '../common/stats';

export interface ActivityTiming {
  activity: string;
  queue: QueueRole | string;
  count: number;
  medianSeconds: number;
  meanSeconds: number;
  minSeconds: number;
  maxSeconds: number;
}

export interface Measurement {
  jobId: string;
  workflows: number;
  activities: ActivityTiming[];
  /** Seconds per activity of each queue, ready for the pools file's secondsPerActivity. */
  secondsPerActivity: Partial<Record<QueueRole, number>>;
}

const ROLE_OF_QUEUE = new Map<string, QueueRole>(
  Object.entries(TASK_QUEUES).map(([role, name]) => [name, role as QueueRole]),
);

type Ts = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const at = (t: Ts) =>
  t ? (typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0)) + (t.nanos ?? 0) / 1e9 : 0;

const round = (x: number) => Math.round(x * 1000) / 1000;

export async function measureJob(client: Client, jobId: string): Promise<Measurement> {
  const ids: string[] = [];
  // The job and its segments (`<jobId>/segment-NNN`); the query escapes nothing because job ids are
  // restricted to [a-z0-9-] (JOB_ID_PATTERN).
  for await (const w of client.workflow.list({
    query: `WorkflowId = '${jobId}' OR WorkflowId STARTS_WITH '${jobId}/'`,
  }))
    ids.push(w.workflowId);
  if (!ids.includes(jobId))
    throw new UserError(`no job "${jobId}" on this Temporal server (see "vldm list")`);
  const samples = new Map<string, { queue: string; seconds: number[] }>();
  for (const id of ids) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<number, { type: string; queue: string }>();
    const started = new Map<number, number>();
    for (const e of history.events ?? []) {
      const eventId = Number(e.eventId);
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(eventId, { type: s.activityType?.name ?? '?', queue: s.taskQueue?.name ?? '?' });
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.set(Number(st.scheduledEventId), at(e.eventTime));
      const done = e.activityTaskCompletedEventAttributes;
      if (done) {
        const sid = Number(done.scheduledEventId);
        const info = scheduled.get(sid);
        const t0 = started.get(sid);
        if (!info || t0 === undefined) continue;
        const entry = samples.get(info.type) ?? { queue: info.queue, seconds: [] };
        entry.seconds.push(at(e.eventTime) - t0);
        samples.set(info.type, entry);
      }
    }
  }
  const activities: ActivityTiming[] = [...samples.entries()]
    .map(([activity, { queue, seconds }]) => ({
      activity,
      queue: ROLE_OF_QUEUE.get(queue) ?? queue,
      count: seconds.length,
      medianSeconds: round(median(seconds)),
      meanSeconds: round(seconds.reduce((a, b) => a + b, 0) / seconds.length),
      minSeconds: round(Math.min(...seconds)),
      maxSeconds: round(Math.max(...seconds)),
    }))
    .sort((a, b) => String(a.queue).localeCompare(String(b.queue)) || a.activity.localeCompare(b.activity));
  // Per queue: the typical duration of each activity type (its median, which a busy machine's
  // stragglers do not drag up), weighted by how many of each the queue ran.
  const byQueue = new Map<QueueRole, { n: number; seconds: number }>();
  for (const a of activities) {
    const role = ROLE_OF_QUEUE.get(TASK_QUEUES[a.queue as QueueRole] ?? '');
    if (!role) continue;
    const acc = byQueue.get(role) ?? { n: 0, seconds: 0 };
    byQueue.set(role, { n: acc.n + a.count, seconds: acc.seconds + a.count * a.medianSeconds });
  }
  const secondsPerActivity: Partial<Record<QueueRole, number>> = {};
  for (const [role, { n, seconds }] of byQueue) secondsPerActivity[role] = round(seconds / n);
  return { jobId, workflows: ids.length, activities, secondsPerActivity };
}

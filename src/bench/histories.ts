/**
 * What a benchmark reads from one workflow's Temporal history: the most activities and children
 * pending at once (Temporal's limits are per workflow), and the dispatch delays of the orchestration:
 * an activity's scheduled → started, and an activity's completion → the next activity its workflow
 * scheduled because of it (the workflow task round trip). Pure: the bench fetches the histories.
 */
import type { temporal } from '@temporalio/proto';

type Event = temporal.api.history.v1.IHistoryEvent;
type Ts = Event['eventTime'];

/** Epoch ms of an event time. */
export function eventMs(t: Ts): number {
  if (!t) return 0;
  const s = t.seconds;
  const seconds = typeof s === 'number' ? s : s ? Number(s.toString()) : 0;
  return seconds * 1000 + (t.nanos ?? 0) / 1e6;
}

export interface HistoryFacts {
  maxPendingActivities: number;
  maxPendingChildren: number;
  /** Per activity attempt that started: ms from scheduled to started. */
  scheduledToStartedMs: number[];
  /**
   * Per workflow task that scheduled activities after an activity completed: ms from that completion
   * to the first activity the task scheduled.
   */
  completedToNextScheduledMs: number[];
  /**
   * Attempts beyond the first, summed over activities, and the activities that needed them (a killed
   * worker's task is retried after its heartbeat or start-to-close timeout; the history records only the
   * attempt that closed the activity, with its attempt number).
   */
  retries: number;
  retriedActivities: number;
  /** Activity id → its scheduled, started, completed times (epoch ms). */
  activities: Map<string, { type: string; scheduledMs: number; startedMs?: number; closedMs?: number }>;
}

const ACTIVITY_CLOSED = [
  'activityTaskCompletedEventAttributes',
  'activityTaskFailedEventAttributes',
  'activityTaskTimedOutEventAttributes',
  'activityTaskCanceledEventAttributes',
] as const;
const CHILD_CLOSED = [
  'childWorkflowExecutionCompletedEventAttributes',
  'childWorkflowExecutionFailedEventAttributes',
  'childWorkflowExecutionCanceledEventAttributes',
  'childWorkflowExecutionTimedOutEventAttributes',
  'childWorkflowExecutionTerminatedEventAttributes',
  'startChildWorkflowExecutionFailedEventAttributes',
] as const;

export function historyFacts(events: readonly Event[]): HistoryFacts {
  let pendingActivities = 0;
  let pendingChildren = 0;
  const facts: HistoryFacts = {
    maxPendingActivities: 0,
    maxPendingChildren: 0,
    scheduledToStartedMs: [],
    completedToNextScheduledMs: [],
    retries: 0,
    retriedActivities: 0,
    activities: new Map(),
  };
  const byScheduledId = new Map<number, string>();
  // The earliest activity completion since the last workflow task completed: what the next task reacts to.
  let firstCompletionMs: number | undefined;
  let reactingToMs: number | undefined;
  let measuredTask = -1;
  for (const e of events) {
    const id = Number(e.eventId);
    const t = eventMs(e.eventTime);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      pendingActivities += 1;
      facts.maxPendingActivities = Math.max(facts.maxPendingActivities, pendingActivities);
      const activityId = scheduled.activityId ?? String(id);
      byScheduledId.set(id, activityId);
      facts.activities.set(activityId, { type: scheduled.activityType?.name ?? '?', scheduledMs: t });
      const task = Number(scheduled.workflowTaskCompletedEventId);
      if (reactingToMs !== undefined && task !== measuredTask) {
        facts.completedToNextScheduledMs.push(t - reactingToMs);
        measuredTask = task;
      }
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const attempt = Number(started.attempt ?? 1);
      if (attempt > 1) {
        facts.retries += attempt - 1;
        facts.retriedActivities += 1;
      }
      const a = facts.activities.get(byScheduledId.get(Number(started.scheduledEventId)) ?? '');
      if (a) {
        a.startedMs = t;
        facts.scheduledToStartedMs.push(t - a.scheduledMs);
      }
    }
    for (const key of ACTIVITY_CLOSED) {
      const closed = e[key];
      if (!closed) continue;
      pendingActivities -= 1;
      const a = facts.activities.get(byScheduledId.get(Number(closed.scheduledEventId)) ?? '');
      if (a) a.closedMs = t;
      if (key === 'activityTaskCompletedEventAttributes') firstCompletionMs ??= t;
    }
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) {
      pendingChildren += 1;
      facts.maxPendingChildren = Math.max(facts.maxPendingChildren, pendingChildren);
    }
    for (const key of CHILD_CLOSED) if (e[key]) pendingChildren -= 1;
    if (e.workflowTaskStartedEventAttributes) {
      // This task sees every completion since the last one: it reacts to the earliest.
      reactingToMs = firstCompletionMs;
      firstCompletionMs = undefined;
    }
  }
  return facts;
}

/** The q-quantile (0…1) of `xs`, by nearest rank; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

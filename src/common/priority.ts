/**
 * Task priorities from deadlines. Temporal's task queues dispatch first in, first out; a job with a
 * near deadline would wait behind every tile of the jobs started before it. Each GPU and media
 * activity is therefore scheduled with a Temporal priority key (1 is dispatched first; tasks of equal
 * key stay in order) from the time its job has left when the activity is scheduled: the nearer the
 * deadline, the lower the key. Jobs without a deadline get the last key: they use what deadlines
 * leave.
 *
 * One function for the workflows (which schedule with it), the scaler's decision (which predicts the
 * order tasks are dispatched in) and the simulator (which dispatches by it). Deterministic: the
 * workflows call it with workflow time.
 *
 * Temporal Server 1.29 honours priority keys only with the dynamic config `matching.useNewMatcher`
 * set to true (the dev server vldm starts sets it; docs/deploy.md says so for a cluster). A server
 * without it ignores the keys and dispatches first in, first out: jobs still finish, in FIFO order.
 */

/** Upper bounds, in seconds left to the deadline, of keys 1, 2, 3; beyond the last: key 4. */
export const PRIORITY_BOUNDS_SECONDS: readonly number[] = [600, 1800, 3600];

/** The key of work without a deadline: after every deadline. Temporal's default range is 1–5. */
export const NO_DEADLINE_PRIORITY = PRIORITY_BOUNDS_SECONDS.length + 2;

/** Temporal's key for tasks scheduled without one (its default: the middle of 1–5). */
export const TEMPORAL_DEFAULT_PRIORITY = 3;

/**
 * The priority key of a job's next task: from the seconds left to its deadline at `nowSeconds`
 * (both epoch seconds), or the last key when it has none. A deadline already past gets key 1.
 */
export function deadlinePriority(deadlineSeconds: number | undefined, nowSeconds: number): number {
  if (deadlineSeconds === undefined || !Number.isFinite(deadlineSeconds)) return NO_DEADLINE_PRIORITY;
  const left = deadlineSeconds - nowSeconds;
  const i = PRIORITY_BOUNDS_SECONDS.findIndex((b) => left <= b);
  return i === -1 ? PRIORITY_BOUNDS_SECONDS.length + 1 : i + 1;
}

/** The same from a job spec's ISO 8601 deadline and a time in epoch milliseconds (workflow time). */
export function specPriority(deadline: string | undefined, nowMs: number): number {
  return deadlinePriority(deadline === undefined ? undefined : Date.parse(deadline) / 1000, nowMs / 1000);
}

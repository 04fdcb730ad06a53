/**
 * A test workflow (test/integration/priority.test.ts): schedules one `record` activity per deadline,
 * all at once, with the priority the job workflows give a job with that deadline (workflows/proxies.ts
 * `priorityNow`), on a task queue nobody polls yet. The test then starts a worker that runs one at a
 * time and sees the order Temporal dispatches them in.
 */
import { proxyActivities } from '@temporalio/workflow';
import { priorityNow } from '../../../workflows/proxies';

export interface PriorityProbeInput {
  taskQueue: string;
  /** ISO 8601 deadlines; null for a job without one. */
  deadlines: Array<string | null>;
}

export async function priorityProbe(input: PriorityProbeInput): Promise<void> {
  const { record } = proxyActivities<{ record(index: number): Promise<void> }>({
    taskQueue: input.taskQueue,
    startToCloseTimeout: '1 minute',
  });
  await Promise.all(
    input.deadlines.map((d, i) =>
      record.executeWithOptions({ priority: priorityNow(d ?? undefined), summary: `deadline ${d}` }, [i]),
    ),
  );
}

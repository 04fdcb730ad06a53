/**
 * Task priorities against the real Temporal dev server as vldm starts it (src/dev/server-specs.ts:
 * `matching.useNewMatcher`): activities scheduled by the job workflows' priority rule
 * (src/common/priority.ts via workflows/proxies.ts) are dispatched nearest deadline first, first in
 * first out within a key, whatever order they were scheduled in. This is what lets the scaler meet
 * deadlines without warm pools (docs/scaling.md).
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specPriority } from '../../src/common/priority';
import { testServers } from '../support/servers';
import type { PriorityProbeInput } from '../support/workflows/priority-probe';

const RUN = `${process.pid}-${Date.now().toString(36)}`;

describe('task priorities on the real Temporal server', () => {
  let address: string;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    const servers = await testServers({ kinds: ['temporal'] });
    address = servers.temporal?.address as string;
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await connection?.close();
  });

  it('dispatches the nearest deadline first, whatever order the tasks were scheduled in', async () => {
    const now = Date.now();
    const at = (minutes: number) => new Date(now + minutes * 60_000).toISOString();
    // Scheduled in this order: no deadline first, the most urgent last.
    const deadlines: PriorityProbeInput['deadlines'] = [
      null,
      at(240),
      null,
      at(45),
      at(20),
      at(240),
      at(5),
      at(4),
    ];
    const keys = deadlines.map((d) => specPriority(d ?? undefined, now));
    expect(new Set(keys).size).toBe(5); // every key of the rule is exercised

    const workflowQueue = `priority-wf-${RUN}`;
    const activityQueue = `priority-act-${RUN}`;
    const native = await NativeConnection.connect({ address });
    const workflowWorker = await Worker.create({
      connection: native,
      taskQueue: workflowQueue,
      workflowsPath: path.join(__dirname, '../support/workflows/priority-probe.ts'),
    });
    const order: number[] = [];
    await workflowWorker.runUntil(async () => {
      const handle = await client.workflow.start('priorityProbe', {
        taskQueue: workflowQueue,
        workflowId: `priority-probe-${RUN}`,
        args: [{ taskQueue: activityQueue, deadlines } satisfies PriorityProbeInput],
      });
      // Wait until every activity is scheduled (and so queued) before anything polls their queue.
      const until = Date.now() + 60_000;
      for (;;) {
        const d = await handle.describe();
        const pending =
          (
            await client.workflowService.describeWorkflowExecution({
              namespace: 'default',
              execution: { workflowId: d.workflowId, runId: d.runId },
            })
          ).pendingActivities?.length ?? 0;
        if (pending === deadlines.length) break;
        if (Date.now() > until)
          throw new Error(`only ${pending} of ${deadlines.length} activities scheduled`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const activityWorker = await Worker.create({
        connection: native,
        taskQueue: activityQueue,
        maxConcurrentActivityTaskExecutions: 1,
        activities: {
          async record(index: number) {
            order.push(index);
          },
        },
      });
      await activityWorker.runUntil(handle.result());
    });
    await native.close();

    expect(order).toHaveLength(deadlines.length);
    const dispatchedKeys = order.map((i) => keys[i]);
    // Nearest deadline first: keys never go down. (Within a key the order is first in, first out,
    // but tasks scheduled by one workflow task reach the matcher in no fixed order.)
    expect(dispatchedKeys).toEqual([...keys].sort((a, b) => a - b));
    // Not merely scheduled order: the first scheduled (no deadline) went last.
    expect(order[0]).not.toBe(0);
    expect(order.slice(-2).sort()).toEqual([0, 2]);
  });
});

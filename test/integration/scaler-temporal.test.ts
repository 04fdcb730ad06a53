/**
 * The scaler's Temporal reader against the real Temporal test server: work nobody polls shows up as
 * backlog in DescribeTaskQueue's enhanced-mode stats, the jobs' memo deadlines and (when an
 * orchestration worker answers the progress query) their remaining work per queue are read, and the
 * decision function, fed that observation, scales up the pool of the queue with the backlog.
 * Everything runs in a namespace of its own, so other test files' workflows do not count.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJob } from '../../src/client/jobs';
import { NullEventBus } from '../../src/events';
import { createStore } from '../../src/storage';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import type { JobSpec } from '../../src/planning/spec';
import { decide } from '../../src/scaling/decide';
import { parsePoolsConfig } from '../../src/scaling/pools';
import { observeTemporal, type TemporalObservation } from '../../src/scaling/temporal';
import { CONTRACT_PACK } from '../support/pipeline';
import { testServers } from '../support/servers';
import { registerTestNamespace } from '../support/temporal-namespace';

/** A pool with no pods at all. */
const idle = { replicas: 0, ready: 0, pending: 0, unschedulable: 0, oldestUnschedulableSeconds: 0 };

const NAMESPACE = `scaler-${process.pid}-${Date.now().toString(36)}`;

const pools = parsePoolsConfig({
  maxPricePerHour: 50,
  secondsPerActivity: { orchestration: 0.05, media: 7 },
  pools: [
    {
      name: 'orchestration',
      deployment: 'vldm-orchestration',
      queues: ['orchestration'],
      gpusPerPod: 0,
      spot: false,
      pricePerHour: 0.1,
      coldStartSeconds: 20,
      maxReplicas: 2,
    },
    {
      name: 'media',
      deployment: 'vldm-media',
      queues: ['media'],
      gpusPerPod: 0,
      spot: false,
      pricePerHour: 0.1,
      coldStartSeconds: 20,
      maxReplicas: 4,
    },
  ],
});

function spec(jobId: string, deadline: string): JobSpec {
  return {
    jobId,
    name: jobId,
    seconds: 2,
    fps: 24,
    scene: 'day',
    traffic: 'clear',
    seed: 1,
    pack: CONTRACT_PACK,
    deadline,
  };
}

/** Backlog statistics are eventually consistent: read until `ok` holds or the time is up. */
async function observeUntil(
  client: Client,
  ok: (o: TemporalObservation) => boolean,
  roles = pools.pools.flatMap((p) => p.queues),
): Promise<TemporalObservation> {
  const until = Date.now() + 30_000;
  for (;;) {
    const o = await observeTemporal(client, NAMESPACE, roles);
    if (ok(o) || Date.now() > until) return o;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('scaler: reading Temporal', () => {
  let address: string;
  let connection: Connection;
  let client: Client;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    const servers = await testServers({ kinds: ['temporal'] });
    address = servers.temporal?.address as string;
    connection = await Connection.connect({ address });
    client = await registerTestNamespace(connection, NAMESPACE);
  });

  afterAll(async () => {
    await workers?.shutdown();
    await connection?.close();
  });

  it('sees workflow tasks nobody polls as backlog, with the jobs and their deadlines, and scales that pool up', async () => {
    const deadline = new Date(Date.now() + 3_600_000);
    for (const id of ['backlog-a', 'backlog-b', 'backlog-c'])
      await startJob(client, spec(id, deadline.toISOString()));

    const o = await observeUntil(client, (x) => (x.queues.orchestration?.backlog ?? 0) >= 3);
    expect(o.queues.orchestration?.backlog).toBe(3);
    expect(o.queues.orchestration?.backlogAgeSeconds).toBeGreaterThan(0);
    expect(o.queues.orchestration?.running).toBe(0);
    expect(o.queues.media?.backlog).toBe(0);
    expect(o.jobs.map((j) => j.jobId).sort()).toEqual(['backlog-a', 'backlog-b', 'backlog-c']);
    for (const j of o.jobs) {
      expect(j.deadline).toBeCloseTo(deadline.getTime() / 1000, 0);
      // No orchestration worker answers the progress query: what is left is unknown.
      expect(j.remaining).toBeUndefined();
    }

    const d = decide({
      now: Date.now() / 1000,
      config: pools,
      queues: o.queues,
      jobs: o.jobs,
      pools: { orchestration: idle, media: idle },
    });
    const orchestration = d.pools.find((p) => p.pool === 'orchestration');
    expect(orchestration?.replicas).toBeGreaterThanOrEqual(1);
    expect(orchestration?.reason).toMatch(/0 → [12]: .*orchestration: 3 queued, 0 running/);
    expect(d.pools.find((p) => p.pool === 'media')?.replicas).toBe(0);

    // Terminated jobs leave the job list at once; their workflow tasks may stay counted in the backlog
    // until a poller discards them (Temporal: the count "may count expired tasks"), which is why tasks
    // no job accounts for still get a pod: it is what drains them.
    for (const id of ['backlog-a', 'backlog-b', 'backlog-c'])
      await client.workflow.getHandle(id).terminate('scaler test done');
    const after = await observeUntil(client, (x) => x.jobs.length === 0);
    expect(after.jobs).toEqual([]);
  });

  it("reads a running job's remaining work from its progress, and its activity waiting on a queue without workers", async () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'vldm-scaler-test-'));
    // Only the orchestration worker: the job's first activity (prepareJob, media queue) waits.
    workers = await startWorkers({
      temporalAddress: address,
      namespace: NAMESPACE,
      queues: ['orchestration'],
      store: createStore({ kind: 'local', root: path.join(scratch, 'artifacts') }),
      events: new NullEventBus(),
      scratchDir: scratch,
    });
    const deadline = new Date(Date.now() + 1_800_000);
    await startJob(client, spec('progress-a', deadline.toISOString()));

    const o = await observeUntil(
      client,
      (x) => (x.queues.media?.backlog ?? 0) >= 1 && x.jobs[0]?.remaining !== undefined,
    );
    expect(o.queues.media?.backlog).toBe(1);
    expect(o.queues.media?.running).toBe(0);
    expect(o.jobs).toHaveLength(1);
    // Before prepareJob the plan is not made: the one activity the job knows of is prepare (media).
    expect(o.jobs[0].remaining).toEqual({ media: 1 });
    expect(o.jobs[0].deadline).toBeCloseTo(deadline.getTime() / 1000, 0);
    // The job workflow scheduled it with the priority of a job due within 30 minutes (key 2), so it
    // would overtake work of later deadlines queued before it (test/integration/priority.test.ts).
    const history = await client.workflow.getHandle('progress-a').fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual([
      'prepareJob',
    ]);
    expect(scheduled[0].activityTaskScheduledEventAttributes?.priority?.priorityKey).toBe(2);

    const d = decide({
      now: Date.now() / 1000,
      config: pools,
      queues: o.queues,
      jobs: o.jobs,
      pools: { orchestration: { ...idle, replicas: 1, ready: 1 }, media: idle },
    });
    const media = d.pools.find((p) => p.pool === 'media');
    expect(media?.replicas).toBe(1);
    expect(media?.reason).toMatch(/media: 1 queued, 0 running, 1 left in 1 job\(s\)/);
    await client.workflow.getHandle('progress-a').terminate('scaler test done');
  });
});

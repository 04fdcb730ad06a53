/**
 * Load: 50 small jobs submitted at once to one Temporal server (the shared test dev server) served by a
 * handful of `vldm worker --queues all` processes on MinIO. Every job finishes, once (no lost job, no
 * second run of one, a resubmission of a running job joins it), each MP4 has the bytes of the same job
 * run alone (each job first runs by itself on its own fleet and bucket, so nothing is reused between the
 * two), and task priorities still order them: the jobs submitted last but with a near deadline finish
 * before the ones without a deadline submitted first (src/common/priority.ts).
 *
 * Not part of `npm test` (about 15 minutes on 2 cores): run it with
 *   npx tsc -p . && npx vitest run --config test/load/vitest.config.ts
 * VLDM_LOAD_JOBS and VLDM_LOAD_WORKERS change the counts (50 and 3). It prints one `[load] {...}` line
 * per phase with wall time, the Temporal server's, the workers' and the host's CPU; docs/reliability.md
 * records a run.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { compileJob, type JobFlags } from '../../src/cli/edge';
import { connectTemporal, jobStatus, startJob, waitForJob } from '../../src/client/jobs';
import type { DevServerAddresses } from '../../src/dev/servers';
import { hostCpuSeconds, processCpuSeconds } from '../../src/host/cpu';
import type { JobSpec } from '../../src/planning/spec';
import { WORKFLOW_TYPES } from '../../src/common/names';
import type { S3ArtifactStore } from '../../src/storage/s3';
import { CONTRACT_PACK, s3Env, testS3Store } from '../support/pipeline';
import { WorkerFleet, fleetArgs, verifyBucket } from '../support/chaos';
import { testServers, testStateDir } from '../support/servers';

const JOBS = Number(process.env.VLDM_LOAD_JOBS ?? 50);
const WORKERS = Number(process.env.VLDM_LOAD_WORKERS ?? 3);
const RUN = Date.now().toString(36);
const ALONE_BUCKET = 'vldm-load-alone';
const CROWD_BUCKET = 'vldm-load-crowd';
/** Near enough that its priority key beats no deadline, far enough to be accepted and met. */
const DEADLINE_MINUTES = 45;

interface LoadJob {
  index: number;
  /** The second half is submitted last, with a deadline: it must still finish first. */
  urgent: boolean;
  flags: JobFlags;
}

/** 1-second jobs (one segment each) of the contract pack, every one a different spec. */
const jobs: LoadJob[] = Array.from({ length: JOBS }, (_, index) => ({
  index,
  urgent: index >= JOBS / 2,
  flags: {
    seconds: '1',
    scene: index % 2 ? 'night' : 'day',
    traffic: index % 3 ? 'clear' : 'crowded',
    seed: String(1000 + index),
    name: `load-${RUN}-${index}`,
  },
}));

let servers: DevServerAddresses;
let client: Client;
const fleets: WorkerFleet[] = [];
const aloneBytes = new Map<number, string>();

interface Usage {
  wallSeconds: number;
  temporalCores: number;
  workerCores: number;
  hostCores: number;
}

function temporalPid(): number {
  return Number(readFileSync(path.join(testStateDir(), 'temporal.pid'), 'utf8').trim());
}

/** Runs `during` and reports the cores the Temporal server, the workers and the host used meanwhile. */
async function measured<T>(
  fleet: WorkerFleet,
  during: () => Promise<T>,
): Promise<{ value: T; usage: Usage }> {
  const pid = temporalPid();
  const workerCpu = () => fleet.live().reduce((a, w) => a + processCpuSeconds(w.child.pid as number), 0);
  const t0 = Date.now();
  const [temporal0, workers0, host0] = [processCpuSeconds(pid), workerCpu(), hostCpuSeconds()];
  const value = await during();
  const wall = (Date.now() - t0) / 1000;
  const host1 = hostCpuSeconds();
  const usage = {
    wallSeconds: Math.round(wall * 10) / 10,
    temporalCores: Math.round(((processCpuSeconds(pid) - temporal0) / wall) * 100) / 100,
    workerCores: Math.round(((workerCpu() - workers0) / wall) * 100) / 100,
    hostCores: Math.round(((host1.busy - host0.busy) / wall) * 100) / 100,
  };
  return { value, usage };
}

async function startFleet(bucket: string): Promise<WorkerFleet> {
  await (testS3Store(servers, bucket) as S3ArtifactStore).ensureBucket();
  const fleet = new WorkerFleet(
    fleetArgs(servers, { pack: CONTRACT_PACK, bucket, graceSeconds: 2 }),
    s3Env(servers),
  );
  fleets.push(fleet);
  await Promise.all(Array.from({ length: WORKERS }, () => fleet.start()));
  return fleet;
}

async function mp4Sha(bucket: string, key: string): Promise<string> {
  const store = testS3Store(servers, bucket);
  try {
    return createHash('sha256')
      .update(await store.get(key))
      .digest('hex');
  } finally {
    await store.close?.();
  }
}

async function specOf(job: LoadJob, deadline?: string): Promise<JobSpec> {
  const { spec } = await compileJob({ ...job.flags, ...(deadline ? { deadline } : {}) }, CONTRACT_PACK);
  return spec;
}

beforeAll(async () => {
  servers = await testServers();
  client = await connectTemporal(servers.temporal!.address, servers.temporal!.namespace);
});

afterAll(async () => {
  await client?.connection.close();
  for (const f of fleets) await f.stopAll();
});

describe(`${JOBS} jobs at once on ${WORKERS} worker processes`, () => {
  it('each job run alone first, one after another, on its own fleet and bucket', async () => {
    const fleet = await startFleet(ALONE_BUCKET);
    const { usage } = await measured(fleet, async () => {
      for (const job of jobs) {
        // The same spec (deadline aside, which only orders tasks) as in the crowd below.
        const spec = await specOf({ ...job, flags: { ...job.flags, jobId: `${job.flags.name}-alone` } });
        await startJob(client, spec);
        const result = await waitForJob(client, spec.jobId);
        aloneBytes.set(job.index, await mp4Sha(ALONE_BUCKET, result.outputKey));
      }
    });
    console.log(`[load] ${JSON.stringify({ phase: 'alone', jobs: JOBS, workers: WORKERS, ...usage })}`);
    await fleet.stopAll();
    expect(aloneBytes.size).toBe(JOBS);
  });

  it('all submitted at once: every one finishes once, with the bytes it has alone, urgent ones first', async () => {
    const fleet = await startFleet(CROWD_BUCKET);
    const deadline = new Date(Date.now() + DEADLINE_MINUTES * 60_000).toISOString();
    const specs = await Promise.all(jobs.map((j) => specOf(j, j.urgent ? deadline : undefined)));
    const finished = new Map<number, { at: number; sha: string; runId?: string }>();
    const { usage } = await measured(fleet, async () => {
      // Submission order: the jobs without a deadline first, then the urgent ones, all at once.
      const started = await Promise.all(specs.map((s) => startJob(client, s)));
      // A resubmission of running jobs joins them (USE_EXISTING) instead of starting a second run.
      const again = await Promise.all(specs.slice(0, 5).map((s) => startJob(client, s)));
      for (let i = 0; i < again.length; i++) {
        expect(again[i].started).toBe(false);
        expect(again[i].runId).toBe(started[i].runId);
      }
      await Promise.all(
        specs.map(async (s, i) => {
          const result = await waitForJob(client, s.jobId);
          finished.set(i, { at: Date.now(), sha: await mp4Sha(CROWD_BUCKET, result.outputKey) });
        }),
      );
    });
    // Every job closed Completed, as one run (no retry of a whole job, no second run under its id).
    for (const s of specs) {
      const status = await jobStatus(client, s.jobId);
      expect(status.status, s.jobId).toBe('COMPLETED');
    }
    const runs = new Map<string, number>();
    for await (const w of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPES.job}'` })) {
      if (specs.some((s) => s.jobId === w.workflowId))
        runs.set(w.workflowId, (runs.get(w.workflowId) ?? 0) + 1);
    }
    expect([...runs.values()].every((n) => n === 1) && runs.size === JOBS).toBe(true);
    // Same bytes as alone.
    const differing = jobs.filter((j) => finished.get(j.index)?.sha !== aloneBytes.get(j.index));
    expect(differing.map((j) => j.flags.name)).toEqual([]);
    // Priorities: the urgent half (submitted last) finishes before the rest, by median.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const t0 = Math.min(...[...finished.values()].map((f) => f.at));
    const urgent = median(jobs.filter((j) => j.urgent).map((j) => finished.get(j.index)!.at - t0));
    const relaxed = median(jobs.filter((j) => !j.urgent).map((j) => finished.get(j.index)!.at - t0));
    const check = await verifyBucket(servers, CROWD_BUCKET, 'artifacts/');
    console.log(
      `[load] ${JSON.stringify({
        phase: 'at-once',
        jobs: JOBS,
        workers: WORKERS,
        ...usage,
        medianFinishSeconds: { urgent: urgent / 1000, noDeadline: relaxed / 1000 },
        objects: check.objects,
        bytes: check.bytes,
      })}`,
    );
    expect(check.bad).toEqual([]);
    expect(urgent).toBeLessThan(relaxed);
  });
});

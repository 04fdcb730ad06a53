/**
 * Chaos: the servers a job depends on go away mid-job and come back. The Temporal dev server (its
 * SQLite database kept) is stopped and restarted; MinIO, the artifact store, is down for 20 s; NATS
 * is down for a whole job. Each time the job must complete with the bytes of an undisturbed run of the
 * same spec, every stored artifact must verify against its checksum, and what was recomputed and how
 * long recovery took is measured. Workers are `vldm worker` processes, restarted if one exits (as a
 * Deployment would). Every server stopped here is started again, also when a test fails.
 *
 * Reproduce: npx tsc -p . && npx vitest run test/integration/chaos-servers.test.ts
 * (the measured numbers are printed as `[chaos] {...}` lines)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServerAddresses } from '../../src/dev/servers';
import { compileJob } from '../../src/cli/edge';
import { connectTemporal, startJob } from '../../src/client/jobs';
import { testServers } from '../support/servers';
import { CONTRACT_PACK, s3Env } from '../support/pipeline';
import { runCli } from '../support/cli';
import {
  EventRecord,
  WorkerFleet,
  fleetArgs,
  runJob,
  serverArgs,
  sleep,
  verifyBucket,
  waitForJobThroughOutages,
  withServersStopped,
  type JobRun,
} from '../support/chaos';

const BUCKET = 'vldm-chaos-servers';
// 5 s with the contract test pack: 3 segments, 56 stage activities.
const job = { seconds: '5', scene: 'night', traffic: 'clear', seed: '33' };

let servers: DevServerAddresses;
let fleet: WorkerFleet;
let common: string[];
let env: NodeJS.ProcessEnv;
let client: Awaited<ReturnType<typeof connectTemporal>>;
let reference: JobRun;

beforeAll(async () => {
  servers = await testServers();
  common = serverArgs(servers, CONTRACT_PACK);
  env = s3Env(servers);
  fleet = new WorkerFleet(fleetArgs(servers, { pack: CONTRACT_PACK, bucket: BUCKET, graceSeconds: 2 }), env, {
    supervise: true,
  });
  await Promise.all([fleet.start(), fleet.start()]);
  client = await connectTemporal(servers.temporal!.address, servers.temporal!.namespace);
  reference = await runJob(
    client,
    { ...job, name: `chaos-srv-ref-${process.pid}` },
    CONTRACT_PACK,
    servers.nats!.url,
  );
}, 300_000);

afterAll(async () => {
  await client?.connection.close();
  await fleet?.stopAll();
});

/** Starts the job, waits until `progress` activities are done, runs `damage`, and waits for the end. */
async function disturbedRun(
  name: string,
  progress: number,
  damage: () => Promise<{ downSeconds: number; restartSeconds: number }>,
) {
  const { spec, plan } = await compileJob({ ...job, name: `${name}-${process.pid}` }, CONTRACT_PACK);
  const events = await EventRecord.start(servers.nats!.url, spec.jobId);
  const t0 = Date.now();
  try {
    await startJob(client, spec);
    await events.until(() => events.completed() >= progress);
    const doneBefore = events.completed();
    const outage = await damage();
    const back = Date.now();
    const result = await waitForJobThroughOutages(client, spec.jobId);
    const firstAfter = (state: string) => {
      const e = events.events.find((x) => x.received >= back && x.state === state);
      return e ? Math.round((e.received - back) / 100) / 10 : null;
    };
    return {
      spec,
      plan,
      result,
      events,
      report: {
        jobId: spec.jobId,
        activities: plan.counts.total,
        completedBeforeOutage: doneBefore,
        outageSeconds: Math.round(outage.downSeconds * 10) / 10,
        serverRestartSeconds: Math.round(outage.restartSeconds * 10) / 10,
        // An activity starting needs Temporal to dispatch it; one completing needs the store to take its output.
        firstStartAfterRestartSeconds: firstAfter('started'),
        firstCompletionAfterRestartSeconds: firstAfter('completed'),
        recomputedActivities: events.recomputedActivities(),
        workerRestarts: fleet.unexpectedExits.length,
        jobSeconds: {
          undisturbed: Math.round(reference.seconds),
          disturbed: Math.round((Date.now() - t0) / 1000),
        },
      },
    };
  } finally {
    await events.stop();
  }
}

describe('servers going away mid-job', () => {
  it('Temporal server stopped and restarted (same database): the job completes with identical bytes', async () => {
    const exitsBefore = fleet.unexpectedExits.length;
    const run = await disturbedRun('chaos-temporal', 12, () =>
      withServersStopped(['temporal'], () => sleep(10_000)),
    );
    console.log(
      `[chaos] ${JSON.stringify({ test: 'temporal-restart', ...run.report, workerRestarts: fleet.unexpectedExits.length - exitsBefore })}`,
    );
    expect(run.result.sha256).toBe(reference.result.sha256);
    expect((await verifyBucket(servers, BUCKET, `artifacts/jobs/${run.spec.jobId}/`)).bad).toEqual([]);
  }, 240_000);

  it('MinIO down for 20 s mid-job: the job completes, identical bytes, no half-written artifact', async () => {
    const run = await disturbedRun('chaos-minio', 15, () =>
      withServersStopped(['minio'], () => sleep(20_000)),
    );
    const check = await verifyBucket(servers, BUCKET, `artifacts/jobs/${run.spec.jobId}/`);
    console.log(
      `[chaos] ${JSON.stringify({ test: 'storage-outage', ...run.report, artifactsChecked: check.objects, artifactBytes: check.bytes })}`,
    );
    expect(run.report.outageSeconds).toBeGreaterThanOrEqual(20);
    expect(run.result.sha256).toBe(reference.result.sha256);
    expect(check.objects).toBeGreaterThanOrEqual(run.plan.counts.total - 1);
    expect(check.bad).toEqual([]);
  }, 240_000);

  it('NATS down for a whole job: it completes and vldm watch follows it through the progress query', async () => {
    const { spec } = await compileJob({ ...job, name: `chaos-nats-${process.pid}` }, CONTRACT_PACK);
    const { value: watched } = await withServersStopped(['nats'], async () => {
      await startJob(client, spec);
      return runCli(['watch', spec.jobId, ...common, '--json'], env, 300_000);
    });
    expect(watched.code, watched.stderr).toBe(0);
    const out = JSON.parse(watched.stdout) as {
      status: string;
      progressSource: string;
      result: { sha256: string };
    };
    console.log(
      `[chaos] ${JSON.stringify({ test: 'events-outage', status: out.status, progressSource: out.progressSource })}`,
    );
    expect(out).toMatchObject({ jobId: spec.jobId, status: 'COMPLETED', progressSource: 'query' });
    expect(out.result.sha256).toBe(reference.result.sha256);
  }, 240_000);
});

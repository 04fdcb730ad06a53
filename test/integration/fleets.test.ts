/**
 * Only the right workers serve a job: two worker fleets on one Temporal server, fleet 1 with a folder
 * store and fleet 2 with a MinIO bucket, each in its own namespace. Each fleet's job finishes with its
 * artifacts in its own store and none in the other; a job submitted with fleet 1's store to fleet 2's
 * workers fails within 30 s with a VldmWrongFleet failure naming both stores, having written nothing,
 * and `vldm status` shows it; a job whose pack digest is not the workers' fails the same way; and
 * `vldm submit` with another store refuses to attach to a run of the same job (exit 2, one line).
 *
 * Reproduce: npx tsc -p . && npx vitest run test/integration/fleets.test.ts
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActivityFailure,
  ApplicationFailure,
  Connection,
  WorkflowFailedError,
  type Client,
} from '@temporalio/client';
import { QUEUE_ROLES, jobPrefix } from '../../src/common/names';
import { FAILURE_TYPES } from '../../src/common/errors';
import { compileJob, type JobFlags } from '../../src/cli/edge';
import { connectTemporal, startJob, waitForJob } from '../../src/client/jobs';
import { connectEventBus, type EventBus } from '../../src/events';
import { createStore, type ArtifactStore } from '../../src/storage';
import { S3ArtifactStore } from '../../src/storage/s3';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import type { JobResult } from '../../src/common/boundary';
import type { DevServerAddresses } from '../../src/dev/servers';
import { testServers } from '../support/servers';
import { CONTRACT_PACK, s3Env, testS3Store } from '../support/pipeline';
import { registerTestNamespace } from '../support/temporal-namespace';
import { runCli } from '../support/cli';

const BUCKET = 'vldm-fleets';
/** How soon a job whose only workers have the wrong store must have failed (the bound). */
const FAIL_FAST_MS = 30_000;
// 1 s with the contract test pack: one segment, a few dozen activities.
const job: JobFlags = { seconds: '1', scene: 'day', traffic: 'clear' };

interface Fleet {
  name: string;
  namespace: string;
  store: ArtifactStore;
  /** The store as `vldm --store` takes it. */
  storeUrl: string;
  client: Client;
  workers: RunningWorkers;
}

let servers: DevServerAddresses;
let events: EventBus;
let fleet1: Fleet;
let fleet2: Fleet;
/** A namespace no worker polls: a job started there stays running. */
let idle: { namespace: string; client: Client };

async function registerNamespace(namespace: string): Promise<void> {
  const connection = await Connection.connect({ address: servers.temporal!.address });
  try {
    await registerTestNamespace(connection, namespace);
  } finally {
    await connection.close();
  }
}

async function startFleet(name: string, store: ArtifactStore, storeUrl: string): Promise<Fleet> {
  const temporal = servers.temporal!;
  const namespace = `vldm-${name}-${process.pid}`;
  await registerNamespace(namespace);
  const workers = await startWorkers({
    temporalAddress: temporal.address,
    namespace,
    queues: [...QUEUE_ROLES],
    store,
    events,
    warmPack: CONTRACT_PACK,
    scratchDir: mkdtempSync(path.join(os.tmpdir(), `vldm-${name}-scratch-`)),
  });
  return {
    name,
    namespace,
    store,
    storeUrl,
    client: await connectTemporal(temporal.address, namespace),
    workers,
  };
}

beforeAll(async () => {
  servers = await testServers();
  events = await connectEventBus(servers.nats?.url, { name: 'vldm-test-fleets' });
  const folder = mkdtempSync(path.join(os.tmpdir(), 'vldm-fleet-1-artifacts-'));
  const bucket = testS3Store(servers, BUCKET) as S3ArtifactStore;
  await bucket.ensureBucket();
  [fleet1, fleet2] = await Promise.all([
    startFleet('fleet-1', createStore({ kind: 'local', root: folder }), folder),
    startFleet('fleet-2', bucket, `s3://${BUCKET}/artifacts`),
  ]);
  const namespace = `vldm-fleet-idle-${process.pid}`;
  await registerNamespace(namespace);
  idle = { namespace, client: await connectTemporal(servers.temporal!.address, namespace) };
});

afterAll(async () => {
  for (const f of [fleet1, fleet2]) {
    await f?.client.connection.close();
    await f?.workers.shutdown();
    await f?.store.close?.();
  }
  await idle?.client.connection.close();
  await events?.close();
});

/** Keys the store holds under the job's prefix. */
async function keysOf(store: ArtifactStore, jobId: string): Promise<string[]> {
  return (await store.list(jobPrefix(jobId))).map((a) => a.key);
}

/** The job's failure, or a test failure if it completed. */
async function failureOf(client: Client, jobId: string): Promise<WorkflowFailedError> {
  const err = await waitForJob(client, jobId).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

/** The ApplicationFailure under the job's failed activity (directly, or under a failed child). */
function appFailureOf(err: WorkflowFailedError): ApplicationFailure {
  let e: unknown = err.cause;
  while (e instanceof Error && !(e instanceof ActivityFailure)) e = (e as Error & { cause?: unknown }).cause;
  expect(e).toBeInstanceOf(ActivityFailure);
  const app = (e as ActivityFailure).cause;
  expect(app).toBeInstanceOf(ApplicationFailure);
  return app as ApplicationFailure;
}

describe('two worker fleets on one Temporal server, two stores', () => {
  it('each job finishes on its own fleet, with its artifacts in its own store only', async () => {
    const run = async (own: Fleet, seed: string): Promise<{ jobId: string; result: JobResult }> => {
      const { spec } = await compileJob(
        { ...job, seed, name: `${own.name}-${process.pid}` },
        CONTRACT_PACK,
        undefined,
        own.store.identity,
      );
      expect(spec.fleet?.store).toBe(own.store.identity);
      await startJob(own.client, spec);
      return { jobId: spec.jobId, result: await waitForJob(own.client, spec.jobId) };
    };
    const [one, two] = await Promise.all([run(fleet1, '1'), run(fleet2, '2')]);
    for (const [own, other, { jobId, result }] of [
      [fleet1, fleet2, one],
      [fleet2, fleet1, two],
    ] as const) {
      expect(result.frames).toBe(24);
      const mp4 = await own.store.get(result.outputKey);
      expect(mp4.byteLength).toBe(result.bytes);
      expect((await keysOf(own.store, jobId)).length).toBeGreaterThan(10);
      expect(await keysOf(other.store, jobId)).toEqual([]);
    }
  }, 300_000);

  it('a job whose only workers have another store fails fast, naming both stores, and writes nothing', async () => {
    // Submitted with fleet 1's folder store to fleet 2's namespace, where only fleet 2's S3 workers poll.
    const { spec } = await compileJob(
      { ...job, seed: '3', name: `wrong-store-${process.pid}` },
      CONTRACT_PACK,
      undefined,
      fleet1.store.identity,
    );
    const t0 = Date.now();
    await startJob(fleet2.client, spec);
    const err = await failureOf(fleet2.client, spec.jobId);
    const failedAfterMs = Date.now() - t0;
    console.log(`[fleets] wrong-store job failed after ${failedAfterMs} ms`);
    expect(failedAfterMs).toBeLessThan(FAIL_FAST_MS);
    const app = appFailureOf(err);
    expect(app.type).toBe(FAILURE_TYPES.wrongFleet);
    expect(app.nonRetryable).toBe(true);
    expect(app.message).toContain(`this worker serves store ${fleet2.store.identity} (pack `);
    expect(app.message).toContain(
      `job ${spec.jobId} was submitted with store ${fleet1.store.identity} (pack `,
    );
    expect(fleet2.store.identity).toBe(`s3://${BUCKET}/artifacts`);
    expect(fleet1.store.identity).toBe(`folder:${fleet1.storeUrl}`);
    // Refused on the first attempt, before the activity ran: nothing in either store.
    const history = await fleet2.client.workflow.getHandle(spec.jobId).fetchHistory();
    const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
    expect(await keysOf(fleet2.store, spec.jobId)).toEqual([]);
    expect(await keysOf(fleet1.store, spec.jobId)).toEqual([]);

    // The CLI shows it.
    const status = await runCli(
      [
        'status',
        spec.jobId,
        '--temporal-address',
        servers.temporal!.address,
        '--namespace',
        fleet2.namespace,
      ],
      {},
      60_000,
    );
    expect(status.stdout + status.stderr).toMatch(/FAILED/);
    expect(status.stdout).toContain(`this worker serves store ${fleet2.store.identity}`);
    expect(status.stdout).toContain(`submitted with store ${fleet1.store.identity}`);
  }, 120_000);

  it('a job checked against another pack than the workers have fails fast, naming both digests', async () => {
    const { spec } = await compileJob(
      { ...job, seed: '4', name: `wrong-pack-${process.pid}` },
      CONTRACT_PACK,
      undefined,
      fleet2.store.identity,
    );
    const theirs = 'f'.repeat(64); // as if the client's copy of the pack were another version
    const own = spec.fleet!.pack;
    const t0 = Date.now();
    await startJob(fleet2.client, { ...spec, fleet: { store: fleet2.store.identity, pack: theirs } });
    const app = appFailureOf(await failureOf(fleet2.client, spec.jobId));
    expect(Date.now() - t0).toBeLessThan(FAIL_FAST_MS);
    expect(app.type).toBe(FAILURE_TYPES.wrongFleet);
    expect(app.message).toContain(`serves store ${fleet2.store.identity} (pack ${own.slice(0, 12)})`);
    expect(app.message).toContain(
      `submitted with store ${fleet2.store.identity} (pack ${theirs.slice(0, 12)})`,
    );
    expect(await keysOf(fleet2.store, spec.jobId)).toEqual([]);
  }, 120_000);

  it('vldm submit with another store does not attach to a running job of the same spec (exit 2, one line)', async () => {
    const temporal = ['--temporal-address', servers.temporal!.address, '--namespace', idle.namespace];
    const flags = [
      '--seconds',
      '1',
      '--seed',
      '5',
      '--name',
      `attach-${process.pid}`,
      '--pack',
      CONTRACT_PACK,
    ];
    const first = await runCli(
      ['submit', ...flags, ...temporal, '--store', fleet1.storeUrl, '--json'],
      {},
      60_000,
    );
    expect(first.code, first.stderr).toBe(0);
    const { jobId } = JSON.parse(first.stdout) as { jobId: string };
    // The same spec and store attach, as before.
    const same = await runCli(
      ['submit', ...flags, ...temporal, '--store', fleet1.storeUrl, '--json'],
      {},
      60_000,
    );
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ jobId, attached: true });
    // Another store would wait for artifacts it can never read: refused.
    const other = await runCli(
      ['submit', ...flags, ...temporal, '--store', fleet2.storeUrl],
      s3Env(servers),
      60_000,
    );
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toBe(
      `vldm: job ${jobId} is already running with store ${fleet1.store.identity}, not ${fleet2.store.identity}: ` +
        `wait for it to finish, cancel it ("vldm cancel ${jobId}"), or give this run another --name or --job-id\n`,
    );
    await idle.client.workflow.getHandle(jobId).terminate('test done');
  }, 120_000);
});

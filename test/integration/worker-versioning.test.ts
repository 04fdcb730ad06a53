/**
 * Safe rollouts with Temporal Worker Versioning, on the real Temporal dev server (CLI 1.5.1, Server
 * 1.29, whose worker-deployment APIs are on by default): version A's workers (every queue) serve a
 * job; version B's workers, whose workflow code is incompatible with A's histories
 * (test/support/workflows/version-b.ts), come up beside them and become the deployment's current
 * version while the job runs. The job and its segment children stay PINNED to A and finish there,
 * with the same bytes as a job that B runs from scratch; new jobs run on B. Each version writes to
 * its own artifact store, so where each activity ran is visible in the stores.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { jobStatus, startJob, waitForJob } from '../../src/client/jobs';
import { QUEUE_ROLES, segmentWorkflowId } from '../../src/common/names';
import { NullEventBus } from '../../src/events';
import { createStore, type ArtifactStore } from '../../src/storage';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import { checkWorkerDeployment, workerDeploymentFromEnv } from '../../src/config/versioning';
import { UserError } from '../../src/common/errors';
import { CONTRACT_PACK } from '../support/pipeline';
import { testServers } from '../support/servers';
import { registerTestNamespace } from '../support/temporal-namespace';

const NAMESPACE = `versioning-${process.pid}-${Date.now().toString(36)}`;
const DEPLOYMENT = 'vldm';
const A = { deploymentName: DEPLOYMENT, buildId: 'build-a' };
const B = { deploymentName: DEPLOYMENT, buildId: 'build-b' };

interface Version {
  store: ArtifactStore;
  root: string;
  workers: RunningWorkers;
}

let connection: Connection;
let client: Client;
let address: string;
let bundleB: WorkflowBundleWithSourceMap;
const versions: Version[] = [];

async function startVersion(deployment: typeof A, bundle?: WorkflowBundleWithSourceMap): Promise<Version> {
  const root = mkdtempSync(path.join(os.tmpdir(), `vldm-${deployment.buildId}-`));
  const store = createStore({ kind: 'local', root: path.join(root, 'artifacts') });
  const workers = await startWorkers({
    temporalAddress: address,
    namespace: NAMESPACE,
    queues: [...QUEUE_ROLES],
    store,
    events: new NullEventBus(),
    warmPack: CONTRACT_PACK,
    scratchDir: path.join(root, 'scratch'),
    deployment,
    observability: false,
    ...(bundle ? { workflowBundle: bundle } : {}),
  });
  const v = { store, root, workers };
  versions.push(v);
  return v;
}

/** Makes `buildId` the deployment's current version, once its pollers have registered every queue. */
async function setCurrent(buildId: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: NAMESPACE,
        deploymentName: DEPLOYMENT,
        buildId,
        identity: 'worker-versioning-test',
      });
      return;
    } catch (err) {
      // The version exists only once its workers have polled; until then the server refuses.
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function versioningOf(workflowId: string) {
  const d = await client.workflow.getHandle(workflowId).describe();
  const info = d.raw.workflowExecutionInfo?.versioningInfo;
  return {
    pinned: info?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
    buildId: info?.deploymentVersion?.buildId ?? undefined,
  };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  const servers = await testServers({ kinds: ['temporal'] });
  address = servers.temporal?.address as string;
  connection = await Connection.connect({ address });
  client = await registerTestNamespace(connection, NAMESPACE);
  bundleB = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '../support/workflows/version-b.ts'),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
  });
});

afterAll(async () => {
  for (const v of versions) await v.workers.shutdown();
  await connection?.close();
});

describe('worker versioning', () => {
  it('reads the deployment version from the environment and refuses half of it', () => {
    expect(workerDeploymentFromEnv({})).toBeUndefined();
    expect(workerDeploymentFromEnv({ VLDM_WORKER_DEPLOYMENT: 'vldm', VLDM_BUILD_ID: '1.4.0+abc' })).toEqual({
      deploymentName: 'vldm',
      buildId: '1.4.0+abc',
    });
    expect(() => workerDeploymentFromEnv({ VLDM_BUILD_ID: '1.4.0' })).toThrow(
      /VLDM_WORKER_DEPLOYMENT and VLDM_BUILD_ID go together.*only VLDM_BUILD_ID/,
    );
    expect(() => checkWorkerDeployment({ deploymentName: 'vl.dm', buildId: 'x' })).toThrow(UserError);
    expect(() => checkWorkerDeployment({ deploymentName: 'vldm', buildId: 'a\nb' })).toThrow(
      /build id "a\\nb"/,
    );
  });

  it('a job started on A finishes on A after B becomes current, with the bytes B makes; new jobs run on B', async () => {
    const a = await startVersion(A);
    await setCurrent(A.buildId);

    const { spec: first } = await compileJob(
      { seconds: '2', scene: 'day', traffic: 'clear', seed: '21', name: `ver-a-${process.pid}` },
      CONTRACT_PACK,
    );
    // B polls before the job starts (an upgrade's new pods come up first), but is not current yet.
    const b = await startVersion(B, bundleB);
    await startJob(client, first);
    // The job's first workflow task ran on A: from here on, it is pinned there.
    const untilPinned = Date.now() + 60_000;
    while ((await versioningOf(first.jobId)).buildId !== A.buildId) {
      if (Date.now() > untilPinned) throw new Error(`job ${first.jobId} never ran on ${A.buildId}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The upgrade: B becomes current while the job has almost all of its work ahead of it.
    await setCurrent(B.buildId);

    const resultA = await waitForJob(client, first.jobId);
    // `vldm status --json` shows where it ran.
    expect((await jobStatus(client, first.jobId)).version).toEqual({ ...A, pinned: true });
    // Its segment children started after the switch, and still on A (they inherit the pin).
    for (let s = 0; s < resultA.segments; s++)
      expect(await versioningOf(segmentWorkflowId(first.jobId, s))).toEqual({
        pinned: true,
        buildId: A.buildId,
      });
    // Every activity of the job ran on A's workers: A's store has its output, B's has nothing of it.
    const fileA = path.join(a.root, 'out.mp4');
    await a.store.getToFile(resultA.outputKey, fileA);
    expect(existsSync(path.join(b.root, 'artifacts', 'jobs', first.jobId))).toBe(false);
    // No workflow task failed: B's code never saw A's history.
    const history = await client.workflow.getHandle(first.jobId).fetchHistory();
    expect(history.events?.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
    // …and it would have failed there: B's code cannot replay A's history.
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundleB }, history, first.jobId),
    ).rejects.toBeInstanceOf(DeterminismViolationError);

    // A new job (same video, another name) runs on B, B's timer first, into B's store.
    const { spec: second } = await compileJob(
      { seconds: '2', scene: 'day', traffic: 'clear', seed: '21', name: `ver-b-${process.pid}` },
      CONTRACT_PACK,
    );
    await startJob(client, second);
    const resultB = await waitForJob(client, second.jobId);
    expect((await jobStatus(client, second.jobId)).version).toEqual({ ...B, pinned: true });
    const historyB = await client.workflow.getHandle(second.jobId).fetchHistory();
    expect(historyB.events?.some((e) => e.timerStartedEventAttributes)).toBe(true);
    const fileB = path.join(b.root, 'out.mp4');
    await b.store.getToFile(resultB.outputKey, fileB);
    expect(sha256(fileA)).toBe(resultA.sha256);
    expect(sha256(fileB)).toBe(sha256(fileA));
  });
});

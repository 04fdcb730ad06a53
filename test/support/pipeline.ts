/**
 * A whole vldm deployment for integration tests, on the real test servers: an S3 artifact store on
 * MinIO, progress on NATS, every worker in this process, and a Temporal client.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { QUEUE_ROLES } from '../../src/common/names';
import { createStore, type ArtifactStore } from '../../src/storage';
import { S3ArtifactStore } from '../../src/storage/s3';
import { connectEventBus, type EventBus } from '../../src/events';
import { startWorkers, type RunningWorkers } from '../../src/worker/workers';
import { connectTemporal } from '../../src/client/jobs';
import type { Client } from '@temporalio/client';
import type { DevServerAddresses } from '../../src/dev/servers';
import { repoRoot } from '../../src/host/paths';
import { testServers } from './servers';

export const CONTRACT_PACK = path.join(repoRoot(), 'models', 'contract-test');

export interface TestDeployment {
  servers: DevServerAddresses;
  store: ArtifactStore;
  storeUrl: string;
  events: EventBus;
  workers: RunningWorkers;
  client: Client;
  scratch: string;
  close(): Promise<void>;
}

/** S3 store settings as environment variables (what a `vldm` child process needs). */
export function s3Env(servers: DevServerAddresses): NodeJS.ProcessEnv {
  return {
    VLDM_S3_ENDPOINT: servers.minio?.endpoint,
    AWS_ACCESS_KEY_ID: servers.minio?.accessKeyId,
    AWS_SECRET_ACCESS_KEY: servers.minio?.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
}

/** The S3 artifact store on the test MinIO under `s3://<bucket>/artifacts`, as the test workers use it. */
export function testS3Store(servers: DevServerAddresses, bucket: string): ArtifactStore {
  return createStore({
    kind: 's3',
    bucket,
    prefix: 'artifacts',
    endpoint: servers.minio?.endpoint,
    accessKeyId: servers.minio?.accessKeyId,
    secretAccessKey: servers.minio?.secretAccessKey,
    region: 'us-east-1',
    forcePathStyle: true,
  });
}

export async function startDeployment(
  bucket: string,
  opts: { workers?: boolean } = {},
): Promise<TestDeployment> {
  const servers = await testServers();
  const storeUrl = `s3://${bucket}/artifacts`;
  const store = testS3Store(servers, bucket);
  await (store as S3ArtifactStore).ensureBucket();
  const events = await connectEventBus(servers.nats?.url, { name: 'vldm-test' });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vldm-test-scratch-'));
  const temporal = servers.temporal as NonNullable<DevServerAddresses['temporal']>;
  const workers =
    opts.workers === false
      ? undefined
      : await startWorkers({
          temporalAddress: temporal.address,
          namespace: temporal.namespace,
          queues: [...QUEUE_ROLES],
          store,
          events,
          warmPack: CONTRACT_PACK,
          scratchDir: scratch,
        });
  const client = await connectTemporal(temporal.address, temporal.namespace);
  return {
    servers,
    store,
    storeUrl,
    events,
    workers: workers as RunningWorkers,
    client,
    scratch,
    async close() {
      await client.connection.close();
      await workers?.shutdown();
      await events.close();
      await store.close?.();
    },
  };
}

/**
 * The local dev servers are real and usable: Temporal answers a client, MinIO stores an object, NATS
 * delivers a message; a second devUp reuses them, a foreign port holder is refused, devDown stops them.
 * Runs on the shared test servers (test/support/servers.ts); test files after this one restart them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { connect as natsConnect, StringCodec } from 'nats';
import { UserError } from '../../src/common/errors';
import { DevServerAddresses, devDown, devStatus, devUp, resolvePorts } from '../../src/dev/servers';
import { isAlive, tcpAnswers } from '../../src/dev/process';
import { MissingToolError, findTool, requireTool } from '../../src/dev/tools';
import { repoRoot } from '../../src/host/paths';
import { TEST_PORTS, testServers, testStateDir } from '../support/servers';

const SEARCH_ATTRIBUTES = { VldmDevServersTest: 'Keyword' } as const;

describe('dev server options', () => {
  it('derives UI and console ports from the server ports', () => {
    expect(resolvePorts({})).toEqual({
      temporal: 7233,
      temporalUi: 8233,
      minio: 9000,
      minioConsole: 9001,
      nats: 4222,
    });
    expect(resolvePorts({ temporal: 17233, minio: 19000 })).toMatchObject({
      temporalUi: 18233,
      minioConsole: 19001,
    });
  });

  it('rejects bad ports and unknown kinds with what is allowed', async () => {
    expect(() => resolvePorts({ nats: 70000 })).toThrow(
      'port nats must be an integer from 1 to 65535, got 70000',
    );
    expect(() => resolvePorts({ nats: 9000 })).toThrow('ports minio and nats must differ, both are 9000');
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-dev-opts-'));
    await expect(devUp({ stateDir, kinds: ['redis' as never] })).rejects.toThrow(
      'server kind must be one of temporal, minio, nats, got "redis"',
    );
    await expect(
      devUp({ stateDir, kinds: ['temporal'], searchAttributes: { 'bad-name': 'Keyword' } }),
    ).rejects.toThrow('search attribute name must be an identifier');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('finds tools in .tools/bin or PATH and names infra/setup.sh when one is missing', () => {
    expect(fs.existsSync(path.join(repoRoot(), 'package.json'))).toBe(true);
    expect(findTool('nats-server')).toMatch(/nats-server$/);
    expect(() => requireTool('vldm-no-such-tool')).toThrow(MissingToolError);
    expect(() => requireTool('vldm-no-such-tool')).toThrow(/run infra\/setup\.sh/);
  });
});

describe('dev servers', () => {
  let addresses: DevServerAddresses;
  const stateDir = testStateDir();

  beforeAll(async () => {
    addresses = await testServers({ searchAttributes: SEARCH_ATTRIBUTES });
  });

  afterAll(async () => {
    await devDown({ stateDir });
  });

  it('runs a Temporal server that a client can use', async () => {
    expect(addresses.temporal).toMatchObject({
      address: `127.0.0.1:${TEST_PORTS.temporal}`,
      namespace: 'default',
    });
    const connection = await Connection.connect({ address: addresses.temporal!.address });
    try {
      const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(namespaceInfo?.name).toBe('default');
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      expect(customAttributes.VldmDevServersTest).toBe(2); // IndexedValueType KEYWORD
      const client = new Client({ connection, namespace: 'default' });
      const listed = [];
      for await (const wf of client.workflow.list({ query: 'WorkflowType = "vldmNoSuchWorkflow"' }))
        listed.push(wf);
      expect(listed).toEqual([]);
    } finally {
      await connection.close();
    }
    const ui = await fetch(addresses.temporal!.uiUrl);
    expect(ui.status).toBe(200);
  });

  it('runs a MinIO server that stores and returns an object', async () => {
    const minio = addresses.minio!;
    expect(minio.endpoint).toBe(`http://127.0.0.1:${TEST_PORTS.minio}`);
    const s3 = new S3Client({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
    const Bucket = `vldm-dev-servers-${Date.now()}`;
    try {
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutObjectCommand({ Bucket, Key: 'hello.txt', Body: 'hello from vldm' }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'hello.txt' }));
      expect(await got.Body!.transformToString()).toBe('hello from vldm');
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'hello.txt' }));
      await s3.send(new DeleteBucketCommand({ Bucket }));
    } finally {
      s3.destroy();
    }
  });

  it('runs a NATS server with JetStream that delivers a message', async () => {
    const nc = await natsConnect({ servers: addresses.nats!.url });
    try {
      const sc = StringCodec();
      const sub = nc.subscribe('vldm.test.dev-servers', { max: 1 });
      const received = (async () => {
        for await (const msg of sub) return sc.decode(msg.data);
        return undefined;
      })();
      nc.publish('vldm.test.dev-servers', sc.encode('ping'));
      expect(await received).toBe('ping');
      const jsm = await nc.jetstreamManager();
      expect((await jsm.getAccountInfo()).limits).toBeDefined();
    } finally {
      await nc.close();
    }
  });

  it('reuses running servers on a second devUp', async () => {
    const before = await devStatus({ stateDir });
    expect(before.map((s) => s.state)).toEqual(['running', 'running', 'running']);
    const again = await testServers({ searchAttributes: SEARCH_ATTRIBUTES });
    expect(again).toEqual(addresses);
    const after = await devStatus({ stateDir });
    expect(after.map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });

  it('refuses to start a server on a port another program holds', async () => {
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-dev-other-'));
    try {
      const attempt = devUp({ stateDir: otherDir, kinds: ['nats'], ports: { nats: TEST_PORTS.nats } });
      await expect(attempt).rejects.toThrow(UserError);
      await expect(
        devUp({ stateDir: otherDir, kinds: ['nats'], ports: { nats: TEST_PORTS.nats } }),
      ).rejects.toThrow(
        `nats client port ${TEST_PORTS.nats} on 127.0.0.1 is already in use by another program`,
      );
    } finally {
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('refuses to reuse a server on other ports than asked', async () => {
    await expect(devUp({ stateDir, kinds: ['nats'], ports: { nats: TEST_PORTS.nats + 1 } })).rejects.toThrow(
      `nats is already running from ${stateDir}`,
    );
  });

  it('stops every server on devDown', async () => {
    const before = await devStatus({ stateDir });
    const pids = before.map((s) => s.pid!);
    expect(await devDown({ stateDir })).toEqual(['temporal', 'minio', 'nats']);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect((await devStatus({ stateDir })).map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
    for (const port of [TEST_PORTS.temporal, TEST_PORTS.minio, TEST_PORTS.nats]) {
      expect(await tcpAnswers(port)).toBe(false);
    }
    expect(fs.existsSync(path.join(stateDir, 'temporal.pid'))).toBe(false);
    expect(await devDown({ stateDir })).toEqual([]);
  });
});

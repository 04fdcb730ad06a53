/**
 * The S3 artifact store against a real MinIO server: the shared behaviour suite, plus what only S3
 * shows: the bucket is created on demand, checksums travel as metadata and as S3's ChecksumSHA256,
 * listings page, a prefix confines a store, and errors never carry credentials.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

import { MinioAddress } from '../../src/dev/server-types';
import {
  ArtifactMissingError,
  createStore,
  S3ArtifactStore,
  sha256Hex,
  storeConfigFromUrl,
} from '../../src/storage';
import { describeArtifactStore } from '../support/artifact-store-suite';
import { testServers } from '../support/servers';
import { freePort } from '../support/wait';

let minio: MinioAddress;
let raw: S3Client;
const stores: S3ArtifactStore[] = [];
/** One bucket per run, and a fresh prefix per store, so runs and tests never see each other's objects. */
const BUCKET = `vldm-test-${randomBytes(4).toString('hex')}`;

async function minioAddress(): Promise<MinioAddress> {
  if (!minio) {
    const servers = await testServers({ kinds: ['minio'] });
    if (!servers.minio) throw new Error('testServers() returned no MinIO address');
    minio = servers.minio;
    raw = new S3Client({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
  }
  return minio;
}

async function newStore(
  prefix: string,
  extra: Partial<{ bucket: string; listPageSize: number }> = {},
): Promise<S3ArtifactStore> {
  const m = await minioAddress();
  const store = new S3ArtifactStore(
    {
      kind: 's3',
      endpoint: m.endpoint,
      bucket: extra.bucket ?? BUCKET,
      prefix,
      accessKeyId: m.accessKeyId,
      secretAccessKey: m.secretAccessKey,
    },
    { listPageSize: extra.listPageSize },
  );
  stores.push(store);
  return store;
}

afterAll(async () => {
  for (const s of stores) await s.close();
  raw?.destroy();
});

describeArtifactStore('S3 on MinIO', async () => {
  const store = await newStore(`suite-${randomBytes(3).toString('hex')}`);
  const objectKey = (key: string) => `${store.prefix}/${key}`;
  return {
    store,
    tamper: async (key, bytes) => {
      const head = await raw.send(new HeadObjectCommand({ Bucket: BUCKET, Key: objectKey(key) }));
      await raw.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: objectKey(key), Body: bytes, Metadata: head.Metadata }),
      );
    },
    stripChecksum: async (key) => {
      await raw.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: objectKey(key), Body: Buffer.from('no metadata') }),
      );
    },
  };
});

describe('S3 store specifics', () => {
  beforeAll(async () => {
    await minioAddress();
  });

  it('creates a missing bucket on first write, once, even with concurrent writers', async () => {
    const bucket = `vldm-new-${randomBytes(4).toString('hex')}`;
    await expect(raw.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const a = await newStore('p', { bucket });
    const b = await newStore('p', { bucket });
    // A reader of a bucket that does not exist yet sees nothing rather than an error.
    expect(await a.list('')).toEqual([]);
    await expect(a.get('x.bin')).rejects.toBeInstanceOf(ArtifactMissingError);
    await Promise.all([
      a.put('x.bin', Buffer.from('a')),
      b.put('y.bin', Buffer.from('b')),
      a.ensureBucket(),
      b.ensureBucket(),
    ]);
    await raw.send(new HeadBucketCommand({ Bucket: bucket }));
    expect((await a.list('')).map((i) => i.key)).toEqual(['x.bin', 'y.bin']);
  });

  it('records the checksum as x-amz-meta-sha256 and as S3 ChecksumSHA256, and keeps the content type', async () => {
    const store = await newStore('meta');
    const body = randomBytes(50_000);
    const info = await store.put('jobs/j1/final.mp4', body, { contentType: 'video/mp4' });
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'meta/jobs/j1/final.mp4', ChecksumMode: 'ENABLED' }),
    );
    expect(head.Metadata?.sha256).toBe(sha256Hex(body));
    expect(head.ChecksumSHA256).toBe(Buffer.from(info.sha256, 'hex').toString('base64'));
    expect(head.ContentType).toBe('video/mp4');
    expect(head.ContentLength).toBe(body.length);
  });

  it('confines a store to its prefix', async () => {
    const a = await newStore('tenant-a');
    const b = await newStore('tenant-a-other');
    await a.put('k.bin', Buffer.from('a'));
    await b.put('k.bin', Buffer.from('b'));
    expect(Buffer.from(await a.get('k.bin')).toString()).toBe('a');
    expect((await a.list('')).map((i) => i.key)).toEqual(['k.bin']);
    await expect(a.get('../tenant-a-other/k.bin')).rejects.toThrow(/invalid artifact key/);
    // Objects under the prefix that are not valid keys (written by something else) are not listed.
    await raw.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'tenant-a/odd name.bin',
        Body: 'x',
        Metadata: { sha256: sha256Hex(Buffer.from('x')) },
      }),
    );
    expect((await a.list('')).map((i) => i.key)).toEqual(['k.bin']);
    await raw.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'tenant-a/odd name.bin' }));
  });

  it('follows listing pages', async () => {
    const store = await newStore('paged', { listPageSize: 3 });
    const keys = Array.from({ length: 8 }, (_, i) => `seg-${String(i).padStart(3, '0')}.vldt`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
    const listed = await store.list('');
    expect(listed.map((i) => i.key)).toEqual(keys);
    expect(listed[5]).toEqual({
      key: keys[5],
      size: keys[5]!.length,
      sha256: sha256Hex(Buffer.from(keys[5]!)),
    });
  });

  it('works when built from an s3:// URL and environment', async () => {
    const cfg = storeConfigFromUrl(`s3://${BUCKET}/from-url`, {
      VLDM_S3_ENDPOINT: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKeyId,
      AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
    });
    const store = createStore(cfg) as S3ArtifactStore;
    stores.push(store);
    expect(store.description).toBe(`s3://${BUCKET}/from-url at ${minio.endpoint}`);
    await store.put('x.bin', Buffer.from('via url'));
    expect(Buffer.from(await store.get('x.bin')).toString()).toBe('via url');
  });

  it('fails clearly, without credentials in the message, on wrong credentials', async () => {
    const store = new S3ArtifactStore({
      kind: 's3',
      endpoint: minio.endpoint,
      bucket: BUCKET,
      accessKeyId: 'not-a-user',
      secretAccessKey: 'WRONG-SECRET-9f8e7d',
    });
    stores.push(store);
    const err = (await store.put('x.bin', Buffer.from('x')).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(
      new RegExp(`S3 .* in s3://${BUCKET} at ${minio.endpoint.replace(/[.]/g, '\\.')} failed: .*HTTP 403`),
    );
    expect(err.message).not.toContain('WRONG-SECRET-9f8e7d');
  });

  it('fails within seconds, naming the endpoint, when nothing listens there', async () => {
    const port = await freePort();
    const store = new S3ArtifactStore(
      {
        kind: 's3',
        endpoint: `http://127.0.0.1:${port}`,
        bucket: BUCKET,
        accessKeyId: 'k',
        secretAccessKey: 'DEAD-SECRET',
      },
      { maxAttempts: 3 },
    );
    stores.push(store);
    const started = Date.now();
    const err = (await store.put('x.bin', Buffer.from('x')).catch((e: unknown) => e)) as Error;
    const elapsed = Date.now() - started;
    expect(err.message).toContain(`at http://127.0.0.1:${port} failed`);
    expect(err.message).not.toContain('DEAD-SECRET');
    expect(elapsed).toBeLessThan(15_000);
  });

  it('reads an artifact written by a store with another prefix spelling', async () => {
    // "p/" and "p" are the same prefix: keys must not depend on how the URL was written.
    const a = await newStore('same-prefix/');
    const b = await newStore('same-prefix');
    await a.put('x.bin', Buffer.from('same'));
    expect(Buffer.from(await b.get('x.bin')).toString()).toBe('same');
  });
});

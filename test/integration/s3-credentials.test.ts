/**
 * S3 credentials come only from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the
 * SDK's default chain) and never reach a message: against the real test MinIO, right keys read and
 * write, and wrong ones fail with the server's reason, naming the store but neither key.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStore, storeConfigFromUrl } from '../../src/storage';
import { S3ArtifactStore } from '../../src/storage/s3';
import type { DevServerAddresses } from '../../src/dev/servers';
import { testServers } from '../support/servers';

let minio: NonNullable<DevServerAddresses['minio']>;
const bucket = 'vldm-s3-credentials';

beforeAll(async () => {
  minio = (await testServers({ kinds: ['minio'] })).minio!;
});

const storeWith = (accessKeyId: string, secretAccessKey: string) =>
  createStore(
    storeConfigFromUrl(`s3://${bucket}/artifacts`, {
      VLDM_S3_ENDPOINT: minio.endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
    }),
    { warn: () => undefined },
  ) as S3ArtifactStore;

describe('S3 credentials', () => {
  it('are taken from the environment, and the store describes itself without them', async () => {
    const store = storeWith(minio.accessKeyId, minio.secretAccessKey);
    await store.ensureBucket();
    const body = randomBytes(64);
    await store.put('creds/ok.bin', body);
    expect(Buffer.from(await store.get('creds/ok.bin')).equals(body)).toBe(true);
    expect(store.description).toBe(`s3://${bucket}/artifacts at ${minio.endpoint}`);
    expect(store.description).not.toContain(minio.secretAccessKey);
    // What jobs carry to say which workers may serve them (src/common/fleet.ts): no key, no endpoint.
    expect(store.identity).toBe(`s3://${bucket}/artifacts`);
    await store.close?.();
  });

  it('that are wrong fail with the server reason and without either key in the message', async () => {
    const secret = `wrong-secret-${randomBytes(8).toString('hex')}`;
    for (const [id, key] of [
      [minio.accessKeyId, secret],
      [`WRONGID${randomBytes(4).toString('hex').toUpperCase()}`, secret],
    ]) {
      const store = storeWith(id, key);
      const err = await store.put('creds/denied.bin', randomBytes(8)).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, `put with access key id ${id} succeeded`).toBeInstanceOf(Error);
      expect(err!.message).toMatch(/SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|HTTP 403/);
      expect(err!.message).toContain(`s3://${bucket}/artifacts`);
      expect(err!.message).not.toContain(secret);
      expect(err!.message).not.toContain(minio.secretAccessKey);
      await store.close?.();
    }
  });
});

/**
 * S3 artifact store (AWS S3, MinIO or any S3-compatible service). An artifact is one object
 * `<prefix>/<key>`; its sha256 travels in user metadata (`x-amz-meta-sha256`, hex) and, on upload,
 * as S3's own `ChecksumSHA256` so the server rejects bytes damaged in transit. S3 makes an object
 * visible only once its upload is complete, and concurrent writers of one key leave one whole object
 * with its own metadata, so atomicity comes from the service. The AWS SDK is loaded on first use, so
 * creating a store (and `vldm --help`) stays cheap.
 */

import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

import { UserError } from '../common/errors';
import { hexToBase64, sha256File, sha256Hex, tempName, writeStreamToNewFile } from './hash';
import { joinKey, validateKey, validatePrefix } from './keys';
import { retentionTagging } from './retention';
import {
  ArtifactCorruptError,
  ArtifactInfo,
  ArtifactMissingError,
  ArtifactStore,
  PutOptions,
  WarnFn,
} from './types';

type S3Sdk = typeof import('@aws-sdk/client-s3');

export interface S3StoreConfig {
  kind: 's3';
  /** Service URL, e.g. `http://127.0.0.1:9000` for MinIO. @default AWS S3 for the region */
  endpoint?: string;
  /** @default 'us-east-1' */
  region?: string;
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'. @default '' */
  prefix?: string;
  /** Static credentials; when absent the SDK's default chain (env, profile, IRSA, instance role) is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO needs. @default true when `endpoint` is set */
  forcePathStyle?: boolean;
}

export interface S3StoreOptions {
  warn?: WarnFn;
  /** Attempts per request, first included, with the SDK's standard retry strategy (backoff + jitter). @default 5 */
  maxAttempts?: number;
  /** Concurrent HEAD requests that `list` makes to read each object's checksum. @default 8 */
  listConcurrency?: number;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). @default 1000 */
  listPageSize?: number;
}

/** Largest object a single PUT may carry (S3's limit); bigger files would need multipart uploads. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
const META_SHA256 = 'sha256';
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);

/** Checks an S3 bucket name against S3's naming rules; returns it or throws a UserError. */
export function validateBucketName(bucket: string): string {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..'))
    throw new UserError(
      `invalid S3 bucket name ${JSON.stringify(bucket)}: bucket names are 3-63 characters of lowercase letters, ` +
        `digits, '.' and '-', starting and ending with a letter or digit`,
    );
  return bucket;
}

interface SdkError {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

function httpStatus(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as SdkError | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || httpStatus(err) === 404;
}

function isTransient(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e) return false;
  if (e.$retryable) return true;
  const status = httpStatus(err);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  return [
    'TimeoutError',
    'RequestTimeout',
    'RequestTimeTooSkewed',
    'SlowDown',
    'InternalError',
    'ServiceUnavailable',
  ].includes(e.name ?? '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class S3ArtifactStore implements ArtifactStore {
  readonly description: string;
  readonly identity: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly #clientConfig: S3ClientConfig;
  readonly #warn: WarnFn;
  readonly #maxAttempts: number;
  readonly #listConcurrency: number;
  readonly #listPageSize: number;
  #sdk?: Promise<{ sdk: S3Sdk; client: S3Client; singleShot: S3Client }>;
  #bucketReady?: Promise<void>;

  constructor(cfg: S3StoreConfig, opts: S3StoreOptions = {}) {
    this.bucket = validateBucketName(cfg.bucket);
    const prefix = (cfg.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') validatePrefix(prefix + '/');
    this.prefix = prefix;
    if ((cfg.accessKeyId === undefined) !== (cfg.secretAccessKey === undefined))
      throw new UserError(
        'S3 credentials need both an access key id and a secret access key, or neither (to use the default AWS credential chain)',
      );
    const region = cfg.region ?? 'us-east-1';
    this.identity = `s3://${this.bucket}${prefix ? '/' + prefix : ''}`;
    this.description = `${this.identity} at ${cfg.endpoint ?? `AWS S3 (${region})`}`;
    this.#maxAttempts = opts.maxAttempts ?? 5;
    this.#listConcurrency = opts.listConcurrency ?? 8;
    this.#listPageSize = opts.listPageSize ?? 1000;
    this.#warn = opts.warn ?? ((m) => console.warn(m));
    this.#clientConfig = {
      region,
      endpoint: cfg.endpoint,
      forcePathStyle: cfg.forcePathStyle ?? cfg.endpoint !== undefined,
      credentials:
        cfg.accessKeyId !== undefined && cfg.secretAccessKey !== undefined
          ? {
              accessKeyId: cfg.accessKeyId,
              secretAccessKey: cfg.secretAccessKey,
              sessionToken: cfg.sessionToken,
            }
          : undefined,
      retryMode: 'standard',
      maxAttempts: this.#maxAttempts,
      // We send ChecksumSHA256 ourselves; the SDK's default CRC32 on every request is not supported by
      // every S3-compatible service, so only send checksums that an operation requires.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Fail fast on an unreachable endpoint; requestTimeout is the socket idle time, not a cap on transfers.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    };
  }

  private sdk(): Promise<{ sdk: S3Sdk; client: S3Client; singleShot: S3Client }> {
    this.#sdk ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client(this.#clientConfig),
      // Streamed uploads cannot be replayed by the SDK's retries (the stream is consumed), so they use a
      // client without retries inside a loop that opens a fresh stream per attempt.
      singleShot: new sdk.S3Client({ ...this.#clientConfig, maxAttempts: 1 }),
    }));
    return this.#sdk;
  }

  private objectKey(key: string): string {
    return joinKey(this.prefix, validateKey(key));
  }

  private fail(op: string, key: string, err: unknown): Error {
    if (
      err instanceof ArtifactCorruptError ||
      err instanceof ArtifactMissingError ||
      err instanceof UserError
    )
      return err;
    const e = err as SdkError;
    const status = httpStatus(err);
    return new Error(
      `S3 ${op}${key ? ` of ${key}` : ''} in ${this.description} failed: ${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`,
      { cause: err },
    );
  }

  /** Creates the bucket when it does not exist. Called before the first write; safe to call any time. */
  ensureBucket(): Promise<void> {
    this.#bucketReady ??= (async () => {
      const { sdk, client } = await this.sdk();
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
        return;
      } catch (err) {
        if (!isNotFound(err)) throw this.fail('HeadBucket', '', err);
      }
      try {
        await client.send(new sdk.CreateBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        if ((err as SdkError).name === 'BucketAlreadyOwnedByYou') return; // another process created it first
        throw this.fail('CreateBucket', '', err);
      }
    })().catch((err: unknown) => {
      this.#bucketReady = undefined; // let a later call try again
      throw err;
    });
    return this.#bucketReady;
  }

  async put(key: string, body: Uint8Array, opts: PutOptions = {}): Promise<ArtifactInfo> {
    const objectKey = this.objectKey(key);
    const sha256 = sha256Hex(body);
    await this.ensureBucket();
    const { sdk, client } = await this.sdk();
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Body: body,
          ContentLength: body.length,
          ContentType: opts.contentType ?? 'application/octet-stream',
          Metadata: { [META_SHA256]: sha256 },
          // The retention class, for a bucket lifecycle rule (docs/artifacts.md, "Retention").
          Tagging: retentionTagging(key),
          ChecksumSHA256: hexToBase64(sha256),
        }),
      );
    } catch (err) {
      throw this.fail('PutObject', key, err);
    }
    return { key, size: body.length, sha256 };
  }

  async putFile(key: string, file: string, opts: PutOptions = {}): Promise<ArtifactInfo> {
    const objectKey = this.objectKey(key);
    const size = await stat(file).then(
      (s) => s.size,
      (err: unknown) => {
        throw new Error(`cannot store ${file} as artifact ${key}: ${(err as Error).message}`, { cause: err });
      },
    );
    if (size > MAX_SINGLE_PUT_BYTES)
      throw new UserError(
        `cannot store ${file} as artifact ${key}: it is ${size} bytes, at most ${MAX_SINGLE_PUT_BYTES} (5 GiB) allowed`,
      );
    // Hash first, then stream: the server checks ChecksumSHA256, so a file that changes in between is refused.
    const { sha256 } = await sha256File(file);
    await this.ensureBucket();
    const { sdk, singleShot } = await this.sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        await singleShot.send(
          new sdk.PutObjectCommand({
            Bucket: this.bucket,
            Key: objectKey,
            Body: createReadStream(file),
            ContentLength: size,
            ContentType: opts.contentType ?? 'application/octet-stream',
            Metadata: { [META_SHA256]: sha256 },
            Tagging: retentionTagging(key),
            ChecksumSHA256: hexToBase64(sha256),
          }),
        );
        return { key, size, sha256 };
      } catch (err) {
        if (attempt >= this.#maxAttempts || !isTransient(err)) throw this.fail('PutObject', key, err);
        await sleep(Math.min(20_000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  /** GetObject with the body read inside the retry loop: a connection dropped mid-body is retried too. */
  private async fetch<T>(
    key: string,
    consume: (body: Readable, sha256: string, length: number | undefined) => Promise<T>,
  ): Promise<T> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        const recorded = res.Metadata?.[META_SHA256];
        const body = res.Body as Readable | undefined;
        if (!recorded || !/^[0-9a-f]{64}$/.test(recorded)) {
          body?.destroy();
          throw new ArtifactMissingError(
            key,
            this.description,
            'the object has no x-amz-meta-sha256 metadata, so it was not written by the artifact store',
          );
        }
        if (!body) throw new ArtifactMissingError(key, this.description);
        return await consume(body, recorded, res.ContentLength);
      } catch (err) {
        if (isNotFound(err)) throw new ArtifactMissingError(key, this.description);
        if (err instanceof ArtifactCorruptError || err instanceof ArtifactMissingError) throw err;
        if (attempt >= this.#maxAttempts || !isTransient(err)) throw this.fail('GetObject', key, err);
        await sleep(Math.min(20_000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  async get(key: string): Promise<Uint8Array> {
    return this.fetch(key, async (body, recorded, length) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      if (length !== undefined && bytes.length !== length) {
        // A short body is a broken transfer, not a corrupt object: let the loop fetch it again.
        throw Object.assign(new Error(`body ended after ${bytes.length} of ${length} bytes`), {
          code: 'ECONNRESET',
        });
      }
      const actual = sha256Hex(bytes);
      if (actual !== recorded) throw new ArtifactCorruptError(key, recorded, actual, this.description);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async getVerified(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.get(key);
    } catch (err) {
      if (err instanceof ArtifactMissingError) return undefined;
      if (err instanceof ArtifactCorruptError) {
        this.#warn(`${err.message}; deleting it`);
        await this.delete(key);
        return undefined;
      }
      throw err;
    }
  }

  async getToFile(key: string, dest: string): Promise<void> {
    const destDir = path.dirname(path.resolve(dest));
    await mkdir(destDir, { recursive: true });
    await this.fetch(key, async (body, recorded, length) => {
      const tmp = path.join(destDir, tempName(path.basename(dest)));
      try {
        const written = await writeStreamToNewFile(body, tmp);
        if (length !== undefined && written.size !== length)
          throw Object.assign(new Error(`body ended after ${written.size} of ${length} bytes`), {
            code: 'ECONNRESET',
          });
        if (written.sha256 !== recorded)
          throw new ArtifactCorruptError(key, recorded, written.sha256, this.description);
        await rename(tmp, dest);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    });
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.sdk();
    try {
      const res = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      const recorded = res.Metadata?.[META_SHA256];
      if (!recorded || !/^[0-9a-f]{64}$/.test(recorded) || res.ContentLength === undefined) return undefined;
      return { key, size: res.ContentLength, sha256: recorded };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.fail('HeadObject', key, err);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async list(prefix: string): Promise<ArtifactInfo[]> {
    validatePrefix(prefix);
    const { sdk, client } = await this.sdk();
    const strip = this.prefix === '' ? '' : this.prefix + '/';
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let res;
      try {
        res = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: strip + prefix,
            ContinuationToken: token,
            MaxKeys: this.#listPageSize,
          }),
        );
      } catch (err) {
        if ((err as SdkError).name === 'NoSuchBucket') return [];
        throw this.fail('ListObjectsV2', prefix, err);
      }
      for (const o of res.Contents ?? []) {
        if (!o.Key?.startsWith(strip)) continue;
        const key = o.Key.slice(strip.length);
        try {
          keys.push(validateKey(key));
        } catch {
          // an object someone else put under the prefix, not an artifact
        }
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);

    // Listings do not carry user metadata, so each checksum comes from a HEAD (a few at a time).
    const infos: (ArtifactInfo | undefined)[] = new Array(keys.length);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        infos[i] = await this.stat(keys[i] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#listConcurrency, keys.length) }, worker));
    return infos
      .filter((i): i is ArtifactInfo => i !== undefined)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    const { sdk, client } = await this.sdk();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.fail('DeleteObject', key, err);
    }
  }

  /** Releases the HTTP connections (the store must not be used afterwards). */
  async close(): Promise<void> {
    if (!this.#sdk) return;
    const { client, singleShot } = await this.#sdk;
    client.destroy();
    singleShot.destroy();
  }
}

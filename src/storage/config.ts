/**
 * Choosing and configuring an artifact store: the configuration type, parsing it from a URL plus
 * environment (what the CLI and the Helm chart pass), and the factory. The S3 backend loads the AWS
 * SDK only when it is first used.
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { UserError } from '../common/errors';
import { parseBoolean } from '../config/values';
import { validatePrefix } from './keys';
import { LocalArtifactStore } from './local';
import { S3ArtifactStore, S3StoreConfig, S3StoreOptions, validateBucketName } from './s3';
import { ArtifactStore, WarnFn } from './types';

export interface LocalStoreConfig {
  kind: 'local';
  /** Folder that holds the artifacts; created on the first write. */
  root: string;
}

export type { S3StoreConfig };
export type StoreConfig = LocalStoreConfig | S3StoreConfig;

/** Environment variables read by storeConfigFromUrl for `s3://` URLs. */
export const STORE_ENV = {
  /** S3 endpoint URL, e.g. http://127.0.0.1:9000 for MinIO; unset means AWS S3. */
  endpoint: 'VLDM_S3_ENDPOINT',
  /** A boolean (true/false/1/0/yes/no/on/off): path-style URLs; default true when VLDM_S3_ENDPOINT is set. */
  forcePathStyle: 'VLDM_S3_FORCE_PATH_STYLE',
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
  region: 'AWS_REGION',
  /** Read when AWS_REGION is unset, as the AWS CLI does. */
  defaultRegion: 'AWS_DEFAULT_REGION',
} as const;

const STORE_URL_HELP =
  'an artifact store is "file:///absolute/folder", a folder path, or "s3://bucket/optional/prefix"';

/** One set of boolean spellings for every switch (src/config/values.ts). */
function parseBool(name: string, value: string): boolean {
  return parseBoolean(name, value);
}

/**
 * Parses a store location: `file:///abs/dir` or a plain (absolute or relative) path gives a local
 * store; `s3://bucket/prefix` gives S3 with endpoint, region and credentials from `env` (see STORE_ENV).
 * Unset credentials leave the SDK's default chain in charge (profile, IRSA, instance role).
 */
export function storeConfigFromUrl(url: string, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const value = url.trim();
  if (value === '') throw new UserError(`the artifact store location is empty; ${STORE_URL_HELP}`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', root: path.resolve(value) };
  if (scheme === 'file') {
    try {
      return { kind: 'local', root: fileURLToPath(value) };
    } catch (err) {
      throw new UserError(
        `invalid artifact store URL ${JSON.stringify(value)}: ${(err as Error).message}; ${STORE_URL_HELP}`,
      );
    }
  }
  if (scheme !== 's3')
    throw new UserError(`unsupported artifact store URL ${JSON.stringify(value)}; ${STORE_URL_HELP}`);

  const rest = value.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  validateBucketName(bucket);
  if (prefix !== '') validatePrefix(prefix + '/');

  const accessKeyId = env[STORE_ENV.accessKeyId] || undefined;
  const secretAccessKey = env[STORE_ENV.secretAccessKey] || undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    throw new UserError(
      `set both ${STORE_ENV.accessKeyId} and ${STORE_ENV.secretAccessKey}, or neither (to use the default AWS credential chain)`,
    );
  const endpoint = env[STORE_ENV.endpoint] || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint))
    throw new UserError(
      `${STORE_ENV.endpoint} must be an http:// or https:// URL such as http://127.0.0.1:9000, got ${JSON.stringify(endpoint)}`,
    );
  const forcePathStyleEnv = env[STORE_ENV.forcePathStyle];
  const cfg: S3StoreConfig = {
    kind: 's3',
    bucket,
    prefix,
    region: env[STORE_ENV.region] || env[STORE_ENV.defaultRegion] || 'us-east-1',
    endpoint,
    forcePathStyle: forcePathStyleEnv
      ? parseBool(STORE_ENV.forcePathStyle, forcePathStyleEnv)
      : endpoint !== undefined,
  };
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    cfg.accessKeyId = accessKeyId;
    cfg.secretAccessKey = secretAccessKey;
    const sessionToken = env[STORE_ENV.sessionToken];
    if (sessionToken) cfg.sessionToken = sessionToken;
  }
  return cfg;
}

export interface CreateStoreOptions extends S3StoreOptions {
  /** Where warnings go (corrupt artifacts deleted, concurrent-write retries). @default console.warn */
  warn?: WarnFn;
}

/** Builds the store a configuration describes. Nothing is contacted until the first operation. */
export function createStore(cfg: StoreConfig, opts: CreateStoreOptions = {}): ArtifactStore {
  switch (cfg.kind) {
    case 'local':
      return new LocalArtifactStore(cfg.root, { warn: opts.warn });
    case 's3':
      return new S3ArtifactStore(cfg, opts);
    default:
      throw new UserError(
        `unknown artifact store kind ${JSON.stringify((cfg as { kind: unknown }).kind)}; allowed: "local", "s3"`,
      );
  }
}

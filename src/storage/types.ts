/**
 * The artifact store contract shared by the local-folder and S3 backends. Artifacts are immutable
 * blobs addressed by key; each carries the sha256 of its bytes so that a reader can never take a
 * half-written or corrupted artifact for good (activities treat a verified artifact as a checkpoint).
 */

import { FAILURE_TYPES } from '../common/errors';

/** What a stored artifact is: its key, its size in bytes and the lowercase hex sha256 of its bytes. */
export interface ArtifactInfo {
  key: string;
  size: number;
  sha256: string;
}

export interface PutOptions {
  /** MIME type stored with the object (S3 `Content-Type`); the local backend does not keep it. @default application/octet-stream */
  contentType?: string;
}

export interface ArtifactStore {
  /** Where the artifacts live, without credentials: "local folder /x" or "s3://bucket/prefix at http://…". */
  readonly description: string;
  /**
   * Which store this is, short and without credentials: `folder:<absolute path>` or
   * `s3://<bucket>/<prefix>`. Jobs carry the identity of the store they were submitted with and workers
   * refuse the tasks of jobs with another (src/worker/fleet.ts). The S3 endpoint is left out on purpose:
   * a client reaches the same bucket at another address than the pods do (a port-forward).
   */
  readonly identity: string;
  /**
   * Stores `body` under `key`. Atomic (never visible half-written), idempotent (the same bytes give the
   * same result), and concurrent writers of one key leave one writer's bytes with their own checksum.
   */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ArtifactInfo>;
  /** Reads and verifies. Throws ArtifactMissingError when absent, ArtifactCorruptError on a checksum mismatch. */
  get(key: string): Promise<Uint8Array>;
  /**
   * Reads and verifies; `undefined` when missing or corrupt. A corrupt artifact is deleted (with a
   * warning) so that the caller recomputes it and puts it again.
   */
  getVerified(key: string): Promise<Uint8Array | undefined>;
  /** Key, size and recorded sha256; `undefined` when absent or without checksum. Does not read the bytes. */
  stat(key: string): Promise<ArtifactInfo | undefined>;
  /** True when the artifact exists AND its checksum is recorded. Does not read the bytes. */
  exists(key: string): Promise<boolean>;
  /** Artifacts whose key starts with `prefix` (plain string prefix, as in S3), sorted by key. */
  list(prefix: string): Promise<ArtifactInfo[]>;
  /** Removes the artifact; no error when it is already absent. */
  delete(key: string): Promise<void>;
  /** Streams the file at `path` into the store (for MP4s and other large files); same guarantees as put. */
  putFile(key: string, path: string, opts?: PutOptions): Promise<ArtifactInfo>;
  /**
   * Streams the artifact to `path`, verifying it on the way; the file is written to a temporary name in
   * the same folder and renamed, so `path` never holds a partial or unverified file. Creates the folder.
   */
  getToFile(key: string, path: string): Promise<void>;
  /** Releases connections (S3); the store must not be used afterwards. Optional: the local store holds none. */
  close?(): Promise<void>;
}

/** Type string of ArtifactMissingError (the corrupt one uses FAILURE_TYPES.corruptArtifact). */
export const ARTIFACT_MISSING_TYPE = 'VldmMissingArtifact';

/** The artifact's bytes do not match its recorded sha256. Retryable: delete and recompute. */
export class ArtifactCorruptError extends Error {
  override name = 'ArtifactCorruptError';
  readonly type = FAILURE_TYPES.corruptArtifact;
  constructor(
    readonly key: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
    where: string,
    /** Replaces the "hash to … but … was recorded" part, e.g. when the recorded checksum is unreadable. */
    problem?: string,
  ) {
    super(
      `artifact ${key} in ${where} is corrupt: ` +
        (problem ??
          `its bytes hash to sha256 ${actualSha256} but ${expectedSha256} was recorded when it was written`) +
        `; delete it (getVerified does) and recompute it`,
    );
  }
}

/** No (complete) artifact under this key. */
export class ArtifactMissingError extends Error {
  override name = 'ArtifactMissingError';
  readonly type = ARTIFACT_MISSING_TYPE;
  constructor(
    readonly key: string,
    where: string,
    detail = '',
  ) {
    super(`artifact ${key} not found in ${where}${detail ? `: ${detail}` : ''}`);
  }
}

export function isArtifactMissing(err: unknown): err is ArtifactMissingError {
  return err instanceof ArtifactMissingError;
}

export function isArtifactCorrupt(err: unknown): err is ArtifactCorruptError {
  return err instanceof ArtifactCorruptError;
}

/** Warnings (corrupt artifact deleted, retries) go here; the default is console.warn. */
export type WarnFn = (message: string) => void;

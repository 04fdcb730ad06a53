/**
 * The artifact store: immutable, checksummed blobs addressed by key, in a local folder or in S3.
 * See docs/artifacts.md for the key layout, checksums and configuration.
 */

export * from './types';
export {
  validateKey,
  validatePrefix,
  MAX_KEY_LENGTH,
  MAX_SEGMENT_LENGTH,
  CHECKSUM_SIDECAR_SUFFIX,
} from './keys';
export { sha256Hex } from './hash';
export { LocalArtifactStore } from './local';
export { S3ArtifactStore, MAX_SINGLE_PUT_BYTES, validateBucketName } from './s3';
export type { S3StoreOptions } from './s3';
export { createStore, storeConfigFromUrl, STORE_ENV } from './config';
export type { StoreConfig, LocalStoreConfig, S3StoreConfig, CreateStoreOptions } from './config';
export {
  artifactClass,
  artifactStage,
  retentionTagging,
  RETENTION_TAG,
  INTERMEDIATE_STAGES,
} from './retention';
export type { ArtifactClass } from './retention';
export { markStarted, markFinished, jobState, startedKey, finishedKey } from './job-markers';
export type { JobState, FinishedMarker, StartedMarker } from './job-markers';
export { collectGarbage, startRetentionSweeper, RETENTION_SWEEP_EVERY_MS } from './gc';
export type { GcOptions, GcReport, JobGcReport, JobAction, Tally } from './gc';

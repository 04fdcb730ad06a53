/**
 * Artifact keys of stage outputs. A key is derived from everything that determines the bytes (pack
 * digest, seed, labels, sampling settings, window/tile, upstream keys), so an output that already
 * exists and verifies is the checkpoint: a retry or a rerun of the same spec returns it at once.
 * Keys stay under the job's prefix, so no input can address another job's artifacts.
 */
import { createHash } from 'node:crypto';
import { JOB_ID_PATTERN, jobPrefix } from '../common/names';
import { UserError } from '../common/errors';

/** Version of the key derivation: bump when a stage's computation changes meaning. */
export const KEY_VERSION = 1;

/** Hex characters of the input digest kept in a key (64 bits: collisions are not a practical concern). */
const DIGEST_CHARS = 16;

/** JSON with sorted object keys, so equal inputs hash equally whatever their construction order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function digestOf(value: unknown): string {
  return createHash('sha256')
    .update(canonicalJson({ v: KEY_VERSION, value }))
    .digest('hex');
}

/** `jobs/<jobId>/<stage>/<name>-<digest>.<ext>` */
export function stageKey(jobId: string, stage: string, name: string, inputs: unknown, ext = 'vldt'): string {
  if (!JOB_ID_PATTERN.test(jobId))
    throw new UserError(`invalid job id "${jobId}": must match ${JOB_ID_PATTERN}`);
  return `${jobPrefix(jobId)}${stage}/${name}-${digestOf(inputs).slice(0, DIGEST_CHARS)}.${ext}`;
}

/** Re-exported: the prefix is part of the key layout in src/common/names.ts (pure, for workflows too). */
export { jobPrefix };

/** `seg-003` */
export function segName(segment: number): string {
  return `seg-${String(segment).padStart(3, '0')}`;
}

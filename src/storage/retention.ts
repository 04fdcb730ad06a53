/**
 * Which artifacts of a job the retention rule deletes (docs/artifacts.md, "Retention"): the bulky,
 * cheap-to-recompute pixel intermediates (decoded frames, upscaled tiles) and in-flight sampling
 * checkpoints. It keeps the output video, the clips, the keyframe chain and interpolated latents (the
 * sequential and diffusion-heavy part, a few % of the bytes), the spec, the init image and the job's
 * markers — and anything it does not recognise, so a new stage is never deleted by mistake.
 * The class is a pure function of the key, so the S3 store can tag objects with it at put time and a
 * bucket lifecycle rule can do the same deletion without vldm.
 */
import { validateKey } from './keys';

export type ArtifactClass = 'intermediate' | 'kept';

/** Stage folders under `jobs/<jobId>/` whose artifacts are intermediate. */
export const INTERMEDIATE_STAGES = ['decode', 'upscale'] as const;

/** A sampling checkpoint folder: `<output key>.ckpt/` (src/activity-runtime/stage-runner.ts). */
const CHECKPOINT_SEGMENT = /\.ckpt$/;

/** The S3 object tag every artifact gets at put time; the lifecycle rule filters on `=intermediate`. */
export const RETENTION_TAG = 'vldm-retention';

/** The retention class of an artifact key. */
export function artifactClass(key: string): ArtifactClass {
  const parts = validateKey(key).split('/');
  if (parts[0] !== 'jobs' || parts.length < 4) return 'kept';
  if (parts.slice(2, -1).some((p) => CHECKPOINT_SEGMENT.test(p))) return 'intermediate';
  return (INTERMEDIATE_STAGES as readonly string[]).includes(parts[2]) ? 'intermediate' : 'kept';
}

/** The stage folder of a job artifact (`jobs/<id>/<stage>/…`), or "" for keys outside the layout. */
export function artifactStage(key: string): string {
  const parts = key.split('/');
  return parts[0] === 'jobs' && parts.length >= 4 ? parts[2] : '';
}

/** The S3 `Tagging` header value (URL query form) of an artifact. */
export function retentionTagging(key: string): string {
  return `${RETENTION_TAG}=${artifactClass(key)}`;
}

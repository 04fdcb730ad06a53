/**
 * Uploading a job's init image: the checked file goes to the artifact store under the key its spec
 * names (content-addressed, under the job's prefix) before the workflow starts, so the workers read
 * it from the store and its bytes never travel in a Temporal payload.
 */
import type { ArtifactStore } from '../storage';
import type { JobSpec } from '../planning/spec';
import type { InitImage } from '../media/init-image';

const CONTENT_TYPES = { png: 'image/png', jpeg: 'image/jpeg' } as const;

/** Idempotent: an upload of the same image (same key, same sha256) that is already there is skipped. */
export async function uploadInitImage(store: ArtifactStore, spec: JobSpec, image: InitImage): Promise<void> {
  const ref = spec.initImage;
  if (!ref || ref.sha256 !== image.sha256)
    throw new Error(`job ${spec.jobId}: the spec does not name init image ${image.file}`);
  if ((await store.stat(ref.key))?.sha256 === ref.sha256) return;
  await store.put(ref.key, image.bytes, { contentType: CONTENT_TYPES[image.format] });
}

/**
 * Prepare stage: loads and checks the model pack the job names (checksums, contract metadata) and
 * validates the spec against it, then records both under the job's prefix. Its output, the pack's
 * small summary, is what the workflow plans with. A job with an init image also gets its first frame
 * here: the uploaded image, verified against the spec's sha256 and fitted to the pack's base size by
 * ffmpeg (this is the media pool, which has it), stored as a pixel tensor for the keyframe stage.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE_TYPES, UserError } from '../src/common/errors';
import { wrongFleetMessage } from '../src/common/fleet';
import { compileSpec, type JobSpec } from '../src/planning/spec';
import type { PackSummary } from '../src/planning/pack-summary';
import { runStage, withHeartbeats } from '../src/activity-runtime/stage-runner';
import { stageKey } from '../src/activity-runtime/keys';
import { isArtifactCorrupt, isArtifactMissing, markStarted, sha256Hex } from '../src/storage';
import { fitImage } from '../src/media/init-image';
import { STILL_SCALER, fromRgb24 } from '../src/media/ffmpeg';
import { encodePixels } from '../src/activity-runtime/artifact-format';
import type { ActivityDeps } from './deps';
import type { PrepareOutput, StageOutput } from '../src/common/boundary';

/** User errors (a bad spec, pack or init image) fail the job at once: no retry can fix them. */
function nonRetryable(err: unknown): unknown {
  if (err instanceof UserError)
    return ApplicationFailure.create({ type: err.type, nonRetryable: true, message: err.message });
  return err;
}

/**
 * The init image's first frame: [1, 3, H, W] pixels in [-1, 1] at the pack's base size, keyed by the
 * image's sha256, the size and the scaler, so a rerun (or a retry) finds it and reads nothing else.
 */
async function initFrame(deps: ActivityDeps, spec: JobSpec, pack: PackSummary): Promise<StageOutput> {
  const ref = spec.initImage!;
  const { width, height } = pack.base;
  const key = stageKey(spec.jobId, 'init', 'frame', {
    image: ref.sha256,
    width,
    height,
    scaler: STILL_SCALER,
  });
  if ((await deps.store.exists(key)) && (await deps.store.getVerified(key)) !== undefined)
    return { key, reused: true };
  const what = `init image ${ref.key}`;
  let bytes: Uint8Array;
  try {
    bytes = await deps.store.get(ref.key);
  } catch (err) {
    // The image is the user's input: nothing can recompute it, so a missing or damaged upload is final.
    if (isArtifactMissing(err))
      throw new UserError(
        `${what} is not in the artifact store (${deps.store.description}): the CLI uploads it before starting the job, so the job was started without it or against another store than the workers'`,
      );
    if (isArtifactCorrupt(err))
      throw new UserError(`${what} is damaged in the artifact store: ${err.message}`);
    throw err; // the store is unreachable: retryable
  }
  const actual = sha256Hex(bytes);
  if (actual !== ref.sha256)
    throw new UserError(
      `${what} has sha256 ${actual}, but the job spec names ${ref.sha256}: these are not the bytes the job was submitted with`,
    );
  const rgb = await fitImage(bytes, what, pack.base);
  await deps.store.put(
    key,
    // pixel8 holds 8-bit image pixels exactly, so the key needs no stored-form entry.
    encodePixels({ shape: [1, 3, height, width], data: fromRgb24(rgb, height, width) }),
  );
  return { key, reused: false };
}

export function createPrepareActivities(deps: ActivityDeps) {
  return {
    async prepareJob(spec: JobSpec): Promise<PrepareOutput> {
      // A run begins: retention (vldm gc) leaves this job's artifacts alone until its stitch finishes.
      await markStarted(deps.store, spec.jobId);
      let summary;
      try {
        summary = (await withHeartbeats(() => deps.models.get(spec.pack), { loading: spec.pack })).summary;
        // The pack must be the one the client checked the job against (the fleet interceptor could not
        // tell before this worker had loaded it); every later stage compares with this one's digest.
        if (spec.fleet && summary.digest !== spec.fleet.pack)
          throw ApplicationFailure.create({
            type: FAILURE_TYPES.wrongFleet,
            nonRetryable: true,
            message: wrongFleetMessage(spec.jobId, spec.fleet, {
              store: deps.store.identity,
              pack: summary.digest,
            }),
          });
        // Validate again on the worker's side: the spec must fit the pack the workers have. (The
        // workflow plans with this pack's summary right after, and fails the job if that cannot plan.)
        compileSpec({ ...spec }, { labels: summary.labels, packFps: summary.video.fps, pack: spec.pack });
      } catch (err) {
        throw nonRetryable(err);
      }
      const pack = summary;
      let frame: StageOutput | undefined;
      if (spec.initImage) {
        try {
          frame = await withHeartbeats(() => initFrame(deps, spec, pack), { initImage: spec.initImage.key });
        } catch (err) {
          throw nonRetryable(err);
        }
      }
      // The fleet says who may serve the job, not what it renders: the key (and the record) leave it
      // out, so a job keeps its checkpoints whichever client submits it.
      const { fleet: _fleet, ...content } = spec;
      const key = stageKey(spec.jobId, 'job', 'spec', { spec: content, pack }, 'json');
      const out = await runStage(deps, key, { jobId: spec.jobId, stage: 'prepare' }, async () =>
        Buffer.from(JSON.stringify({ spec: content, pack }, null, 2)),
      );
      if (!frame) return { ...out, pack };
      return { ...out, reused: out.reused && frame.reused, pack, initFrame: frame.key };
    },
  };
}

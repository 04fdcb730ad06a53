/**
 * What activities need from the world, injected by the worker (and by tests): the artifact store,
 * the event bus, the worker's model cache and a scratch folder for ffmpeg.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../src/storage';
import type { EventBus } from '../src/events';
import type { ModelCache, LoadedPack } from '../src/activity-runtime/model-cache';
import { FAILURE_TYPES } from '../src/common/errors';
import type { StageContext } from '../src/common/boundary';

export interface ActivityDeps {
  store: ArtifactStore;
  events: EventBus;
  models: ModelCache;
  /** Folder for temporary files (clips being encoded); cleaned by each activity. */
  scratchDir: string;
}

/**
 * The pack the job was planned with, as this worker sees it. A worker whose pack differs (another
 * version at the same location) must not compute: its bytes would not match the plan's keys.
 */
export async function packFor(deps: ActivityDeps, ctx: StageContext): Promise<LoadedPack> {
  const loaded = await deps.models.get(ctx.pack.location);
  if (loaded.summary.digest !== ctx.pack.digest) {
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.contract,
      nonRetryable: true,
      message: `model pack at ${ctx.pack.location} has digest ${loaded.summary.digest.slice(0, 12)} on this worker, but the job was planned with ${ctx.pack.digest.slice(0, 12)}: deploy the same pack to every pool`,
    });
  }
  return loaded;
}

// The schedule lookup lives with the sampling activities' scaffolding; tests import it from here.
export { scheduleOf } from '../src/activity-runtime/sampling-activity';

/**
 * All activities, built by one factory from their dependencies (store, events, models, scratch), so
 * workers and tests wire them the same way. Workflows proxy `ReturnType<typeof createActivities>`.
 */
import type { ActivityDeps } from './deps';
import { createPrepareActivities } from './prepare';
import { createKeyframeActivities } from './keyframes';
import { createInterpolationActivities } from './interpolate';
import { createDecodeActivities } from './decode';
import { createUpscaleActivities } from './upscale';
import { createEncodeActivities } from './encode';
import { createStitchActivities } from './stitch';
import { createSpeedActivities } from './speed';
import type { QueueRole } from '../src/common/names';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPrepareActivities(deps),
    ...createKeyframeActivities(deps),
    ...createInterpolationActivities(deps),
    ...createDecodeActivities(deps),
    ...createUpscaleActivities(deps),
    ...createEncodeActivities(deps),
    ...createStitchActivities(deps),
    ...createSpeedActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Which activities each task queue serves (and so which models its pool loads). */
export const QUEUE_ACTIVITIES: Record<Exclude<QueueRole, 'orchestration'>, Array<keyof Activities>> = {
  keyframe: ['generateKeyframes', 'measureStage'],
  interpolation: ['interpolate', 'measureStage'],
  decode: ['decode', 'measureStage'],
  upscale: ['upscale', 'measureStage'],
  media: ['prepareJob', 'encodeSegment', 'stitchJob'],
};

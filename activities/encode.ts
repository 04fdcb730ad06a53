/**
 * Encode stage: blends a segment's upscaled tiles into frames (weights fall to zero at edges shared
 * with a neighbour, so seams vanish) and pipes them as raw RGB into ffmpeg for the segment's H.264
 * clip (src/activity-runtime/tile-blend.ts does the blending, one temporal chunk at a time).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { blendTiles } from '../src/activity-runtime/tile-blend';
import { decodeTensor } from '../src/tensors';
import { UPSCALE_FACTOR } from '../src/planning/pack-summary';
import { encodeClip, toRgb24 } from '../src/media/ffmpeg';
import { alreadyDone, emit, throwIfCancelled, type StageEvent } from '../src/activity-runtime/stage-runner';
import { segName, stageKey } from '../src/activity-runtime/keys';
import type { ActivityDeps } from './deps';
import type { EncodeInput, StageOutput } from '../src/common/boundary';
import { phase } from '../src/observability/host-phases';

export function createEncodeActivities(deps: ActivityDeps) {
  return {
    async encodeSegment(input: EncodeInput): Promise<StageOutput> {
      const { spec, pack, segment: seg, tiles } = input;
      const key = stageKey(
        spec.jobId,
        'clips',
        segName(seg.index),
        { tiles: tiles.map((t) => t.key), fps: spec.fps },
        'mp4',
      );
      const ev: StageEvent = { jobId: spec.jobId, stage: 'encode', segment: seg.index };
      if (await alreadyDone(deps, key, ev)) return { key, reused: true };
      emit(deps.events, ev, 'started');
      const { height: H, width: W } = pack.video;
      const keys = new Map(tiles.map((t) => [t.tile.index, t.key]));
      const ctx = Context.current();
      const blended = blendTiles(
        tiles.map((t) => t.tile),
        async (tile) => {
          const bytes = await deps.store.get(keys.get(tile.index) as string);
          return phase('decode', () => decodeTensor(bytes));
        },
        seg.frames,
        { height: H, width: W, factor: UPSCALE_FACTOR },
      );
      async function* frames(): AsyncGenerator<Uint8Array> {
        let f = seg.frames.start;
        for await (const px of blended) {
          // Cancelled (job cancelled, worker shutting down): stop at a frame boundary; encodeClip
          // kills ffmpeg and nothing is stored, so the retry elsewhere encodes the clip afresh.
          throwIfCancelled(ctx);
          ctx.heartbeat({ frame: f++ });
          yield phase('encode', () => toRgb24(px, H, W));
        }
      }
      const dir = await mkdtemp(path.join(deps.scratchDir, `encode-${segName(seg.index)}-`));
      try {
        const file = path.join(dir, 'clip.mp4');
        await encodeClip(frames(), { width: W, height: H, fps: spec.fps }, file);
        await deps.store.putFile(key, file, { contentType: 'video/mp4' });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      emit(deps.events, ev, 'completed');
      return { key, reused: false };
    },
  };
}

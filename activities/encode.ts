/**
 * Encode stage: blends a segment's upscaled tiles into frames (weights fall to zero at edges shared
 * with a neighbour, so seams vanish) and pipes them as raw RGB into ffmpeg for the segment's H.264
 * clip. Frames are blended one temporal chunk at a time, so memory holds about two chunks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { boxWeights } from '../src/sampling';
import { decodeTensor } from '../src/tensors';
import { UPSCALE_FACTOR } from '../src/planning/pack-summary';
import { encodeClip, toRgb24 } from '../src/media/ffmpeg';
import { emit, type StageEvent } from '../src/pipeline/stage-runner';
import { segName, stageKey } from '../src/pipeline/keys';
import type { ActivityDeps } from './deps';
import type { EncodeInput, StageOutput } from './types';

export function createEncodeActivities(deps: ActivityDeps) {
  return {
    async encodeSegment(input: EncodeInput): Promise<StageOutput> {
      const { spec, pack, segment: seg, tiles } = input;
      const key = stageKey(spec.jobId, 'clips', segName(seg.index), { tiles: tiles.map((t) => t.key), fps: spec.fps }, 'mp4');
      const ev: StageEvent = { jobId: spec.jobId, stage: 'encode', segment: seg.index };
      if ((await deps.store.exists(key)) && (await deps.store.getVerified(key)) !== undefined) {
        emit(deps.events, ev, 'reused');
        return { key, reused: true };
      }
      emit(deps.events, ev, 'started');
      const { height: H, width: W } = pack.video;
      const plane = H * W;
      const frameSize = 3 * plane;
      const F = UPSCALE_FACTOR;
      // Tiles grouped by temporal chunk, in time order.
      const chunks = new Map<number, typeof tiles>();
      for (const t of tiles) chunks.set(t.tile.t.start, [...(chunks.get(t.tile.t.start) ?? []), t]);
      const order = [...chunks.keys()].sort((a, b) => a - b);
      const acc = new Map<number, { sum: Float32Array; weight: Float32Array }>();
      const slot = (f: number) => {
        let s = acc.get(f);
        if (!s) acc.set(f, (s = { sum: new Float32Array(frameSize), weight: new Float32Array(frameSize) }));
        return s;
      };
      const ctx = Context.current();
      async function* frames(): AsyncGenerator<Uint8Array> {
        let next = seg.frames.start;
        for (let k = 0; k < order.length; k++) {
          for (const { tile, key: tileKey } of chunks.get(order[k]) ?? []) {
            const box = decodeTensor(await deps.store.get(tileKey));
            const [Tt, C, hh, ww] = box.shape;
            const w = boxWeights(box.shape, [
              [tile.t.overlapBefore, tile.t.overlapAfter],
              [0, 0],
              [tile.y.overlapBefore * F, tile.y.overlapAfter * F],
              [tile.x.overlapBefore * F, tile.x.overlapAfter * F],
            ]);
            for (let t = 0; t < Tt; t++) {
              const s = slot(tile.t.start + t);
              for (let c = 0; c < C; c++) {
                for (let y = 0; y < hh; y++) {
                  const src = ((t * C + c) * hh + y) * ww;
                  const dst = c * plane + (tile.y.start * F + y) * W + tile.x.start * F;
                  for (let x = 0; x < ww; x++) {
                    s.sum[dst + x] += w[src + x] * box.data[src + x];
                    s.weight[dst + x] += w[src + x];
                  }
                }
              }
            }
          }
          // Frames before the next chunk's start have all their tiles now.
          const finalUntil = k + 1 < order.length ? order[k + 1] : seg.frames.end;
          for (; next < finalUntil; next++) {
            const s = acc.get(next);
            if (!s) throw new Error(`frame ${next} of segment ${seg.index} is covered by no tile`);
            const px = new Float32Array(frameSize);
            for (let i = 0; i < frameSize; i++) {
              if (!(s.weight[i] > 0)) throw new Error(`pixel ${i} of frame ${next} has zero blend weight`);
              px[i] = s.sum[i] / s.weight[i];
            }
            acc.delete(next);
            ctx.heartbeat({ frame: next });
            yield toRgb24(px, H, W);
          }
        }
        if (next !== seg.frames.end) throw new Error(`segment ${seg.index} produced frames up to ${next}, expected ${seg.frames.end}`);
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

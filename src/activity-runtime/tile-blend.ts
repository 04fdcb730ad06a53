/**
 * Blending overlapping upscaled tiles back into frames: each tile is weighted by ramps that fall to
 * zero at edges it shares with a neighbour (1 at the frame's own borders), and every pixel is the
 * weighted mean of the tiles covering it. Frames come out in order, one temporal chunk at a time,
 * so memory holds about two chunks of frames, never a whole segment.
 */
import { rampWeights } from '../sampling';
import type { Tensor } from '../tensors';
import type { UpscaleTilePlan } from '../planning/plan';
import type { Span } from '../planning/tiling';
import { phase } from '../observability/host-phases';

export async function* blendTiles(
  tiles: UpscaleTilePlan[],
  load: (tile: UpscaleTilePlan) => Promise<Tensor>,
  frames: Span,
  geometry: { height: number; width: number; factor: number },
): AsyncGenerator<Float32Array> {
  const { height: H, width: W, factor: F } = geometry;
  const plane = H * W;
  const frameSize = 3 * plane;
  const chunks = new Map<number, UpscaleTilePlan[]>();
  for (const t of tiles) chunks.set(t.t.start, [...(chunks.get(t.t.start) ?? []), t]);
  const order = [...chunks.keys()].sort((a, b) => a - b);
  const acc = new Map<number, { sum: Float32Array; weight: Float32Array }>();
  const slot = (f: number) => {
    let s = acc.get(f);
    if (!s) acc.set(f, (s = { sum: new Float32Array(frameSize), weight: new Float32Array(frameSize) }));
    return s;
  };
  let next = frames.start;
  for (let k = 0; k < order.length; k++) {
    for (const tile of chunks.get(order[k]) ?? []) {
      const box = await load(tile);
      phase('blend', () => {
        const [Tt, C, hh, ww] = box.shape;
        if (
          Tt !== tile.t.end - tile.t.start ||
          hh !== (tile.y.end - tile.y.start) * F ||
          ww !== (tile.x.end - tile.x.start) * F
        ) {
          throw new Error(
            `tile ${tile.index} has shape [${box.shape}], planned [${tile.t.end - tile.t.start},3,${(tile.y.end - tile.y.start) * F},${(tile.x.end - tile.x.start) * F}]`,
          );
        }
        // The weights are boxWeights' outer product of per-axis ramps, taken a row at a time: the same
        // float32 products in the same order (t, c, y, then x), without a weight array per tile.
        const wt = rampWeights(Tt, tile.t.overlapBefore, tile.t.overlapAfter);
        const wc = rampWeights(C, 0, 0);
        const wy = rampWeights(hh, tile.y.overlapBefore * F, tile.y.overlapAfter * F);
        const wx = rampWeights(ww, tile.x.overlapBefore * F, tile.x.overlapAfter * F);
        const { data } = box;
        for (let t = 0; t < Tt; t++) {
          const s = slot(tile.t.start + t);
          const { sum, weight } = s;
          const pt = Math.fround(1 * wt[t]);
          for (let c = 0; c < C; c++) {
            const pc = Math.fround(pt * wc[c]);
            for (let y = 0; y < hh; y++) {
              const py = Math.fround(pc * wy[y]);
              const src = ((t * C + c) * hh + y) * ww;
              const dst = c * plane + (tile.y.start * F + y) * W + tile.x.start * F;
              for (let x = 0; x < ww; x++) {
                const w = Math.fround(py * wx[x]);
                sum[dst + x] += w * data[src + x];
                weight[dst + x] += w;
              }
            }
          }
        }
      });
    }
    // Frames before the next chunk's start have all their tiles now.
    const finalUntil = k + 1 < order.length ? order[k + 1] : frames.end;
    for (; next < finalUntil; next++) {
      const s = acc.get(next);
      if (!s) throw new Error(`frame ${next} is covered by no tile`);
      const px = phase('blend', () => {
        const out = new Float32Array(frameSize);
        for (let i = 0; i < frameSize; i++) {
          if (!(s.weight[i] > 0)) throw new Error(`pixel ${i} of frame ${next} has zero blend weight`);
          out[i] = s.sum[i] / s.weight[i];
        }
        return out;
      });
      acc.delete(next);
      yield px;
    }
  }
  if (next !== frames.end) throw new Error(`tiles produced frames up to ${next}, expected ${frames.end}`);
}

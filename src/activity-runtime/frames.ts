/**
 * Gathering frames [start, end) of one time axis from the artifacts that hold them. Windows share
 * their boundary frames, so a frame may be in two sources; both hold identical values (known frames
 * are copied through exactly), and the first source is used.
 */
import type { ArtifactStore } from '../storage';
import { decodeTensor, tensor, type Tensor } from '../tensors';
import type { FrameSource } from '../common/boundary';
import { phase } from '../observability/host-phases';

export async function gatherFrames(
  store: ArtifactStore,
  sources: FrameSource[],
  start: number,
  end: number,
): Promise<Tensor> {
  if (!(end > start)) throw new RangeError(`empty frame range [${start}, ${end})`);
  const loaded: Array<{ src: FrameSource; t: Tensor }> = [];
  for (const src of sources) {
    if (src.end <= start || src.start >= end) continue;
    const bytes = await store.get(src.key);
    const t = phase('decode', () => decodeTensor(bytes));
    if (t.shape[0] !== src.end - src.start) {
      throw new Error(`artifact ${src.key} holds ${t.shape[0]} frames, expected ${src.end - src.start}`);
    }
    loaded.push({ src, t });
  }
  if (loaded.length === 0) throw new Error(`no source holds frames [${start}, ${end})`);
  return phase('decode', () => assemble(loaded, sources, start, end));
}

/** Frames [start, end) copied out of the loaded sources. */
function assemble(
  loaded: Array<{ src: FrameSource; t: Tensor }>,
  sources: FrameSource[],
  start: number,
  end: number,
): Tensor {
  const frameShape = loaded[0].t.shape.slice(1);
  const frameSize = frameShape.reduce((a, b) => a * b, 1);
  const out = tensor([end - start, ...frameShape]);
  for (let f = start; f < end; f++) {
    const hit = loaded.find(({ src }) => f >= src.start && f < src.end);
    if (!hit)
      throw new Error(
        `frame ${f} is in none of the sources ${sources.map((s) => `[${s.start},${s.end})`).join(' ')}`,
      );
    const from = (f - hit.src.start) * frameSize;
    out.data.set(hit.t.data.subarray(from, from + frameSize), (f - start) * frameSize);
  }
  return out;
}

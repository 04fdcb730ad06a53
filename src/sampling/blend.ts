/**
 * Tiling and blending weights for patchwise super-resolution and windowed processing: tiles that overlap
 * a neighbour fade out across the overlap with a raised-cosine ramp, and are blended by accumulating
 * weight·value and dividing by the accumulated weight (tensors/tensor.ts addBoxWeighted/normalizeWeighted).
 *
 * The ramp over an overlap of o samples is w(k) = sin²(π/2 · (k+1)/(o+1)), k = 0 … o−1, rising into the
 * tile; the neighbour's falling ramp at the same samples is w(o−1−k) = cos²(π/2 · (k+1)/(o+1)), so the two
 * sum to 1 (a partition of unity) wherever at most two tiles meet and both agree on the overlap. Edge
 * weights are small but never 0, so dividing by the accumulated weight is always defined.
 */

export interface Tile1d {
  start: number;
  size: number;
  /** Samples shared with the previous tile (0 for the first). */
  overlapBefore: number;
  /** Samples shared with the next tile (0 for the last). */
  overlapAfter: number;
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
}

/** Rising half of the ramp: weight of sample k (0-based, from the tile edge) of an overlap of o samples. */
function rise(k: number, o: number): number {
  const s = Math.sin((Math.PI / 2) * ((k + 1) / (o + 1)));
  return s * s;
}

/**
 * 1-D weights of a tile of `size` samples: ramps over the first `overlapBefore` and last `overlapAfter`
 * samples (edges shared with a neighbour), 1 elsewhere, including at global borders (overlap 0).
 * If the two ramps meet (overlapBefore + overlapAfter > size), they multiply.
 */
export function rampWeights(size: number, overlapBefore: number, overlapAfter: number): Float32Array {
  checkCount('tile size', size, 1);
  checkCount('overlapBefore', overlapBefore, 0);
  checkCount('overlapAfter', overlapAfter, 0);
  if (overlapBefore > size || overlapAfter > size) {
    throw new RangeError(
      `overlaps (${overlapBefore}, ${overlapAfter}) must not exceed the tile size ${size}`,
    );
  }
  const w = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    let v = 1;
    if (j < overlapBefore) v *= rise(j, overlapBefore);
    const fromEnd = size - 1 - j;
    if (fromEnd < overlapAfter) v *= rise(fromEnd, overlapAfter);
    w[j] = v;
  }
  return w;
}

/** Row-major outer product of rampWeights per axis: the weights of an N-d box of `sizes`. */
export function boxWeights(sizes: number[], overlaps: Array<[number, number]>): Float32Array {
  if (sizes.length !== overlaps.length) {
    throw new RangeError(`boxWeights got ${sizes.length} sizes but ${overlaps.length} overlap pairs`);
  }
  let out = new Float32Array([1]);
  sizes.forEach((size, d) => {
    const w = rampWeights(size, overlaps[d][0], overlaps[d][1]);
    const next = new Float32Array(out.length * size);
    for (let i = 0; i < out.length; i++) for (let j = 0; j < size; j++) next[i * size + j] = out[i] * w[j];
    out = next;
  });
  return out;
}

/**
 * Covers [0, total) with the fewest tiles of `size` that overlap by at least `overlap`, spread evenly
 * (starts rounded to integers), so overlaps are as uniform as the integers allow. A total smaller than
 * the tile gives one tile of the whole extent.
 */
export function planTiles1d(total: number, size: number, overlap: number): Tile1d[] {
  checkCount('total', total, 1);
  checkCount('tile size', size, 1);
  checkCount('overlap', overlap, 0);
  if (overlap >= size)
    throw new RangeError(`tile overlap must be smaller than the tile size ${size}, got ${overlap}`);
  if (total <= size) return [{ start: 0, size: total, overlapBefore: 0, overlapAfter: 0 }];
  const n = 1 + Math.ceil((total - size) / (size - overlap));
  const starts = Array.from({ length: n }, (_, k) => Math.round((k * (total - size)) / (n - 1)));
  return starts.map((start, k) => ({
    start,
    size,
    overlapBefore: k > 0 ? starts[k - 1] + size - start : 0,
    overlapAfter: k + 1 < n ? start + size - starts[k + 1] : 0,
  }));
}

/**
 * A minimal row-major float32 tensor (shape + data) and the slicing, concatenation and weighted
 * accumulation that windowed and tiled stages need. Pure; no copies beyond what each operation returns.
 */

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkShape(shape: readonly number[]): void {
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`shape [${shape}] axis ${i} must be an integer ≥ 0, got ${d}`);
  });
}

/** Row-major strides (in elements). */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** A tensor of `shape`, zero-filled unless `data` (whose length must match the shape) is given. */
export function tensor(shape: number[], data?: Float32Array): Tensor {
  checkShape(shape);
  const n = numel(shape);
  if (data && data.length !== n) {
    throw new RangeError(`shape [${shape}] needs ${n} values, got ${data.length}`);
  }
  return { shape: shape.slice(), data: data ?? new Float32Array(n) };
}

function checkAxis(t: Tensor, axis: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= t.shape.length) {
    throw new RangeError(`axis must be in [0, ${t.shape.length - 1}] for shape [${t.shape}], got ${axis}`);
  }
}

/** Copies the sub-box [origin, origin + size) of an N-d tensor. */
export function sliceBox(t: Tensor, origin: number[], size: number[]): Tensor {
  const nd = t.shape.length;
  if (origin.length !== nd || size.length !== nd) {
    throw new RangeError(
      `sliceBox needs origin and size of rank ${nd}, got ${origin.length} and ${size.length}`,
    );
  }
  for (let d = 0; d < nd; d++) {
    if (
      !Number.isInteger(origin[d]) ||
      !Number.isInteger(size[d]) ||
      origin[d] < 0 ||
      size[d] < 0 ||
      origin[d] + size[d] > t.shape[d]
    ) {
      throw new RangeError(`box [${origin}] + [${size}] does not fit in shape [${t.shape}] on axis ${d}`);
    }
  }
  const out = tensor(size);
  forEachRow(t.shape, origin, size, (src, dst, len) => out.data.set(t.data.subarray(src, src + len), dst));
  return out;
}

/**
 * Calls fn(sourceOffset, boxOffset, rowLength) for every contiguous last-axis row of the box
 * [origin, origin + size) inside a tensor of `shape`.
 */
function forEachRow(
  shape: readonly number[],
  origin: readonly number[],
  size: readonly number[],
  fn: (src: number, dst: number, len: number) => void,
): void {
  const nd = shape.length;
  const n = numel(size);
  if (n === 0) return;
  if (nd === 0) {
    fn(0, 0, 1);
    return;
  }
  const st = strides(shape);
  const rowLen = size[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  for (let dst = 0; dst < n; dst += rowLen) {
    let src = origin[nd - 1];
    for (let d = 0; d < nd - 1; d++) src += (origin[d] + idx[d]) * st[d];
    fn(src, dst, rowLen);
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

/** Copies indices [start, end) along one axis (e.g. frames of [B,T,C,H,W] along axis 1). */
export function sliceFrames(t: Tensor, axis: number, start: number, end: number): Tensor {
  checkAxis(t, axis);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > t.shape[axis]) {
    throw new RangeError(`slice [${start}, ${end}) is out of range for axis ${axis} of shape [${t.shape}]`);
  }
  const origin = t.shape.map((_, d) => (d === axis ? start : 0));
  const size = t.shape.map((s, d) => (d === axis ? end - start : s));
  return sliceBox(t, origin, size);
}

/** Joins tensors along `axis`; all other axes must agree. */
export function concat(ts: Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw new RangeError('concat needs at least one tensor');
  const first = ts[0];
  checkAxis(first, axis);
  ts.forEach((t, i) => {
    if (t.shape.length !== first.shape.length || t.shape.some((s, d) => d !== axis && s !== first.shape[d])) {
      throw new RangeError(
        `concat on axis ${axis}: tensor ${i} has shape [${t.shape}], tensor 0 has [${first.shape}]`,
      );
    }
  });
  const shape = first.shape.slice();
  shape[axis] = ts.reduce((a, t) => a + t.shape[axis], 0);
  const out = tensor(shape);
  // Each input contributes one contiguous chunk per index of the axes before `axis`.
  const outer = numel(first.shape.slice(0, axis));
  const inner = numel(first.shape.slice(axis + 1));
  const outChunk = shape[axis] * inner;
  let offset = 0;
  for (const t of ts) {
    const chunk = t.shape[axis] * inner;
    for (let o = 0; o < outer; o++)
      out.data.set(t.data.subarray(o * chunk, (o + 1) * chunk), o * outChunk + offset);
    offset += chunk;
  }
  return out;
}

/**
 * Tile blending: target[origin + p] += boxWeights[p]·box[p] and weights[origin + p] += boxWeights[p] for
 * every position p of the box. `weights` is a target-sized accumulator; finish with normalizeWeighted.
 */
export function addBoxWeighted(
  target: Tensor,
  weights: Float32Array,
  box: Tensor,
  origin: number[],
  boxWeights: Float32Array,
): void {
  const nd = target.shape.length;
  if (weights.length !== target.data.length) {
    throw new RangeError(
      `weights accumulator has ${weights.length} values, target has ${target.data.length}`,
    );
  }
  if (boxWeights.length !== box.data.length) {
    throw new RangeError(`box weights have ${boxWeights.length} values, box has ${box.data.length}`);
  }
  if (box.shape.length !== nd || origin.length !== nd) {
    throw new RangeError(`box shape [${box.shape}] and origin [${origin}] must have the target's rank ${nd}`);
  }
  for (let d = 0; d < nd; d++) {
    if (!Number.isInteger(origin[d]) || origin[d] < 0 || origin[d] + box.shape[d] > target.shape[d]) {
      throw new RangeError(
        `box [${box.shape}] at [${origin}] does not fit in target [${target.shape}] on axis ${d}`,
      );
    }
  }
  const td = target.data;
  const bd = box.data;
  forEachRow(target.shape, origin, box.shape, (dst, src, len) => {
    for (let i = 0; i < len; i++) {
      const w = boxWeights[src + i];
      td[dst + i] += w * bd[src + i];
      weights[dst + i] += w;
    }
  });
}

/** Divides an accumulated target by its accumulated weights in place; every position must be covered. */
export function normalizeWeighted(target: Tensor, weights: Float32Array): void {
  if (weights.length !== target.data.length) {
    throw new RangeError(
      `weights accumulator has ${weights.length} values, target has ${target.data.length}`,
    );
  }
  for (let i = 0; i < weights.length; i++) {
    if (!(weights[i] > 0)) throw new RangeError(`position ${i} of [${target.shape}] was covered by no tile`);
    target.data[i] /= weights[i];
  }
}

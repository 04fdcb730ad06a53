/**
 * Model inputs, built from the contract. Every feed the host gives a model — the sampling loop's
 * denoiser calls, the speed probes' zero inputs, `vldm models verify`'s seeded probes — is named and
 * shaped here from the role's specification (ROLE_SPECS), so input names and shapes are stated once,
 * in contract.ts. Callers give the contract's symbols (B, T, c, h, w, L, H, W) and the values.
 * Pure: no I/O.
 */
import {
  INPUTS,
  ROLE_SPECS,
  evalDim,
  formatShape,
  type InputKey,
  type Role,
  type SamplingRole,
  type TensorSpec,
} from './contract';
import type { TensorData } from './runtime';

/** Named float32 inputs of one model call. */
export type Feeds = Record<string, TensorData>;

/** Sizes of the contract's dimension symbols for one call, e.g. `{ B: 2, T: 5, c: 4, h: 8, w: 16, L: 4 }`. */
export type Symbols = Readonly<Record<string, number>>;

/** The values of one input, given its shape under the call's symbols. */
export type Fill = (shape: number[]) => Float32Array;

const KEY_OF: ReadonlyMap<string, InputKey> = new Map(
  (Object.entries(INPUTS) as Array<[InputKey, string]>).map(([key, name]) => [name, key]),
);

/** The contract's shape of `input` under `symbols`; throws when a dimension has no integer size. */
export function inputShape(input: TensorSpec, symbols: Symbols): number[] {
  return input.dims.map((expr) => {
    const size = evalDim(expr, symbols);
    if (size === undefined || !Number.isInteger(size)) {
      throw new Error(
        `input ${input.name} ${formatShape(input.dims)}: dim ${expr} has no integer size with ${JSON.stringify(symbols)}`,
      );
    }
    return size;
  });
}

/**
 * One feed per input of `role`, in the contract's order, each at its contract shape under `symbols`
 * with the values `fill` gives for it (one function for every input, or one per input key). `only`
 * picks a subset of the inputs. Throws when an input has no value, or a value names no input of the role.
 */
export function roleFeeds(
  role: Role,
  symbols: Symbols,
  fill: Fill | Partial<Record<InputKey, Fill>>,
  only: (key: InputKey) => boolean = () => true,
): Feeds {
  const inputs = ROLE_SPECS[role].inputs.filter((i) => only(keyOf(i)));
  if (typeof fill !== 'function') {
    for (const key of Object.keys(fill) as InputKey[]) {
      if (!inputs.some((i) => keyOf(i) === key))
        throw new Error(`${role} has no input ${INPUTS[key]} to give a value to`);
    }
  }
  const feeds: Feeds = {};
  for (const input of inputs) {
    const values = typeof fill === 'function' ? fill : fill[keyOf(input)];
    if (!values) throw new Error(`${role} needs input ${input.name}, and no value was given for it`);
    const shape = inputShape(input, symbols);
    const data = values(shape);
    const size = shape.reduce((n, d) => n * d, 1);
    if (data.length !== size)
      throw new Error(`input ${input.name} ${formatShape(shape)} holds ${size} values, got ${data.length}`);
    feeds[input.name] = { shape, data };
  }
  return feeds;
}

function keyOf(input: TensorSpec): InputKey {
  const key = KEY_OF.get(input.name);
  if (key === undefined) throw new Error(`contract input ${input.name} is not in INPUTS`);
  return key;
}

/** All-zero inputs of `role` (what the speed probes time: cost does not depend on the values). */
export function zeroFeeds(role: Role, symbols: Symbols): Feeds {
  return roleFeeds(role, symbols, (shape) => new Float32Array(shape.reduce((n, d) => n * d, 1)));
}

/** The feed of a role with one input (the encoder's `pixels`, the decoder's `latents`), batch included. */
export function soleFeed(role: Role, tensor: TensorData): Feeds {
  const inputs = ROLE_SPECS[role].inputs;
  if (inputs.length !== 1) throw new Error(`${role} takes ${inputs.length} inputs, not one`);
  return { [inputs[0].name]: tensor };
}

/** Which conditioning one batch row of a guided call carries (src/sampling's guidance rows). */
export interface FeedRow {
  useContext: boolean;
  useLabels: boolean;
}

/** What the sampling loop conditions a denoiser on, besides the sample `x` and its time `t`. */
export interface SamplingInputs {
  /** Known frames and labels (keyframe and interpolation roles). */
  conditioning?: {
    /** [T, c, h, w] clean latents of the known frames, zeros elsewhere. */
    context: Float32Array;
    /** [T] 1 on the known frames. */
    frameMask: Float32Array;
    /** Multi-hot labels in the pack's order. */
    labels: number[];
  };
  /** Interpolation: which pass (0: T → 4T, 1: 4T → 16T). */
  rate?: number;
  /** Upsampler: the low-res frames [T, 3, H/4, W/4], already noise-augmented. */
  lowres?: TensorData;
  /** Upsampler: the augmentation time γ of `lowres`. */
  noiseLevel?: number;
}

/** The inputs that change every DDIM step; everything else is built once per sampling loop. */
const STEP_INPUTS: readonly InputKey[] = ['x', 't'];

/**
 * The feeds of a sampling loop's model calls: one batch row per entry of `rows` (guidance rows share a
 * call), samples of `shape` [T, C, H, W]. Conditioning is built once; the returned function adds the
 * step's `x` (repeated per row) and `t`.
 */
export function samplingFeeds(
  role: SamplingRole,
  rows: readonly FeedRow[],
  shape: readonly number[],
  inputs: SamplingInputs,
): (x: Float32Array, t: number) => Feeds {
  const B = rows.length;
  const spec = ROLE_SPECS[role];
  const [T, , H, W] = shape;
  // The role's first input is the sample itself: [B, …shape] binds its symbols.
  const symbols: Record<string, number> = {};
  spec.inputs[0].dims.forEach((expr, axis) => {
    if (/^[A-Za-z]\w*$/.test(expr)) symbols[expr] = [B, ...shape][axis];
  });
  const fixed: Partial<Record<InputKey, Fill>> = {};
  const cond = inputs.conditioning;
  if (cond) {
    symbols.L = cond.labels.length;
    const zeros = new Float32Array(cond.context.length);
    fixed.context = () => concatRows(rows.map((r) => (r.useContext ? cond.context : zeros)));
    const plane = H * W;
    const maskOne = new Float32Array(T * plane);
    cond.frameMask.forEach((m, f) => maskOne.fill(m, f * plane, (f + 1) * plane));
    const maskZero = new Float32Array(T * plane);
    fixed.mask = () => concatRows(rows.map((r) => (r.useContext ? maskOne : maskZero)));
    const L = cond.labels.length;
    const labelsOne = Float32Array.from(cond.labels);
    fixed.labels = () => concatRows(rows.map((r) => (r.useLabels ? labelsOne : new Float32Array(L))));
  }
  const perRow = (v: number) => () => new Float32Array(B).fill(v);
  if (inputs.rate !== undefined) fixed.rate = perRow(inputs.rate);
  if (inputs.noiseLevel !== undefined) fixed.noiseLevel = perRow(inputs.noiseLevel);
  const lowres = inputs.lowres;
  if (lowres) {
    fixed.lowres = (s) => {
      if (formatShape(s) !== formatShape([B, ...lowres.shape]))
        throw new Error(
          `lowres is ${formatShape(lowres.shape)}, the contract wants ${formatShape(s.slice(1))}`,
        );
      return repeat(lowres.data, B);
    };
  }
  const once = roleFeeds(role, symbols, fixed, (k) => !STEP_INPUTS.includes(k));
  return (x, t) => ({
    ...once,
    ...roleFeeds(role, symbols, { x: () => repeat(x, B), t: perRow(t) }, (k) => STEP_INPUTS.includes(k)),
  });
}

function repeat(data: Float32Array, times: number): Float32Array {
  if (times === 1) return data;
  const out = new Float32Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}

function concatRows(rows: Float32Array[]): Float32Array {
  if (rows.length === 1) return rows[0];
  const n = rows[0].length;
  const out = new Float32Array(n * rows.length);
  rows.forEach((r, i) => out.set(r, i * n));
  return out;
}

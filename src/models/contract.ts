/**
 * The model contract (docs/model-contract.md) as data: the roles a pack holds, each role's input and
 * output tensors with the way their dimensions are tied together, and the ONNX metadata keys each
 * role carries with their allowed values. The manifest parser, the runtime's shape checks and
 * `vldm models verify` all read these tables, so the contract is written down once in TypeScript.
 * Pure: no I/O, safe to import from anywhere.
 */

/** Contract version this code implements (`vldm.contract` and the manifest's `contract`). */
export const CONTRACT_VERSION = 1;

/** File name of a pack's manifest, at the root of the pack folder or S3 prefix. */
export const MANIFEST_FILE = 'vldm-pack.json';

/** The super-resolution factor of the upsampler: `lowres` is `x` at 1/4 of its height and width. */
export const UPSCALE_FACTOR = 4;

/**
 * Interpolation's known frames sit every 4th frame (`mask[:, 0::4] = 1`): one pass puts 3 new frames
 * between each pair, T → 4T.
 */
export const INTERPOLATION_RATE = 4;

/** Frames of an interpolation window that fills `intervals` keyframe intervals: `T = 4·intervals + 1`. */
export function interpolationFrames(intervals: number): number {
  return INTERPOLATION_RATE * intervals + 1;
}

/** Roles every pack must hold, in pipeline order. */
export const REQUIRED_ROLES = ['encoder', 'decoder', 'keyframe', 'interpolation', 'upsampler'] as const;
/** Image-only (`α = 1`) comparison variants: optional, never used by default. */
export const OPTIONAL_ROLES = ['keyframe_image', 'upsampler_image'] as const;
export const ROLES = [...REQUIRED_ROLES, ...OPTIONAL_ROLES] as const;

export type RequiredRole = (typeof REQUIRED_ROLES)[number];
export type OptionalRole = (typeof OPTIONAL_ROLES)[number];
export type Role = (typeof ROLES)[number];
/** The roles the pipeline samples with: one per denoising stage, named as the stage's sampling settings. */
export type SamplingRole = 'keyframe' | 'interpolation' | 'upsampler';

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** What a role computes, which decides the metadata it carries. */
export type RoleKind = 'encoder' | 'decoder' | 'denoiser';

/** Allowed values of the enumerated metadata keys. */
export const VARIANTS = ['video', 'image'] as const;
export type Variant = (typeof VARIANTS)[number];
export const PREDICTIONS = ['eps', 'v'] as const;
export type Prediction = (typeof PREDICTIONS)[number];
export const SCHEDULES = ['linear', 'scaled_linear', 'cosine'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

/**
 * A dimension of a contract tensor, written as in the contract's tables:
 * - a number (`'3'` RGB channels, `'1'` mask channel) is fixed;
 * - a symbol is bound by the first tensor that uses it and must agree everywhere else.
 *   `B`, `T` (batch, frames), `H`, `W` (pixel size), `h`, `w` (latent size) come from the inputs;
 *   `c` (`vldm.latent_channels`), `L` (number of `vldm.labels`) and `f` (`vldm.downsample`) come from
 *   the model's metadata when it has them;
 * - `H/4`, `h*f`, `H/f`: a bound symbol divided or multiplied by a number or a symbol; a division
 *   must be exact.
 */
export type DimExpr = string;

/**
 * The input names of the contract's roles (its "Roles" and "Denoiser inputs" tables), under the
 * identifiers the host code uses for them. ROLE_SPECS names every input from here.
 */
export const INPUTS = {
  pixels: 'pixels',
  latents: 'latents',
  x: 'x',
  t: 't',
  context: 'context',
  mask: 'mask',
  labels: 'labels',
  rate: 'rate',
  lowres: 'lowres',
  noiseLevel: 'noise_level',
} as const;
export type InputKey = keyof typeof INPUTS;

export interface TensorSpec {
  readonly name: string;
  readonly dims: readonly DimExpr[];
}

export interface RoleSpec {
  readonly role: Role;
  readonly kind: RoleKind;
  readonly required: boolean;
  /** The variant the role's file must declare: `image` exactly for the image-only comparison roles. */
  readonly variant: Variant;
  /** Inputs in the order their symbols are bound (the first one names the role's own resolution). */
  readonly inputs: readonly TensorSpec[];
  readonly output: TensorSpec;
  /** Whether the role takes `labels` and so carries `vldm.labels`. */
  readonly labelled: boolean;
}

const LATENT_VIDEO = ['B', 'T', 'c', 'h', 'w'] as const;
const MASK = ['B', 'T', '1', 'h', 'w'] as const;
const PIXEL_VIDEO = ['B', 'T', '3', 'H', 'W'] as const;
const PER_ROW = ['B'] as const;

const KEYFRAME_INPUTS: readonly TensorSpec[] = [
  { name: INPUTS.x, dims: LATENT_VIDEO },
  { name: INPUTS.t, dims: PER_ROW },
  { name: INPUTS.context, dims: LATENT_VIDEO },
  { name: INPUTS.mask, dims: MASK },
  { name: INPUTS.labels, dims: ['B', 'L'] },
];
const UPSAMPLER_INPUTS: readonly TensorSpec[] = [
  { name: INPUTS.x, dims: PIXEL_VIDEO },
  { name: INPUTS.t, dims: PER_ROW },
  { name: INPUTS.lowres, dims: ['B', 'T', '3', `H/${UPSCALE_FACTOR}`, `W/${UPSCALE_FACTOR}`] },
  { name: INPUTS.noiseLevel, dims: PER_ROW },
];

/** Every role's tensors, as the contract's "Roles" and "Denoiser inputs" tables give them. */
export const ROLE_SPECS: Readonly<Record<Role, RoleSpec>> = {
  encoder: {
    role: 'encoder',
    kind: 'encoder',
    required: true,
    variant: 'video',
    inputs: [{ name: INPUTS.pixels, dims: PIXEL_VIDEO }],
    output: { name: 'latents', dims: ['B', 'T', 'c', 'H/f', 'W/f'] },
    labelled: false,
  },
  decoder: {
    role: 'decoder',
    kind: 'decoder',
    required: true,
    variant: 'video',
    inputs: [{ name: INPUTS.latents, dims: LATENT_VIDEO }],
    output: { name: 'pixels', dims: ['B', 'T', '3', 'h*f', 'w*f'] },
    labelled: false,
  },
  keyframe: {
    role: 'keyframe',
    kind: 'denoiser',
    required: true,
    variant: 'video',
    inputs: KEYFRAME_INPUTS,
    output: { name: 'out', dims: LATENT_VIDEO },
    labelled: true,
  },
  interpolation: {
    role: 'interpolation',
    kind: 'denoiser',
    required: true,
    variant: 'video',
    inputs: [...KEYFRAME_INPUTS, { name: INPUTS.rate, dims: PER_ROW }],
    output: { name: 'out', dims: LATENT_VIDEO },
    labelled: true,
  },
  upsampler: {
    role: 'upsampler',
    kind: 'denoiser',
    required: true,
    variant: 'video',
    inputs: UPSAMPLER_INPUTS,
    output: { name: 'out', dims: PIXEL_VIDEO },
    labelled: false,
  },
  keyframe_image: {
    role: 'keyframe_image',
    kind: 'denoiser',
    required: false,
    variant: 'image',
    inputs: KEYFRAME_INPUTS,
    output: { name: 'out', dims: LATENT_VIDEO },
    labelled: true,
  },
  upsampler_image: {
    role: 'upsampler_image',
    kind: 'denoiser',
    required: false,
    variant: 'image',
    inputs: UPSAMPLER_INPUTS,
    output: { name: 'out', dims: PIXEL_VIDEO },
    labelled: false,
  },
};

/** ONNX `metadata_props` keys (the contract's metadata table). */
export const META = {
  contract: 'vldm.contract',
  role: 'vldm.role',
  variant: 'vldm.variant',
  prediction: 'vldm.prediction',
  schedule: 'vldm.schedule',
  betaStart: 'vldm.beta_start',
  betaEnd: 'vldm.beta_end',
  trainSteps: 'vldm.train_steps',
  latentChannels: 'vldm.latent_channels',
  latentScale: 'vldm.latent_scale',
  downsample: 'vldm.downsample',
  window: 'vldm.window',
  labels: 'vldm.labels',
  spatialMultiple: 'vldm.spatial_multiple',
} as const;

/** Keys every role's file carries. */
export const COMMON_META_KEYS: readonly string[] = [
  META.contract,
  META.role,
  META.variant,
  META.latentChannels,
  META.latentScale,
  META.downsample,
  META.window,
  META.spatialMultiple,
];

/** Keys a denoiser's file carries on top of the common ones (betas only for the beta schedules). */
export const DENOISER_META_KEYS: readonly string[] = [META.prediction, META.schedule, META.trainSteps];

/** The metadata keys a file of `role` must carry (betas are checked with the schedule). */
export function requiredMetaKeys(role: Role): string[] {
  const spec = ROLE_SPECS[role];
  const keys = [...COMMON_META_KEYS];
  if (spec.kind === 'denoiser') keys.push(...DENOISER_META_KEYS);
  if (spec.labelled) keys.push(META.labels);
  return keys;
}

/** Schedules that are defined by `beta_start` and `beta_end`. */
export function scheduleUsesBetas(kind: ScheduleKind): boolean {
  return kind === 'linear' || kind === 'scaled_linear';
}

/** The variance-preserving noise schedule a denoiser was trained with (contract "Schedules"). */
export interface ScheduleSpec {
  kind: ScheduleKind;
  /** β at t = 0; `linear` and `scaled_linear` only. */
  betaStart?: number;
  /** β at t = trainSteps − 1; `linear` and `scaled_linear` only. */
  betaEnd?: number;
  /** Number of diffusion steps trained; `t` runs over `[0, trainSteps − 1]`. */
  trainSteps: number;
}

/**
 * Parsed `metadata_props` of one model file. Fields the contract gives only to denoisers or to
 * labelled roles are undefined elsewhere.
 */
export interface ModelMeta {
  contract: number;
  role: Role;
  variant: Variant;
  prediction?: Prediction;
  schedule?: ScheduleSpec;
  /** `c`, the latent channels. */
  latentChannels: number;
  /** `z = latentScale · E(x)`. */
  latentScale: number;
  /** Autoencoder factor `f`. */
  downsample: number;
  /** Trained number of frames `T`. */
  window: number;
  /** Conditioning label names in `labels` order. */
  labels?: string[];
  /** Every spatial input size must be a multiple of this (in the role's own input resolution). */
  spatialMultiple: number;
  /** All `metadata_props` as stored, including keys outside the contract. */
  raw: Record<string, string>;
}

/** Values of the metadata-derived symbols (`c`, `L`, `f`) for one model. */
export function metaSymbols(
  meta: Pick<ModelMeta, 'latentChannels' | 'labels' | 'downsample'>,
): Record<string, number> {
  const symbols: Record<string, number> = { c: meta.latentChannels, f: meta.downsample };
  if (meta.labels) symbols.L = meta.labels.length;
  return symbols;
}

const DIM_PATTERN = /^([A-Za-z]\w*|\d+)(?:([*/])([A-Za-z]\w*|\d+))?$/;

function operand(token: string, env: Record<string, number>): number | undefined {
  return /^\d+$/.test(token) ? Number(token) : env[token];
}

/** Evaluate a dim expression against bound symbols; undefined when a symbol is unbound. */
export function evalDim(expr: DimExpr, env: Record<string, number>): number | undefined {
  const m = DIM_PATTERN.exec(expr);
  if (!m) throw new Error(`bad contract dim expression ${expr}`);
  const a = operand(m[1], env);
  if (m[2] === undefined || a === undefined) return a;
  const b = operand(m[3], env);
  if (b === undefined) return undefined;
  return m[2] === '*' ? a * b : a / b;
}

function isBareSymbol(expr: DimExpr): boolean {
  return /^[A-Za-z]\w*$/.test(expr);
}

export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(',')}]`;
}

export function formatSpec(spec: TensorSpec): string {
  return `${spec.name} ${formatShape(spec.dims)}`;
}

/**
 * Match concrete input shapes against a role's input specs. Symbols in `env` (typically `c`, `L`,
 * `f` from the model's metadata) are fixed in advance; the others are bound by the first input that
 * uses them, in spec order. Returns the bound symbols and one problem line per disagreement.
 */
export function bindInputShapes(
  spec: RoleSpec,
  shapes: Readonly<Record<string, readonly number[]>>,
  env: Readonly<Record<string, number>> = {},
): { env: Record<string, number>; problems: string[] } {
  const bound: Record<string, number> = { ...env };
  const problems: string[] = [];
  for (const input of spec.inputs) {
    const shape = shapes[input.name];
    if (!shape) continue;
    if (shape.length !== input.dims.length) {
      problems.push(
        `input ${input.name} must have rank ${input.dims.length} ${formatShape(input.dims)}, got shape ${formatShape(shape)}`,
      );
      continue;
    }
    input.dims.forEach((expr, axis) => {
      const size = shape[axis];
      const expected = evalDim(expr, bound);
      if (expected === undefined) {
        if (isBareSymbol(expr)) bound[expr] = size;
        return;
      }
      if (expected !== size) {
        const why = /^\d+$/.test(expr) ? '' : ` (${describeExpected(expr, bound)})`;
        problems.push(
          `input ${input.name} ${formatShape(shape)}: dim ${axis} (${expr}) must be ${formatSize(expected)}${why}, got ${size}`,
        );
      }
    });
  }
  return { env: bound, problems };
}

function formatSize(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}

function describeExpected(expr: DimExpr, env: Record<string, number>): string {
  const m = DIM_PATTERN.exec(expr);
  if (!m) return expr;
  const parts = [m[1], m[3]].filter((p): p is string => p !== undefined && !/^\d+$/.test(p));
  return parts.map((p) => `${p}=${env[p]}`).join(', ');
}

/** The shape a role's output must have once its inputs bound every symbol. */
export function expectedOutputShape(
  spec: RoleSpec,
  env: Readonly<Record<string, number>>,
): number[] | undefined {
  const shape: number[] = [];
  for (const expr of spec.output.dims) {
    const size = evalDim(expr, env);
    if (size === undefined || !Number.isInteger(size)) return undefined;
    shape.push(size);
  }
  return shape;
}

/**
 * The pack manifest `vldm-pack.json` (docs/model-contract.md, "The pack manifest"): its types and a
 * parser that checks every field once, at the edge, so the rest of the code can trust the result.
 * Each problem is reported with the field's path, what is allowed and what was found
 * ("vldm-pack.json: sampling.keyframe.steps must be an integer ≥ 1, got 0").
 */

import { ContractError } from '../common/errors';
import { tilingFaults } from '../planning/tiling';
import {
  CONTRACT_VERSION,
  OPTIONAL_ROLES,
  REQUIRED_ROLES,
  ROLES,
  UPSCALE_FACTOR,
  isRole,
  type Role,
} from './contract';

/** Default number of trained diffusion steps, used to bound `noiseAugmentation` before any model is read. */
export const DEFAULT_TRAIN_STEPS = 1000;

export interface ModelEntry {
  /** Path of the ONNX file, relative to the manifest. */
  file: string;
  /** Lowercase hex sha256 of the file's bytes. */
  sha256: string;
}

export interface DenoiserSampling {
  /** DDIM steps. */
  steps: number;
  /** DDIM's η (0 = deterministic DDIM). */
  eta: number;
}

export interface GuidedSampling extends DenoiserSampling {
  /** Context guidance scale `s ≥ 1`; 1 turns it off (one model evaluation instead of two). */
  contextGuidance: number;
  /** Label (classifier-free) guidance scale; 1 turns it off. */
  labelGuidance: number;
}

export interface UpsamplerSampling extends DenoiserSampling {
  /** Augmentation time `γ` applied to the low-res conditioning, in `[0, train_steps − 1]`. */
  noiseAugmentation: number;
}

export interface PackManifest {
  contract: number;
  name: string;
  description?: string;
  /** Final output size (after 4× upscaling of `base`) and frame rate. */
  video: { height: number; width: number; fps: number };
  /** Base (keyframe) resolution in pixels: `latent · downsample`. */
  base: { height: number; width: number };
  latent: { channels: number; height: number; width: number; scale: number; downsample: number };
  /** Conditioning label names, in `labels` order. */
  labels: string[];
  /** One entry per role; the required roles are always present. */
  models: Partial<Record<Role, ModelEntry>> & Record<(typeof REQUIRED_ROLES)[number], ModelEntry>;
  sampling: { keyframe: GuidedSampling; interpolation: GuidedSampling; upsampler: UpsamplerSampling };
  windows: PackWindows;
}

/** How the pipeline cuts a job into model calls (the manifest's `windows`, copied into the pack summary). */
export interface PackWindows {
  /** Prediction window `T` (keyframes per model call). */
  keyframe: { frames: number };
  /** Keyframe intervals one interpolation window fills (`T = 4·intervals + 1`). */
  interpolation: { intervals: number };
  /** Temporal decode window and the context frames decoded on each side and thrown away. */
  decode: { frames: number; overlap: number };
  /** Spatio-temporal upscale tiles, in low-res pixels and frames, with their overlaps. */
  upscale: {
    frames: number;
    overlapFrames: number;
    tileHeight: number;
    tileWidth: number;
    overlap: number;
  };
}

type Json = unknown;

/** Collects problems while walking the JSON; each check returns the value when it is valid. */
class Checker {
  readonly problems: string[] = [];
  constructor(private readonly where: string) {}

  fail(path: string, what: string): undefined {
    this.problems.push(`${this.where}: ${path} ${what}`);
    return undefined;
  }

  object(
    value: Json,
    path: string,
    keys: readonly string[],
    optional: readonly string[] = [],
  ): Record<string, Json> | undefined {
    // A missing field was already reported by its parent.
    if (value === undefined && path !== '') return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(path || 'the manifest', `must be an object, got ${describe(value)}`);
    }
    const obj = value as Record<string, Json>;
    const allowed = [...keys, ...optional];
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        this.fail(
          join(path, key),
          `is not a manifest field; allowed in ${path || 'the manifest'}: ${allowed.join(', ')}`,
        );
      }
    }
    for (const key of keys) {
      if (!(key in obj)) this.fail(join(path, key), 'is missing');
    }
    return obj;
  }

  int(value: Json, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
      return this.fail(path, `must be an integer ${range}, got ${describe(value)}`);
    }
    return value;
  }

  number(
    value: Json,
    path: string,
    min: number,
    opts: { exclusive?: boolean; max?: number } = {},
  ): number | undefined {
    if (value === undefined) return undefined;
    const below = opts.exclusive ? (value as number) <= min : (value as number) < min;
    const above = opts.max !== undefined && (value as number) > opts.max;
    if (typeof value !== 'number' || !Number.isFinite(value) || below || above) {
      const lower = opts.exclusive ? `> ${min}` : `≥ ${min}`;
      const range = opts.max !== undefined ? `in ${opts.exclusive ? '(' : '['}${min}, ${opts.max}]` : lower;
      return this.fail(path, `must be a number ${range}, got ${describe(value)}`);
    }
    return value;
  }

  string(value: Json, path: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      return this.fail(path, `must be a non-empty string, got ${describe(value)}`);
    }
    return value;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function describe(value: Json): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

function checkModelEntry(c: Checker, value: Json, path: string): ModelEntry | undefined {
  const obj = c.object(value, path, ['file', 'sha256']);
  if (!obj) return undefined;
  const file = c.string(obj.file, join(path, 'file'));
  if (file !== undefined) {
    // Files live inside the pack: an absolute path or `..` would read outside it (and outside an S3 prefix).
    const parts = file.split(/[\\/]/);
    if (file.startsWith('/') || /^[A-Za-z]:/.test(file) || parts.includes('..')) {
      c.fail(
        join(path, 'file'),
        `must be a path inside the pack (relative, without ..), got ${describe(file)}`,
      );
    }
  }
  let sha256: string | undefined;
  if (obj.sha256 !== undefined) {
    if (typeof obj.sha256 !== 'string' || !SHA256_PATTERN.test(obj.sha256)) {
      c.fail(join(path, 'sha256'), `must be 64 lowercase hex digits, got ${describe(obj.sha256)}`);
    } else sha256 = obj.sha256;
  }
  return file !== undefined && sha256 !== undefined ? { file, sha256 } : undefined;
}

function checkGuided(c: Checker, value: Json, path: string): GuidedSampling | undefined {
  const obj = c.object(value, path, ['steps', 'eta', 'contextGuidance', 'labelGuidance']);
  if (!obj) return undefined;
  const steps = c.int(obj.steps, join(path, 'steps'), 1);
  const eta = c.number(obj.eta, join(path, 'eta'), 0, { max: 1 });
  const contextGuidance = c.number(obj.contextGuidance, join(path, 'contextGuidance'), 1);
  const labelGuidance = c.number(obj.labelGuidance, join(path, 'labelGuidance'), 1);
  if (
    steps === undefined ||
    eta === undefined ||
    contextGuidance === undefined ||
    labelGuidance === undefined
  ) {
    return undefined;
  }
  return { steps, eta, contextGuidance, labelGuidance };
}

/**
 * Check a parsed `vldm-pack.json` and return every problem (empty when valid) with the typed
 * manifest when there are none. `where` prefixes each problem (usually the manifest's path).
 */
export function checkManifest(json: unknown, where: string): { manifest?: PackManifest; problems: string[] } {
  const c = new Checker(where);
  const top = c.object(
    json,
    '',
    ['contract', 'name', 'video', 'base', 'latent', 'labels', 'models', 'sampling', 'windows'],
    ['description'],
  );
  if (!top) return { problems: c.problems };

  if (top.contract !== undefined && top.contract !== CONTRACT_VERSION) {
    c.fail(
      'contract',
      `must be ${CONTRACT_VERSION} (the contract version this vldm implements), got ${describe(top.contract)}`,
    );
  }
  const name = c.string(top.name, 'name');
  let description: string | undefined;
  if (top.description !== undefined) {
    if (typeof top.description !== 'string')
      c.fail('description', `must be a string, got ${describe(top.description)}`);
    else description = top.description;
  }

  const videoObj = c.object(top.video, 'video', ['height', 'width', 'fps']);
  const video = videoObj && {
    height: c.int(videoObj.height, 'video.height', 1),
    width: c.int(videoObj.width, 'video.width', 1),
    fps: c.number(videoObj.fps, 'video.fps', 0, { exclusive: true }),
  };
  const baseObj = c.object(top.base, 'base', ['height', 'width']);
  const base = baseObj && {
    height: c.int(baseObj.height, 'base.height', 1),
    width: c.int(baseObj.width, 'base.width', 1),
  };
  const latentObj = c.object(top.latent, 'latent', ['channels', 'height', 'width', 'scale', 'downsample']);
  const latent = latentObj && {
    channels: c.int(latentObj.channels, 'latent.channels', 1),
    height: c.int(latentObj.height, 'latent.height', 1),
    width: c.int(latentObj.width, 'latent.width', 1),
    scale: c.number(latentObj.scale, 'latent.scale', 0, { exclusive: true }),
    downsample: c.int(latentObj.downsample, 'latent.downsample', 1),
  };
  // The sizes are tied: base = latent · downsample, video = 4 · base.
  if (base && latent) {
    for (const dim of ['height', 'width'] as const) {
      const l = latent[dim];
      const b = base[dim];
      if (
        l !== undefined &&
        b !== undefined &&
        latent.downsample !== undefined &&
        b !== l * latent.downsample
      ) {
        c.fail(
          `base.${dim}`,
          `must be latent.${dim} · latent.downsample = ${l * latent.downsample}, got ${b}`,
        );
      }
    }
  }
  if (video && base) {
    for (const dim of ['height', 'width'] as const) {
      const b = base[dim];
      const v = video[dim];
      if (b !== undefined && v !== undefined && v !== b * UPSCALE_FACTOR) {
        c.fail(`video.${dim}`, `must be ${UPSCALE_FACTOR} · base.${dim} = ${b * UPSCALE_FACTOR}, got ${v}`);
      }
    }
  }

  let labels: string[] | undefined;
  if (top.labels !== undefined) {
    if (!Array.isArray(top.labels))
      c.fail('labels', `must be an array of label names, got ${describe(top.labels)}`);
    else {
      labels = [];
      top.labels.forEach((label: Json, i: number) => {
        // vldm.labels joins the names with commas, so a name cannot hold one.
        if (typeof label !== 'string' || label === '' || label.trim() !== label || label.includes(',')) {
          c.fail(
            `labels[${i}]`,
            `must be a non-empty name without commas or surrounding spaces, got ${describe(label)}`,
          );
        } else if (labels?.includes(label)) {
          c.fail(`labels[${i}]`, `repeats ${JSON.stringify(label)}; label names must be distinct`);
        } else labels?.push(label);
      });
    }
  }

  const modelsObj = c.object(top.models, 'models', REQUIRED_ROLES, OPTIONAL_ROLES);
  const models: Partial<Record<Role, ModelEntry>> = {};
  if (modelsObj) {
    for (const role of ROLES) {
      if (modelsObj[role] === undefined) continue;
      const entry = checkModelEntry(c, modelsObj[role], `models.${role}`);
      if (entry) models[role] = entry;
    }
    const seen = new Map<string, string>();
    for (const role of Object.keys(modelsObj).filter(isRole)) {
      const file = models[role]?.file;
      if (file === undefined) continue;
      const other = seen.get(file);
      if (other)
        c.fail(
          `models.${role}.file`,
          `names ${file}, which models.${other}.file names too; each role has its own file`,
        );
      else seen.set(file, role);
    }
  }

  const samplingObj = c.object(top.sampling, 'sampling', ['keyframe', 'interpolation', 'upsampler']);
  let sampling: PackManifest['sampling'] | undefined;
  if (samplingObj) {
    const keyframe = checkGuided(c, samplingObj.keyframe, 'sampling.keyframe');
    const interpolation = checkGuided(c, samplingObj.interpolation, 'sampling.interpolation');
    const up = c.object(samplingObj.upsampler, 'sampling.upsampler', ['steps', 'eta', 'noiseAugmentation']);
    const upsampler = up && {
      steps: c.int(up.steps, 'sampling.upsampler.steps', 1),
      eta: c.number(up.eta, 'sampling.upsampler.eta', 0, { max: 1 }),
      noiseAugmentation: c.number(up.noiseAugmentation, 'sampling.upsampler.noiseAugmentation', 0, {
        max: DEFAULT_TRAIN_STEPS - 1,
      }),
    };
    if (keyframe && interpolation && upsampler && allDefined(upsampler)) {
      sampling = { keyframe, interpolation, upsampler };
    }
  }

  const windowsObj = c.object(top.windows, 'windows', ['keyframe', 'interpolation', 'decode', 'upscale']);
  let windows: PackManifest['windows'] | undefined;
  if (windowsObj) {
    const kf = c.object(windowsObj.keyframe, 'windows.keyframe', ['frames']);
    // Each prediction window after the first holds 2 context frames and must add at least one new one.
    const keyframe = kf && { frames: c.int(kf.frames, 'windows.keyframe.frames', 3) };
    const ip = c.object(windowsObj.interpolation, 'windows.interpolation', ['intervals']);
    const interpolation = ip && { intervals: c.int(ip.intervals, 'windows.interpolation.intervals', 1) };
    const dc = c.object(windowsObj.decode, 'windows.decode', ['frames', 'overlap']);
    const decode = dc && {
      frames: c.int(dc.frames, 'windows.decode.frames', 1),
      overlap: c.int(dc.overlap, 'windows.decode.overlap', 0),
    };
    const up = c.object(windowsObj.upscale, 'windows.upscale', [
      'frames',
      'overlapFrames',
      'tileHeight',
      'tileWidth',
      'overlap',
    ]);
    const upscale = up && {
      frames: c.int(up.frames, 'windows.upscale.frames', 1),
      overlapFrames: c.int(up.overlapFrames, 'windows.upscale.overlapFrames', 0),
      tileHeight: c.int(up.tileHeight, 'windows.upscale.tileHeight', 1),
      tileWidth: c.int(up.tileWidth, 'windows.upscale.tileWidth', 1),
      overlap: c.int(up.overlap, 'windows.upscale.overlap', 0),
    };
    // Overlaps must leave every window/tile a stride ≥ 1, or the tiling never advances (the tiling
    // rule of src/planning/tiling.ts; sizes and overlaps that are not integers were reported above).
    for (const [size, overlap] of [
      ['frames', 'overlapFrames'],
      ['tileHeight', 'overlap'],
      ['tileWidth', 'overlap'],
    ] as const) {
      const n = upscale?.[size];
      const o = upscale?.[overlap];
      if (n !== undefined && o !== undefined && tilingFaults(n, o).overlap) {
        c.fail(`windows.upscale.${overlap}`, `must be < windows.upscale.${size} = ${n}, got ${o}`);
      }
    }
    if (
      keyframe &&
      interpolation &&
      decode &&
      upscale &&
      allDefined(keyframe) &&
      allDefined(interpolation) &&
      allDefined(decode) &&
      allDefined(upscale)
    ) {
      windows = { keyframe, interpolation, decode, upscale };
    }
  }

  if (c.problems.length > 0) return { problems: c.problems };
  // With no problems every checked field is defined; the casts only restate that.
  const manifest: PackManifest = {
    contract: CONTRACT_VERSION,
    name: name as string,
    ...(description !== undefined ? { description } : {}),
    video: video as PackManifest['video'],
    base: base as PackManifest['base'],
    latent: latent as PackManifest['latent'],
    labels: labels as string[],
    models: models as PackManifest['models'],
    sampling: sampling as PackManifest['sampling'],
    windows: windows as PackManifest['windows'],
  };
  return { manifest, problems: [] };
}

function allDefined<T extends Record<string, unknown>>(
  obj: T,
): obj is { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.values(obj).every((v) => v !== undefined);
}

/**
 * Parse and validate a manifest. Throws a ContractError listing every problem, one per line, each
 * prefixed with `where`.
 */
export function parseManifest(json: unknown, where: string): PackManifest {
  const { manifest, problems } = checkManifest(json, where);
  if (!manifest) throw new ContractError(problems.join('\n'));
  return manifest;
}

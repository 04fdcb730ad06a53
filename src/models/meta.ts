/**
 * Parsing and checking a model file's `metadata_props` against the contract's metadata table, and
 * against the pack's manifest (the manifest is the reference every role must agree with, so roles
 * that each agree with it agree with one another). Problems are short phrases; callers prefix them
 * with the role and file.
 */

import {
  CONTRACT_VERSION,
  META,
  PREDICTIONS,
  ROLE_SPECS,
  SCHEDULES,
  UPSCALE_FACTOR,
  VARIANTS,
  isRole,
  requiredMetaKeys,
  scheduleUsesBetas,
  type ModelMeta,
  type Prediction,
  type Role,
  type ScheduleKind,
  type ScheduleSpec,
  type Variant,
} from './contract';
import type { PackManifest } from './manifest';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * Parse the metadata of the file the manifest lists as `role`. Returns the parsed metadata when
 * every key is present and valid, and one problem per missing or bad key.
 */
export function parseModelMeta(
  raw: Record<string, string>,
  role: Role,
): { meta?: ModelMeta; problems: string[] } {
  const problems: string[] = [];
  const spec = ROLE_SPECS[role];
  for (const key of requiredMetaKeys(role)) {
    if (raw[key] === undefined) problems.push(`metadata ${key} is missing`);
  }

  const int = (key: string, min: number): number | undefined => {
    const text = raw[key];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      problems.push(`metadata ${key} must be an integer ≥ ${min}, got ${quote(text)}`);
      return undefined;
    }
    return n;
  };
  const positive = (key: string): number | undefined => {
    const text = raw[key];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!DECIMAL.test(text.trim()) || !Number.isFinite(n) || n <= 0) {
      problems.push(`metadata ${key} must be a number > 0, got ${quote(text)}`);
      return undefined;
    }
    return n;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const text = raw[key];
    if (text === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(text)) {
      problems.push(`metadata ${key} must be one of ${allowed.join(', ')}, got ${quote(text)}`);
      return undefined;
    }
    return text as T;
  };

  const contractText = raw[META.contract];
  if (contractText !== undefined && contractText.trim() !== String(CONTRACT_VERSION)) {
    problems.push(`metadata ${META.contract} must be ${CONTRACT_VERSION}, got ${quote(contractText)}`);
  }
  const roleText = raw[META.role];
  if (roleText !== undefined && roleText !== role) {
    problems.push(
      isRole(roleText)
        ? `metadata ${META.role} is ${quote(roleText)}, but the manifest lists this file as ${role}`
        : `metadata ${META.role} must be ${quote(role)} (the role the manifest lists this file as), got ${quote(roleText)}`,
    );
  }
  const variant = oneOf<Variant>(META.variant, VARIANTS);
  if (variant !== undefined && variant !== spec.variant) {
    problems.push(
      `metadata ${META.variant} must be ${quote(spec.variant)} for role ${role}, got ${quote(variant)}`,
    );
  }
  const latentChannels = int(META.latentChannels, 1);
  const latentScale = positive(META.latentScale);
  const downsample = int(META.downsample, 1);
  const window = int(META.window, 1);
  const spatialMultiple = int(META.spatialMultiple, 1);

  let prediction: Prediction | undefined;
  let schedule: ScheduleSpec | undefined;
  if (spec.kind === 'denoiser') {
    prediction = oneOf<Prediction>(META.prediction, PREDICTIONS);
    schedule = parseSchedule(raw, problems, int);
  }
  let labels: string[] | undefined;
  if (spec.labelled && raw[META.labels] !== undefined) {
    const text = raw[META.labels];
    labels = text === '' ? [] : text.split(',');
    if (labels.some((l) => l.trim() === '' || l.trim() !== l)) {
      problems.push(
        `metadata ${META.labels} must be comma-separated names without spaces, got ${quote(text)}`,
      );
    }
  }

  if (problems.length > 0) return { problems };
  const meta: ModelMeta = {
    contract: CONTRACT_VERSION,
    role,
    variant: variant as Variant,
    latentChannels: latentChannels as number,
    latentScale: latentScale as number,
    downsample: downsample as number,
    window: window as number,
    spatialMultiple: spatialMultiple as number,
    raw: { ...raw },
  };
  if (prediction !== undefined) meta.prediction = prediction;
  if (schedule !== undefined) meta.schedule = schedule;
  if (labels !== undefined) meta.labels = labels;
  return { meta, problems };
}

function parseSchedule(
  raw: Record<string, string>,
  problems: string[],
  int: (key: string, min: number) => number | undefined,
): ScheduleSpec | undefined {
  const kindText = raw[META.schedule];
  // Two steps is the least that defines a schedule (ᾱ at both ends).
  const trainSteps = int(META.trainSteps, 2);
  if (kindText === undefined) return undefined;
  if (!(SCHEDULES as readonly string[]).includes(kindText)) {
    problems.push(`metadata ${META.schedule} must be one of ${SCHEDULES.join(', ')}, got ${quote(kindText)}`);
    return undefined;
  }
  const kind = kindText as ScheduleKind;
  if (!scheduleUsesBetas(kind)) return trainSteps === undefined ? undefined : { kind, trainSteps };
  const betas: number[] = [];
  for (const key of [META.betaStart, META.betaEnd]) {
    const text = raw[key];
    if (text === undefined) {
      problems.push(`metadata ${key} is missing (the ${kind} schedule needs it)`);
      continue;
    }
    const n = Number(text);
    if (!DECIMAL.test(text.trim()) || !(n > 0 && n < 1)) {
      problems.push(`metadata ${key} must be a number in (0, 1), got ${quote(text)}`);
      continue;
    }
    betas.push(n);
  }
  if (betas.length !== 2 || trainSteps === undefined) return undefined;
  const [betaStart, betaEnd] = betas;
  if (betaStart > betaEnd) {
    problems.push(`metadata ${META.betaStart} (${betaStart}) must not exceed ${META.betaEnd} (${betaEnd})`);
    return undefined;
  }
  return { kind, betaStart, betaEnd, trainSteps };
}

/** Spatial sizes a role is run at, in its own input resolution, as the manifest sets them. */
export function roleRunSizes(
  role: Role,
  manifest: PackManifest,
): { what: string; height: number; width: number } {
  const { latent, base, windows } = manifest;
  switch (ROLE_SPECS[role].kind) {
    case 'encoder':
      return { what: 'base', height: base.height, width: base.width };
    case 'decoder':
      return { what: 'latent', height: latent.height, width: latent.width };
    default:
      if (role === 'upsampler' || role === 'upsampler_image') {
        return {
          what: `${UPSCALE_FACTOR} · windows.upscale tile`,
          height: UPSCALE_FACTOR * windows.upscale.tileHeight,
          width: UPSCALE_FACTOR * windows.upscale.tileWidth,
        };
      }
      return { what: 'latent', height: latent.height, width: latent.width };
  }
}

/** The `vldm.window` the contract requires of a role, where it ties it to the manifest or fixes it. */
function trainedWindow(role: Role, manifest: PackManifest): { frames: number; why: string } | undefined {
  switch (role) {
    case 'encoder':
      return { frames: 1, why: 'the encoder window (frames are encoded independently)' };
    case 'keyframe':
    case 'keyframe_image':
      return { frames: manifest.windows.keyframe.frames, why: 'windows.keyframe.frames' };
    case 'interpolation':
      return {
        frames: 4 * manifest.windows.interpolation.intervals + 1,
        why: '4 · windows.interpolation.intervals + 1',
      };
    default:
      return undefined;
  }
}

/**
 * Check a file's parsed metadata against the manifest: same latent channels, scale and factor, same
 * labels in the same order, sizes that are multiples of the role's spatial multiple, an upsampler
 * noise augmentation inside its schedule. Returns problems (the pack cannot run) and warnings.
 */
export function checkMetaAgainstManifest(
  role: Role,
  meta: ModelMeta,
  manifest: PackManifest,
): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { latent } = manifest;
  if (meta.latentChannels !== latent.channels) {
    problems.push(
      `metadata ${META.latentChannels} is ${meta.latentChannels}, the manifest's latent.channels is ${latent.channels}`,
    );
  }
  if (meta.latentScale !== latent.scale) {
    problems.push(
      `metadata ${META.latentScale} is ${meta.latentScale}, the manifest's latent.scale is ${latent.scale}`,
    );
  }
  if (meta.downsample !== latent.downsample) {
    problems.push(
      `metadata ${META.downsample} is ${meta.downsample}, the manifest's latent.downsample is ${latent.downsample}`,
    );
  }
  if (meta.labels !== undefined && meta.labels.join(',') !== manifest.labels.join(',')) {
    problems.push(
      `metadata ${META.labels} is ${quote(meta.labels.join(','))}, the manifest's labels are ${quote(manifest.labels.join(','))} (same names, same order)`,
    );
  }
  const sizes = roleRunSizes(role, manifest);
  for (const dim of ['height', 'width'] as const) {
    if (sizes[dim] % meta.spatialMultiple !== 0) {
      problems.push(
        `${sizes.what} ${dim} ${sizes[dim]} is not a multiple of ${META.spatialMultiple} = ${meta.spatialMultiple}`,
      );
    }
  }
  if ((role === 'upsampler' || role === 'upsampler_image') && meta.schedule) {
    const gamma = manifest.sampling.upsampler.noiseAugmentation;
    if (gamma > meta.schedule.trainSteps - 1) {
      problems.push(
        `sampling.upsampler.noiseAugmentation ${gamma} is outside the upsampler's schedule [0, ${meta.schedule.trainSteps - 1}]`,
      );
    }
  }
  // The contract fixes the trained window of the roles whose window the manifest also sets.
  const window = trainedWindow(role, manifest);
  if (window && meta.window !== window.frames) {
    problems.push(`metadata ${META.window} is ${meta.window}, it must be ${window.why} = ${window.frames}`);
  }
  // spatial_multiple is measured on the first input: pixels for the encoder, high-res x for the upsampler.
  if (role === 'encoder' && meta.spatialMultiple % meta.downsample !== 0) {
    problems.push(
      `metadata ${META.spatialMultiple} ${meta.spatialMultiple} must be a multiple of ${META.downsample} = ${meta.downsample} (it is measured on pixels)`,
    );
  }
  if ((role === 'upsampler' || role === 'upsampler_image') && meta.spatialMultiple % UPSCALE_FACTOR !== 0) {
    problems.push(
      `metadata ${META.spatialMultiple} ${meta.spatialMultiple} must be a multiple of ${UPSCALE_FACTOR} (it is measured on the high-res x)`,
    );
  }
  // Merely poor: the upsampler runs on windows of a length it was not trained on.
  if (
    (role === 'upsampler' || role === 'upsampler_image') &&
    manifest.windows.upscale.frames !== meta.window
  ) {
    warnings.push(
      `windows.upscale.frames ${manifest.windows.upscale.frames} differs from the trained window ${META.window} = ${meta.window}`,
    );
  }
  return { problems, warnings };
}

/**
 * Variance-preserving noise schedules of docs/model-contract.md: ᾱ_t = Π_{s≤t}(1−β_s), α_t = √ᾱ_t,
 * σ_t = √(1−ᾱ_t), so that x_t = α_t·x₀ + σ_t·ε. Model-free and pure; all arithmetic in float64, in the same
 * order as the training code (training/vldm_train/contract.py), so host and training tables agree.
 */

import { UserError } from '../common/errors';

export type ScheduleKind = 'linear' | 'scaled_linear' | 'cosine';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['linear', 'scaled_linear', 'cosine'];

export interface ScheduleSpec {
  kind: ScheduleKind;
  /** Number of trained diffusion steps (the contract's `vldm.train_steps`, 1000 for the reference pack). */
  trainSteps: number;
  /** First β (linear) or the square of the first √β (scaled_linear); ignored by cosine. @default 0.00085 */
  betaStart?: number;
  /** Last β (linear) or the square of the last √β (scaled_linear); ignored by cosine. @default 0.012 */
  betaEnd?: number;
}

export interface NoiseSchedule {
  spec: ScheduleSpec;
  /** ᾱ_t for t = 0 … trainSteps−1. */
  alphasCumprod: Float64Array;
}

/** The Latent Diffusion / Stable Diffusion betas; the training code uses them as its defaults too. */
export const DEFAULT_BETA_START = 0.00085;
export const DEFAULT_BETA_END = 0.012;

/** Nichol & Dhariwal 2021, eq. 17: the offset s that keeps β_0 from being vanishingly small. */
const COSINE_OFFSET = 0.008;
/** Nichol & Dhariwal clip β at 0.999 to avoid a singularity at t = T. */
const COSINE_MAX_BETA = 0.999;

/** np.linspace(start, end, n)[i], with the last value exactly `end` as numpy does. */
function linspace(start: number, end: number, n: number, i: number): number {
  if (n === 1) return start;
  if (i === n - 1) return end;
  return start + i * ((end - start) / (n - 1));
}

function validate(spec: ScheduleSpec): Required<ScheduleSpec> {
  if (!SCHEDULE_KINDS.includes(spec.kind)) {
    throw new UserError(
      `schedule kind must be one of ${SCHEDULE_KINDS.join(', ')}, got ${String(spec.kind)}`,
    );
  }
  if (!Number.isInteger(spec.trainSteps) || spec.trainSteps < 2) {
    throw new UserError(`schedule trainSteps must be an integer ≥ 2, got ${spec.trainSteps}`);
  }
  const betaStart = spec.betaStart ?? DEFAULT_BETA_START;
  const betaEnd = spec.betaEnd ?? DEFAULT_BETA_END;
  if (spec.kind !== 'cosine') {
    for (const [name, b] of [
      ['betaStart', betaStart],
      ['betaEnd', betaEnd],
    ] as const) {
      if (!Number.isFinite(b) || b <= 0 || b >= 1) {
        throw new UserError(`schedule ${name} must be a number in (0, 1), got ${b}`);
      }
    }
    if (betaEnd < betaStart) {
      throw new UserError(
        `schedule betaEnd must be ≥ betaStart, got betaStart=${betaStart} betaEnd=${betaEnd}`,
      );
    }
  }
  return { kind: spec.kind, trainSteps: spec.trainSteps, betaStart, betaEnd };
}

/** Computes ᾱ_t for a validated spec; throws UserError naming the bad field otherwise. */
export function makeSchedule(spec: ScheduleSpec): NoiseSchedule {
  const s = validate(spec);
  const n = s.trainSteps;
  const betas = new Float64Array(n);
  if (s.kind === 'linear') {
    for (let i = 0; i < n; i++) betas[i] = linspace(s.betaStart, s.betaEnd, n, i);
  } else if (s.kind === 'scaled_linear') {
    const a = Math.sqrt(s.betaStart);
    const b = Math.sqrt(s.betaEnd);
    for (let i = 0; i < n; i++) betas[i] = linspace(a, b, n, i) ** 2;
  } else {
    // ᾱ(t) = f(t)/f(0); the contract's index i is the paper's step i+1, so β_i = 1 − f(i+1)/f(i).
    const f = (t: number) => Math.cos(((t / n + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < n; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), COSINE_MAX_BETA);
  }
  const alphasCumprod = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    prod *= 1 - betas[i];
    alphasCumprod[i] = prod;
  }
  return { spec: s, alphasCumprod };
}

/** ᾱ_t, with t = −1 meaning the clean sample (ᾱ = 1), as DDIM's last step needs. */
export function alphaBar(s: NoiseSchedule, t: number): number {
  if (t === -1) return 1;
  if (!Number.isInteger(t) || t < 0 || t >= s.alphasCumprod.length) {
    throw new RangeError(
      `diffusion time t must be an integer in [-1, ${s.alphasCumprod.length - 1}], got ${t}`,
    );
  }
  return s.alphasCumprod[t];
}

/** α_t = √ᾱ_t and σ_t = √(1−ᾱ_t); t = −1 is clean: { alpha: 1, sigma: 0 }. */
export function alphaSigma(s: NoiseSchedule, t: number): { alpha: number; sigma: number } {
  const ab = alphaBar(s, t);
  return { alpha: Math.sqrt(ab), sigma: Math.sqrt(1 - ab) };
}

/**
 * DDIM sampling step (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12) for ε- and
 * v-prediction denoisers (Salimans & Ho 2022, "Progressive Distillation", v = α_t·ε − σ_t·x₀). Model-free
 * and pure, like diffusers' DDIMScheduler: the pipeline owns the loop (model call, guidance, this step).
 *
 * Symbols: ᾱ_t = alphasCumprod[t], α_t = √ᾱ_t, σ_t = √(1−ᾱ_t); x = x_t the current sample, out = f(x_t)
 * the model output (ε̂ or v̂), x0 = x̂₀ the predicted clean sample, prev = x_{t_prev}.
 * Arithmetic per element is float64; results are stored as float32.
 */

import { UserError } from '../common/errors';
import { alphaBar, alphaSigma, NoiseSchedule } from './schedule';

export type Prediction = 'eps' | 'v';

/**
 * The DDIM sub-sequence of diffusion times, descending, spaced like diffusers' `set_timesteps` with
 * `timestep_spacing="leading"`: t_i = i·⌊trainSteps/steps⌋ for i = steps−1 … 0. The step after the last
 * one (t = 0) goes to the clean sample, t_prev = −1.
 */
export function ddimTimesteps(trainSteps: number, steps: number): number[] {
  if (!Number.isInteger(trainSteps) || trainSteps < 1) {
    throw new UserError(`trainSteps must be a positive integer, got ${trainSteps}`);
  }
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new UserError(`DDIM steps must be an integer in [1, ${trainSteps}], got ${steps}`);
  }
  const ratio = Math.floor(trainSteps / steps);
  const ts: number[] = [];
  for (let i = steps - 1; i >= 0; i--) ts.push(i * ratio);
  return ts;
}

/** The (t, t_prev) pairs of a DDIM run: consecutive ddimTimesteps, the last one paired with −1 (clean). */
export function ddimPairs(trainSteps: number, steps: number): Array<{ t: number; tPrev: number }> {
  const ts = ddimTimesteps(trainSteps, steps);
  return ts.map((t, i) => ({ t, tPrev: i + 1 < ts.length ? ts[i + 1] : -1 }));
}

/**
 * x̂₀ and ε̂ from the model output at noise level (α, σ).
 * eps: x̂₀ = (x − σ·ε̂)/α.  v: x̂₀ = α·x − σ·v̂, ε̂ = α·v̂ + σ·x (both use α² + σ² = 1).
 */
export function predictX0Eps(args: {
  x: Float32Array;
  out: Float32Array;
  alpha: number;
  sigma: number;
  prediction: Prediction;
}): { x0: Float32Array; eps: Float32Array } {
  const { x, out, alpha, sigma, prediction } = args;
  if (x.length !== out.length) {
    throw new RangeError(`model output has ${out.length} values but the sample has ${x.length}`);
  }
  const n = x.length;
  const x0 = new Float32Array(n);
  const eps = new Float32Array(n);
  if (prediction === 'eps') {
    if (!(alpha > 0)) throw new RangeError(`ε-prediction needs α > 0 to recover x₀, got α=${alpha}`);
    for (let i = 0; i < n; i++) {
      x0[i] = (x[i] - sigma * out[i]) / alpha;
      eps[i] = out[i];
    }
  } else if (prediction === 'v') {
    for (let i = 0; i < n; i++) {
      x0[i] = alpha * x[i] - sigma * out[i];
      eps[i] = alpha * out[i] + sigma * x[i];
    }
  } else {
    throw new UserError(`prediction must be eps or v, got ${String(prediction)}`);
  }
  return { x0, eps };
}

/**
 * DDIM's stochasticity σ_η(t → t_prev) = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev) (Song et al. eq. 16);
 * η = 0 is deterministic DDIM, η = 1 is the DDPM posterior's variance.
 */
export function ddimSigma(schedule: NoiseSchedule, t: number, tPrev: number, eta: number): number {
  const ab = alphaBar(schedule, t);
  const abPrev = alphaBar(schedule, tPrev);
  return eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
}

/**
 * One DDIM step t → t_prev (Song et al. eq. 12):
 * x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ_η²)·ε̂ + σ_η·z,  z ~ N(0, I) given as `noise`.
 * With `clipX0 = c`, x̂₀ is clamped to [−c, c] and ε̂ recomputed from the clamped x̂₀ so that the step stays
 * consistent with x_t = α_t·x̂₀ + σ_t·ε̂ (diffusers' `use_clipped_model_output`).
 */
export function ddimStep(args: DdimStepArgs): { prev: Float32Array; x0: Float32Array } {
  const { prev, x0 } = step(args, true);
  return { prev, x0: x0 as Float32Array };
}

/**
 * ddimStep's x_prev alone: the sampling loop needs x̂₀ of no step but the last, where x_prev = x̂₀, so it
 * skips an array of the sample's size per step. The same bytes as ddimStep's `prev`. `into` receives
 * x_prev instead of a new array; it may be `x` or `out` (each element is read before it is written).
 */
export function ddimPrev(args: DdimStepArgs, into?: Float32Array): Float32Array {
  if (into && into.length !== args.x.length)
    throw new RangeError(`ddimPrev into has ${into.length} values but the sample has ${args.x.length}`);
  return step(args, false, into).prev;
}

export interface DdimStepArgs {
  schedule: NoiseSchedule;
  t: number;
  tPrev: number;
  x: Float32Array;
  out: Float32Array;
  prediction: Prediction;
  eta: number;
  noise?: Float32Array;
  clipX0?: number;
}

function step(
  args: DdimStepArgs,
  keepX0: boolean,
  into?: Float32Array,
): { prev: Float32Array; x0?: Float32Array } {
  const { schedule, t, tPrev, x, out, prediction, eta, noise, clipX0 } = args;
  if (!(tPrev < t)) throw new RangeError(`DDIM steps go down in time: tPrev (${tPrev}) must be < t (${t})`);
  if (!Number.isFinite(eta) || eta < 0 || eta > 1) {
    throw new UserError(`DDIM eta must be a number in [0, 1], got ${eta}`);
  }
  if (clipX0 !== undefined && !(clipX0 > 0)) {
    throw new UserError(`clipX0 must be a positive number, got ${clipX0}`);
  }
  if (prediction !== 'eps' && prediction !== 'v') {
    throw new UserError(`prediction must be eps or v, got ${String(prediction)}`);
  }
  const n = x.length;
  if (out.length !== n) throw new RangeError(`model output has ${out.length} values but the sample has ${n}`);
  const { alpha, sigma } = alphaSigma(schedule, t);
  const abPrev = alphaBar(schedule, tPrev);
  const sigmaEta = ddimSigma(schedule, t, tPrev, eta);
  if (sigmaEta > 0) {
    if (!noise) throw new RangeError(`DDIM with eta=${eta} > 0 needs a noise array`);
    if (noise.length !== n) throw new RangeError(`noise has ${noise.length} values but the sample has ${n}`);
  }
  const a = Math.sqrt(abPrev);
  // max(0, …) only guards float rounding at η = 1, where 1 − ᾱ_prev − σ_η² is exactly 0 in theory.
  const d = Math.sqrt(Math.max(0, 1 - abPrev - sigmaEta * sigmaEta));
  const isV = prediction === 'v';
  const z = sigmaEta > 0 ? noise : undefined;
  const x0 = keepX0 ? new Float32Array(n) : undefined;
  const prev = into ?? new Float32Array(n);
  // Same formulas as predictX0Eps, kept in float64 until the final store so that η = 0 with the true
  // ε/v reproduces x₀ to float32 rounding. The common cases (no clipping, no η noise) get loops of
  // their own without per-element branches: the same expressions, so the same bytes (`+ 0` included:
  // it turns −0 into +0 as the general loop's `+ (z ? … : 0)` does).
  if (clipX0 === undefined && !z) {
    // x̂₀ kept or not also gets loops of its own: a test of `x0` per element (never true in the sampling
    // loop) made the loop 3–4× slower (9 → 2.5 ms for a tile's 1.77 M values).
    if (isV) {
      if (x0) {
        for (let i = 0; i < n; i++) {
          const xi = x[i];
          const oi = out[i];
          const x0i = alpha * xi - sigma * oi;
          x0[i] = x0i;
          prev[i] = a * x0i + d * (alpha * oi + sigma * xi) + 0;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const xi = x[i];
          const oi = out[i];
          const x0i = alpha * xi - sigma * oi;
          prev[i] = a * x0i + d * (alpha * oi + sigma * xi) + 0;
        }
      }
    } else if (x0) {
      for (let i = 0; i < n; i++) {
        const oi = out[i];
        const x0i = (x[i] - sigma * oi) / alpha;
        x0[i] = x0i;
        prev[i] = a * x0i + d * oi + 0;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const oi = out[i];
        const x0i = (x[i] - sigma * oi) / alpha;
        prev[i] = a * x0i + d * oi + 0;
      }
    }
    return { prev, x0 };
  }
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const oi = out[i];
    let x0i = isV ? alpha * xi - sigma * oi : (xi - sigma * oi) / alpha;
    let epsi = isV ? alpha * oi + sigma * xi : oi;
    if (clipX0 !== undefined && (x0i > clipX0 || x0i < -clipX0)) {
      x0i = x0i > clipX0 ? clipX0 : -clipX0;
      epsi = (xi - alpha * x0i) / sigma;
    }
    if (x0) x0[i] = x0i;
    prev[i] = a * x0i + d * epsi + (z ? sigmaEta * z[i] : 0);
  }
  return { prev, x0 };
}

/** Forward diffusion x_t = α_t·x₀ + σ_t·ε; also the upsampler's noise augmentation c = α_γ·x + σ_γ·ε. */
export function addNoise(
  schedule: NoiseSchedule,
  x0: Float32Array,
  noise: Float32Array,
  t: number,
): Float32Array {
  if (noise.length !== x0.length) {
    throw new RangeError(`noise has ${noise.length} values but the sample has ${x0.length}`);
  }
  const { alpha, sigma } = alphaSigma(schedule, t);
  const xt = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) xt[i] = alpha * x0[i] + sigma * noise[i];
  return xt;
}

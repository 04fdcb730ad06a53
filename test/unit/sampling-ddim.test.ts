import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import {
  addNoise,
  ddimPairs,
  ddimPrev,
  ddimSigma,
  ddimStep,
  ddimTimesteps,
  predictX0Eps,
} from '../../src/sampling/ddim';
import { gaussian } from '../../src/sampling/noise';
import { alphaSigma, makeSchedule } from '../../src/sampling/schedule';

const sched = makeSchedule({ kind: 'scaled_linear', trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
const key = { seed: 1, stage: 'test', segment: 0, window: 0, tile: 0, step: 0 };

describe('ddimTimesteps', () => {
  it('is descending and evenly spaced like diffusers set_timesteps (leading)', () => {
    // diffusers: (np.arange(0, 20) * (1000 // 20))[::-1]
    expect(ddimTimesteps(1000, 20)).toEqual(Array.from({ length: 20 }, (_, i) => (19 - i) * 50));
    expect(ddimTimesteps(1000, 3)).toEqual([666, 333, 0]);
    expect(ddimTimesteps(1000, 1)).toEqual([0]);
    expect(ddimTimesteps(1000, 1000)[0]).toBe(999);
  });

  it('pairs each step with the next, the last with −1 (clean)', () => {
    expect(ddimPairs(1000, 3)).toEqual([
      { t: 666, tPrev: 333 },
      { t: 333, tPrev: 0 },
      { t: 0, tPrev: -1 },
    ]);
  });

  it('rejects step counts outside [1, trainSteps]', () => {
    expect(() => ddimTimesteps(1000, 0)).toThrow(UserError);
    expect(() => ddimTimesteps(1000, 1001)).toThrow(/DDIM steps must be an integer in \[1, 1000\], got 1001/);
  });
});

describe('predictX0Eps', () => {
  it('inverts x_t = αx₀ + σε for ε and v = αε − σx₀', () => {
    const x0 = gaussian({ ...key, step: 1 }, 64);
    const eps = gaussian({ ...key, step: 2 }, 64);
    const { alpha, sigma } = alphaSigma(sched, 700);
    const x = addNoise(sched, x0, eps, 700);
    const v = x0.map((xi, i) => alpha * eps[i] - sigma * xi);
    for (const [prediction, out] of [
      ['eps', eps],
      ['v', v],
    ] as const) {
      const r = predictX0Eps({ x, out, alpha, sigma, prediction });
      for (let i = 0; i < 64; i++) {
        expect(r.x0[i]).toBeCloseTo(x0[i], 4);
        expect(r.eps[i]).toBeCloseTo(eps[i], 5);
      }
    }
  });
});

describe('ddimStep', () => {
  it('with η = 0 and the true ε or v, walks from pure-ish noise to x₀ exactly', () => {
    const x0 = gaussian({ ...key, step: 3 }, 256);
    const eps = gaussian({ ...key, step: 4 }, 256);
    for (const prediction of ['eps', 'v'] as const) {
      let x = addNoise(sched, x0, eps, 950);
      let lastX0 = x0;
      for (const { t, tPrev } of ddimPairs(1000, 20)) {
        const { alpha, sigma } = alphaSigma(sched, t);
        // The oracle model: the true ε (or v) of the current sample, which stays on the same ε line.
        const out = prediction === 'eps' ? eps : x0.map((xi, i) => alpha * eps[i] - sigma * xi);
        const r = ddimStep({ schedule: sched, t, tPrev, x, out, prediction, eta: 0 });
        x = r.prev;
        lastX0 = r.x0;
      }
      let maxErr = 0;
      for (let i = 0; i < 256; i++)
        maxErr = Math.max(maxErr, Math.abs(x[i] - x0[i]), Math.abs(lastX0[i] - x0[i]));
      expect(maxErr).toBeLessThan(1e-5);
    }
  });

  // Hand computation (Python 3 float64, from the same ᾱ table as sampling-schedule.test.ts): ᾱ_500 = 0.2763326838229746, ᾱ_450 from the
  // same table; x = 0.3, out = −0.7:
  //   eps: x̂₀ = (x − σ₅₀₀·out)/α₅₀₀, prev = √ᾱ₄₅₀·x̂₀ + √(1−ᾱ₄₅₀)·out
  //   v:   x̂₀ = α·x − σ·out, ε̂ = α·out + σ·x, prev = √ᾱ₄₅₀·x̂₀ + √(1−ᾱ₄₅₀)·ε̂
  //   eps with η = 0.5, z = 1.25: σ_η = 0.21438587613995153, prev = √ᾱ₄₅₀·x̂₀ + √(1−ᾱ₄₅₀−σ_η²)·out + σ_η·z
  const x = new Float32Array([0.3]);
  const out = new Float32Array([-0.7]);
  it('one ε step matches the hand-computed DDIM formula', () => {
    const r = ddimStep({ schedule: sched, t: 500, tPrev: 450, x, out, prediction: 'eps', eta: 0 });
    expect(r.x0[0]).toBe(Math.fround(1.7034915685653687));
    expect(r.prev[0]).toBe(Math.fround(0.43789589405059814));
  });

  it("without clipping or η noise, gives the general formula's float32 bytes (−0 becomes +0 in x_prev)", () => {
    // ddimStep has branch-free loops for this case; the reference is the formula as the general loop has it.
    const n = 1000;
    const xs = gaussian(key, n);
    const outs = gaussian({ ...key, step: 1 }, n);
    xs[0] = -0;
    outs[0] = -0;
    for (const prediction of ['eps', 'v'] as const) {
      for (const [t, tPrev] of [
        [999, 500],
        [500, -1],
      ]) {
        const r = ddimStep({ schedule: sched, t, tPrev, x: xs, out: outs, prediction, eta: 0 });
        const { alpha, sigma } = alphaSigma(sched, t);
        const a = Math.sqrt(tPrev < 0 ? 1 : sched.alphasCumprod[tPrev]);
        const d = Math.sqrt(Math.max(0, 1 - (tPrev < 0 ? 1 : sched.alphasCumprod[tPrev])));
        const x0 = new Float32Array(n);
        const prev = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const x0i =
            prediction === 'v' ? alpha * xs[i] - sigma * outs[i] : (xs[i] - sigma * outs[i]) / alpha;
          const epsi = prediction === 'v' ? alpha * outs[i] + sigma * xs[i] : outs[i];
          x0[i] = x0i;
          prev[i] = a * x0i + d * epsi + 0;
        }
        expect(Buffer.from(r.x0.buffer).equals(Buffer.from(x0.buffer))).toBe(true);
        expect(Buffer.from(r.prev.buffer).equals(Buffer.from(prev.buffer))).toBe(true);
        expect(Object.is(r.prev[0], 0)).toBe(true);
      }
    }
  });

  it("ddimPrev gives ddimStep's x_prev bit for bit, also written over the model output or the sample", () => {
    const n = 512;
    const xs = gaussian(key, n);
    const outs = gaussian({ ...key, step: 2 }, n);
    const z = gaussian({ ...key, step: 3 }, n);
    for (const prediction of ['eps', 'v'] as const)
      for (const extra of [{}, { eta: 0.5, noise: z }, { clipX0: 1 }]) {
        const args = { schedule: sched, t: 700, tPrev: 300, x: xs, out: outs, prediction, eta: 0, ...extra };
        const want = Buffer.from(ddimStep(args).prev.buffer);
        expect(Buffer.from(ddimPrev(args).buffer).equals(want)).toBe(true);
        const out = outs.slice();
        expect(ddimPrev({ ...args, out }, out)).toBe(out);
        expect(Buffer.from(out.buffer).equals(want)).toBe(true);
        const x = xs.slice();
        ddimPrev({ ...args, x }, x);
        expect(Buffer.from(x.buffer).equals(want)).toBe(true);
      }
    expect(() =>
      ddimPrev(
        { schedule: sched, t: 700, tPrev: 300, x: xs, out: outs, prediction: 'v', eta: 0 },
        new Float32Array(3),
      ),
    ).toThrow(/into has 3 values but the sample has 512/);
  });

  it('one v step matches the hand-computed formula', () => {
    const r = ddimStep({ schedule: sched, t: 500, tPrev: 450, x, out, prediction: 'v', eta: 0 });
    expect(r.x0[0]).toBe(Math.fround(0.7531825304031372));
    expect(r.prev[0]).toBe(Math.fround(0.3525826632976532));
  });

  it('η > 0 uses σ_η = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev) and the given noise', () => {
    expect(ddimSigma(sched, 500, 450, 0.5)).toBeCloseTo(0.21438587613995153, 15);
    const r = ddimStep({
      schedule: sched,
      t: 500,
      tPrev: 450,
      x,
      out,
      prediction: 'eps',
      eta: 0.5,
      noise: new Float32Array([1.25]),
    });
    expect(r.prev[0]).toBe(Math.fround(0.7261490225791931));
    expect(() =>
      ddimStep({ schedule: sched, t: 500, tPrev: 450, x, out, prediction: 'eps', eta: 0.5 }),
    ).toThrow(/needs a noise array/);
  });

  it('η = 1 on consecutive steps gives the DDPM posterior variance β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t', () => {
    for (const t of [1, 10, 500, 999]) {
      const ab = sched.alphasCumprod;
      const beta = 1 - ab[t] / ab[t - 1];
      const posterior = ((1 - ab[t - 1]) / (1 - ab[t])) * beta;
      expect(ddimSigma(sched, t, t - 1, 1) ** 2 / posterior).toBeCloseTo(1, 12);
    }
    // Ho et al.'s β̃ at t = 500 from the Python table: 0.0048060585720414465.
    expect(ddimSigma(sched, 500, 499, 1) ** 2).toBeCloseTo(0.0048060585720414465, 15);
    // The last step to the clean sample is deterministic whatever η is.
    expect(ddimSigma(sched, 0, -1, 1)).toBe(0);
  });

  it('η > 0 spreads samples with standard deviation σ_η around the deterministic step', () => {
    const n = 20000;
    const xs = new Float32Array(n).fill(0.3);
    const outs = new Float32Array(n).fill(-0.7);
    const noise = gaussian({ ...key, step: 9 }, n);
    const r = ddimStep({
      schedule: sched,
      t: 500,
      tPrev: 450,
      x: xs,
      out: outs,
      prediction: 'eps',
      eta: 1,
      noise,
    });
    const se = ddimSigma(sched, 500, 450, 1);
    const ab450 = sched.alphasCumprod[450];
    const { alpha, sigma } = alphaSigma(sched, 500);
    const mean = Math.sqrt(ab450) * ((0.3 + sigma * 0.7) / alpha) + Math.sqrt(1 - ab450 - se * se) * -0.7;
    let m = 0;
    for (const v of r.prev) m += v;
    m /= n;
    let v2 = 0;
    for (const v of r.prev) v2 += (v - m) ** 2;
    expect(m).toBeCloseTo(mean, 2);
    expect(Math.sqrt(v2 / n) / se).toBeCloseTo(1, 1);
  });

  it('clipX0 clamps x̂₀ and keeps ε̂ consistent with the sample', () => {
    const r = ddimStep({ schedule: sched, t: 500, tPrev: 450, x, out, prediction: 'eps', eta: 0, clipX0: 1 });
    expect(r.x0[0]).toBe(1);
    const { alpha, sigma } = alphaSigma(sched, 500);
    const epsClipped = (0.3 - alpha * 1) / sigma;
    const ab450 = sched.alphasCumprod[450];
    expect(r.prev[0]).toBeCloseTo(Math.sqrt(ab450) + Math.sqrt(1 - ab450) * epsClipped, 6);
  });

  it('rejects bad arguments clearly', () => {
    const base = { schedule: sched, x, out, prediction: 'eps' as const, eta: 0 };
    expect(() => ddimStep({ ...base, t: 400, tPrev: 450 })).toThrow(/tPrev \(450\) must be < t \(400\)/);
    expect(() => ddimStep({ ...base, t: 500, tPrev: 450, eta: 2 })).toThrow(
      /eta must be a number in \[0, 1\], got 2/,
    );
    expect(() => ddimStep({ ...base, t: 500, tPrev: 450, out: new Float32Array(2) })).toThrow(/2 values/);
    expect(() => ddimStep({ ...base, t: 500, tPrev: 450, prediction: 'x0' as never })).toThrow(/eps or v/);
  });
});

describe('addNoise', () => {
  it('is α_t·x₀ + σ_t·ε (noise augmentation c = α_γ x + σ_γ ε)', () => {
    const { alpha, sigma } = alphaSigma(sched, 100);
    const r = addNoise(sched, new Float32Array([0.5, -1]), new Float32Array([2, 0.25]), 100);
    expect(r[0]).toBe(Math.fround(alpha * 0.5 + sigma * 2));
    expect(r[1]).toBe(Math.fround(-alpha + sigma * 0.25));
  });
});

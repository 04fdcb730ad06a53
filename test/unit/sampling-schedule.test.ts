import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import { alphaSigma, makeSchedule } from '../../src/sampling/schedule';

// Golden ᾱ_t values computed with Python 3 float64 `math` (no numpy) straight from the contract's
// formulas: β = linspace(start, end, 1000) (linear) or linspace(√start, √end, 1000)² (scaled_linear),
// ᾱ_t = Π_{s≤t}(1 − β_s); cosine β_i = min(1 − f(i+1)/f(i), 0.999), f(t) = cos²((t/1000 + 0.008)/1.008·π/2).
const T_PROBES = [0, 1, 10, 100, 250, 500, 750, 999];
const GOLDEN = {
  scaled_linear: [
    0.99915, 0.9982960278384514, 0.9904313091142859, 0.8942234775865594, 0.6737926252333215,
    0.2763326838229746, 0.05616984800293729, 0.004660098513077238,
  ],
  linearDdpm: [
    0.9999, 0.9997800920720721, 0.997806572507846, 0.8951415908975365, 0.5214230306185275,
    0.07779665836502389, 0.003300158361569426, 4.035829765375676e-5,
  ],
  cosine: [
    0.999958715775178, 0.9999125759273678, 0.9992789037733427, 0.9715756818078386, 0.8458879864968832,
    0.49228517244880304, 0.14317864642609812, 2.4287669070348567e-9,
  ],
};

describe('makeSchedule', () => {
  it('scaled_linear 0.00085/0.012 matches the Stable Diffusion table (ᾱ_999 ≈ 0.0047)', () => {
    const s = makeSchedule({ kind: 'scaled_linear', trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012 });
    expect(s.alphasCumprod.length).toBe(1000);
    T_PROBES.forEach((t, i) => expect(s.alphasCumprod[t]).toBeCloseTo(GOLDEN.scaled_linear[i], 14));
    expect(s.alphasCumprod[999]).toBeCloseTo(0.0047, 4);
  });

  it('defaults betaStart/betaEnd to 0.00085/0.012', () => {
    const s = makeSchedule({ kind: 'scaled_linear', trainSteps: 1000 });
    expect(s.alphasCumprod[999]).toBe(
      makeSchedule({ kind: 'scaled_linear', trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012 })
        .alphasCumprod[999],
    );
  });

  it('linear (DDPM 1e-4/0.02) matches the golden table', () => {
    const s = makeSchedule({ kind: 'linear', trainSteps: 1000, betaStart: 1e-4, betaEnd: 0.02 });
    T_PROBES.forEach((t, i) => expect(s.alphasCumprod[t] / GOLDEN.linearDdpm[i]).toBeCloseTo(1, 12));
    // ᾱ_0 = 1 − β_0 exactly; ᾱ_1 = (1 − β_0)(1 − β_1) with β_1 = 1e-4 + (0.02 − 1e-4)/999.
    expect(s.alphasCumprod[0]).toBe(1 - 1e-4);
    expect(s.alphasCumprod[1]).toBeCloseTo((1 - 1e-4) * (1 - (1e-4 + 0.0199 / 999)), 15);
  });

  it('cosine equals the closed form f(t+1)/f(0) until β is clipped at 0.999', () => {
    const s = makeSchedule({ kind: 'cosine', trainSteps: 1000 });
    T_PROBES.forEach((t, i) => expect(s.alphasCumprod[t] / GOLDEN.cosine[i]).toBeCloseTo(1, 10));
    const f = (t: number) => Math.cos(((t / 1000 + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 5, 123, 500, 900, 997]) {
      expect(s.alphasCumprod[t] / (f(t + 1) / f(0))).toBeCloseTo(1, 10);
    }
    // The last step's β = 1 − f(1000)/f(999) ≈ 1 − 1.5e-27 is clipped, so ᾱ_999 = 0.001·ᾱ_998.
    expect(s.alphasCumprod[999] / s.alphasCumprod[998]).toBeCloseTo(0.001, 12);
  });

  it('alphaSigma is (√ᾱ, √(1−ᾱ)) with α² + σ² = 1, and t = −1 is clean', () => {
    const s = makeSchedule({ kind: 'scaled_linear', trainSteps: 1000 });
    const { alpha, sigma } = alphaSigma(s, 999);
    expect(alpha).toBeCloseTo(Math.sqrt(GOLDEN.scaled_linear[7]), 14);
    expect(alpha * alpha + sigma * sigma).toBeCloseTo(1, 15);
    expect(alphaSigma(s, -1)).toEqual({ alpha: 1, sigma: 0 });
    expect(() => alphaSigma(s, 1000)).toThrow(/\[-1, 999\], got 1000/);
    expect(() => alphaSigma(s, 2.5)).toThrow(/integer/);
  });

  it('rejects bad specs with UserErrors that name the field and what is allowed', () => {
    const bad: Array<[object, RegExp]> = [
      [
        { kind: 'quadratic', trainSteps: 1000 },
        /kind must be one of linear, scaled_linear, cosine, got quadratic/,
      ],
      [{ kind: 'linear', trainSteps: 0 }, /trainSteps must be an integer ≥ 2, got 0/],
      [{ kind: 'linear', trainSteps: 1000, betaStart: 0 }, /betaStart must be a number in \(0, 1\), got 0/],
      [{ kind: 'linear', trainSteps: 1000, betaEnd: 1.5 }, /betaEnd must be a number in \(0, 1\), got 1.5/],
      [
        { kind: 'scaled_linear', trainSteps: 1000, betaStart: 0.02, betaEnd: 0.01 },
        /betaEnd must be ≥ betaStart/,
      ],
    ];
    for (const [spec, msg] of bad) {
      expect(() => makeSchedule(spec as never)).toThrow(UserError);
      expect(() => makeSchedule(spec as never)).toThrow(msg);
    }
  });
});

/**
 * Model inputs built from the contract (src/models/inputs.ts): every role's feeds carry exactly the
 * contract's input names at the shapes its dimension table gives, the sampling loop's guided batch
 * rows hold the conditioning where the row uses it and zeros elsewhere, and a missing or stray value
 * is an error rather than a malformed model call.
 */
import { describe, expect, it } from 'vitest';
import { ROLES, ROLE_SPECS, bindInputShapes } from '../../src/models/contract';
import { roleFeeds, samplingFeeds, soleFeed, zeroFeeds } from '../../src/models/inputs';
import { stageSampling } from '../../src/planning/pack-summary';
import { tileLength, tilingFaults } from '../../src/planning/tiling';

const LATENT = { c: 4, h: 8, w: 16, L: 3 };
const PIXEL = { H: 32, W: 48 };

describe('zeroFeeds', () => {
  it.each(ROLES)('%s: the contract names, at shapes the contract accepts', (role) => {
    const feeds = zeroFeeds(role, { B: 2, T: 5, ...LATENT, ...PIXEL });
    const spec = ROLE_SPECS[role];
    expect(Object.keys(feeds)).toEqual(spec.inputs.map((i) => i.name));
    const shapes = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, t.shape]));
    expect(bindInputShapes(spec, shapes).problems).toEqual([]);
    for (const t of Object.values(feeds)) expect(t.data.every((v) => v === 0)).toBe(true);
  });

  it('sizes the upsampler low-res input at a quarter of x', () => {
    const feeds = zeroFeeds('upsampler', { B: 1, T: 8, ...PIXEL });
    expect(feeds.x.shape).toEqual([1, 8, 3, 32, 48]);
    expect(feeds.lowres.shape).toEqual([1, 8, 3, 8, 12]);
  });

  it('throws when a symbol the role needs is not given', () => {
    expect(() => zeroFeeds('keyframe', { B: 1, T: 5, c: 4, h: 8, w: 16 })).toThrow(/labels .*dim L/);
  });
});

describe('roleFeeds', () => {
  it('asks for a value for every input and accepts none for an input the role lacks', () => {
    const sizes = { B: 1, T: 2, ...PIXEL };
    expect(() => roleFeeds('encoder', sizes, {})).toThrow(/encoder needs input pixels/);
    expect(() =>
      roleFeeds('encoder', sizes, {
        pixels: (s) => new Float32Array(s.length),
        rate: () => new Float32Array(1),
      }),
    ).toThrow(/encoder has no input rate/);
  });

  it('checks the values fill the shape', () => {
    expect(() =>
      roleFeeds('encoder', { B: 1, T: 2, ...PIXEL }, { pixels: () => new Float32Array(3) }),
    ).toThrow(/pixels \[1,2,3,32,48\] holds 9216 values, got 3/);
  });
});

describe('soleFeed', () => {
  it("names the one input of the encoder and the decoder, and refuses a denoiser's", () => {
    const t = { shape: [1, 1, 3, 2, 2], data: new Float32Array(12) };
    expect(Object.keys(soleFeed('encoder', t))).toEqual(['pixels']);
    expect(Object.keys(soleFeed('decoder', t))).toEqual(['latents']);
    expect(() => soleFeed('keyframe', t)).toThrow(/keyframe takes 5 inputs/);
  });
});

describe('samplingFeeds', () => {
  const [T, c, h, w] = [3, 2, 2, 2];
  const frame = c * h * w;
  const context = Float32Array.from({ length: T * frame }, (_, i) => (i < frame ? i + 1 : 0));
  const frameMask = Float32Array.from([1, 0, 0]);
  const rows = [
    { useContext: false, useLabels: false },
    { useContext: true, useLabels: false },
    { useContext: true, useLabels: true },
  ];

  it('puts the conditioning on the rows that use it and zeros on the others', () => {
    const feeds = samplingFeeds('interpolation', rows, [T, c, h, w], {
      conditioning: { context, frameMask, labels: [0, 1] },
      rate: 1,
    })(new Float32Array(T * frame).fill(0.5), 250);
    expect(Object.keys(feeds).sort()).toEqual(['context', 'labels', 'mask', 'rate', 't', 'x']);
    expect(feeds.x.shape).toEqual([3, T, c, h, w]);
    expect(feeds.x.data.every((v) => v === 0.5)).toBe(true);
    expect([...feeds.t.data]).toEqual([250, 250, 250]);
    expect([...feeds.rate.data]).toEqual([1, 1, 1]);
    const row = (name: string, r: number) => {
      const n = feeds[name].data.length / 3;
      return [...feeds[name].data.subarray(r * n, (r + 1) * n)];
    };
    expect(row('context', 0).every((v) => v === 0)).toBe(true);
    expect(row('context', 1)).toEqual([...context]);
    expect(feeds.mask.shape).toEqual([3, T, 1, h, w]);
    expect(row('mask', 2)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(row('mask', 0).every((v) => v === 0)).toBe(true);
    expect(feeds.labels.shape).toEqual([3, 2]);
    expect([...feeds.labels.data]).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it("repeats the upsampler's low-res frames per row and checks their shape", () => {
    const lowres = { shape: [1, 3, 2, 3], data: Float32Array.from({ length: 18 }, (_, i) => i) };
    const step = samplingFeeds('upsampler', rows.slice(0, 2), [1, 3, 8, 12], { lowres, noiseLevel: 20 });
    const feeds = step(new Float32Array(3 * 8 * 12), 10);
    expect(feeds.lowres.shape).toEqual([2, 1, 3, 2, 3]);
    expect([...feeds.lowres.data]).toEqual([...lowres.data, ...lowres.data]);
    expect([...feeds.noise_level.data]).toEqual([20, 20]);
    expect(() => samplingFeeds('upsampler', rows, [1, 3, 8, 8], { lowres, noiseLevel: 0 })).toThrow(
      /lowres is \[1,3,2,3\], the contract wants \[1,3,2,2\]/,
    );
  });

  it('refuses to call interpolation without its rate', () => {
    expect(() =>
      samplingFeeds('interpolation', rows, [T, c, h, w], {
        conditioning: { context, frameMask, labels: [0, 1] },
      }),
    ).toThrow(/interpolation needs input rate/);
  });
});

describe('stageSampling', () => {
  it('resolves guidance left out to 1 (off) and noise augmentation to 0 (none)', () => {
    const sampling = {
      keyframe: { steps: 4, eta: 0, contextGuidance: 1.5 },
      interpolation: { steps: 3, eta: 0.5 },
      upsampler: { steps: 2, eta: 0 },
    };
    expect(stageSampling({ sampling }, 'keyframe')).toEqual({
      steps: 4,
      eta: 0,
      contextGuidance: 1.5,
      labelGuidance: 1,
      noiseAugmentation: 0,
    });
    expect(stageSampling({ sampling }, 'upsampler').noiseAugmentation).toBe(0);
  });
});

describe('the tiling rule', () => {
  it('wants integer sizes ≥ 1 and overlaps in [0, size)', () => {
    expect(tilingFaults(8, 7)).toEqual({ size: false, overlap: false });
    expect(tilingFaults(8, 8)).toEqual({ size: false, overlap: true });
    expect(tilingFaults(0, 0)).toEqual({ size: true, overlap: true });
    expect(tilingFaults(2.5, 1)).toEqual({ size: true, overlap: false });
    expect(tilingFaults(8, -1).overlap).toBe(true);
  });

  it('never makes a tile longer than its axis', () => {
    expect(tileLength(32, 40)).toBe(32);
    expect(tileLength(64, 40)).toBe(40);
  });
});

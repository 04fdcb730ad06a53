/**
 * Patchwise super-resolution is exact where the model is: the contract test pack's upsampler is
 * pointwise (x̂₀ = clip(nearest-4×(lowres / α_γ)), γ = 0), so the upscale activity run tile by tile on
 * real onnxruntime sessions and a local artifact store, then blended by the encode stage's blendTiles,
 * must equal one untiled run within float tolerance, and both must be the nearest-neighbour upsampling
 * of the low-res frames (within half an 8-bit step: tiles are stored as pixel8). Deliberately wrong blends (a tile shifted by one pixel or one frame, a tile
 * left out) must be caught, so the comparison is known to be able to fail.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inActivity } from '../../src/worker/in-process';
import { createUpscaleActivities } from '../../activities/upscale';
import { scheduleOf, type ActivityDeps } from '../../activities/deps';
import type { FrameSource, UpscaleInput } from '../../src/common/boundary';
import { createStore } from '../../src/storage';
import { connectEventBus } from '../../src/events';
import { ModelCache } from '../../src/activity-runtime/model-cache';
import { blendTiles } from '../../src/activity-runtime/tile-blend';
import { segName, stageKey } from '../../src/activity-runtime/keys';
import { planJob, type UpscaleTilePlan } from '../../src/planning/plan';
import { UPSCALE_FACTOR, type PackSummary } from '../../src/planning/pack-summary';
import type { JobSpec } from '../../src/planning/spec';
import type { Span } from '../../src/planning/tiling';
import { alphaSigma, gaussian, makeSchedule } from '../../src/sampling';
import { decodeTensor, encodeTensor, PIXEL8_SCALE, type Tensor } from '../../src/tensors';
import { CONTRACT_PACK } from '../support/pipeline';

/** Float32 tolerance: the model's ε round trip (x − σ·ε̂)/α and the blend's Σw·x/Σw, far below 1/255. */
const TOL = 1e-5;
/**
 * Tiles are stored as pixel8 (docs/tensor-format.md): a stored value is the model's within half an
 * 8-bit step. Tiled and untiled runs compute every value identically, so they still agree within TOL.
 */
const HALF_STEP = 0.5 / PIXEL8_SCALE;
const FRAMES = 24;
const F = UPSCALE_FACTOR;

const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i);

/**
 * Runs an activity function outside a worker (src/worker/in-process.ts: a real SDK Context in the
 * activity's async-local storage), with heartbeats recorded so the test can see the activity report
 * each sampling step.
 */
function activityEnvironment() {
  const heartbeats: unknown[] = [];
  return {
    heartbeats,
    run: <T>(fn: () => Promise<T>): Promise<T> =>
      inActivity('upscale', fn, { name: 'tiling-test', onHeartbeat: (d) => heartbeats.push(d) }),
  };
}

let root: string;
let deps: ActivityDeps;
let pack: PackSummary;
let spec: JobSpec;
let labels: number[];
let low: Float32Array;
let sources: FrameSource[];
let alpha0: number;
const env = activityEnvironment();
const [Hb, Wb] = [32, 64];
const [H, W] = [Hb * F, Wb * F];
const frameSize = 3 * H * W;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'vldm-tiling-'));
  const models = new ModelCache();
  const loaded = await models.get(CONTRACT_PACK);
  pack = loaded.summary;
  expect([pack.base.height, pack.base.width]).toEqual([Hb, Wb]);
  expect(pack.sampling.upsampler.noiseAugmentation ?? 0).toBe(0);
  deps = {
    store: createStore({ kind: 'local', root: path.join(root, 'store') }),
    events: await connectEventBus(undefined),
    models,
    scratchDir: root,
  };
  spec = {
    jobId: 'tiling-test',
    name: 'tiling-test',
    seconds: FRAMES / pack.video.fps,
    fps: pack.video.fps,
    scene: 'day',
    traffic: 'clear',
    seed: 3,
    pack: CONTRACT_PACK,
  };
  labels = pack.labels.map((l) => (l === 'day' || l === 'clear' ? 1 : 0));
  // The upsampler divides its conditioning by α_γ at γ = 0 (ᾱ₀ = 1 − β₀, not exactly 1).
  const { schedule } = scheduleOf(loaded, 'upsampler');
  alpha0 = alphaSigma(makeSchedule(schedule), 0).alpha;

  // Low-res frames as the decode stage leaves them: random pixels in [−1, 1], one artifact per decode
  // window of the job's own plan, on the output frame axis.
  const n = FRAMES * 3 * Hb * Wb;
  low = gaussian(
    { seed: spec.seed, stage: 'tiling-test-lowres', segment: 0, window: 0, tile: 0, step: 0 },
    n,
  ).map((v) => Math.max(-1, Math.min(1, v)));
  const plan = planJob(spec, pack);
  expect(plan.segments).toHaveLength(1);
  sources = [];
  for (const w of plan.segments[0].decode) {
    const key = stageKey(spec.jobId, 'decode', `${segName(0)}-at${w.own.start}`, { own: w.own });
    const per = 3 * Hb * Wb;
    const data = low.slice(w.own.start * per, w.own.end * per);
    await deps.store.put(key, encodeTensor({ shape: [w.own.end - w.own.start, 3, Hb, Wb], data }));
    sources.push({ key, axis: 'frame', start: w.own.start, end: w.own.end });
  }
  expect(sources.length).toBeGreaterThan(1);
}, 120_000);

afterAll(async () => {
  await deps?.models.close();
  await deps?.events.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** What workflows/segment.ts passes: the decode outputs whose frames overlap the tile's. */
function inputFor(tile: UpscaleTilePlan): UpscaleInput {
  const covering = sources.filter((s) => s.start <= tile.t.end - 1 && s.end > tile.t.start);
  return { spec, pack, labels, segment: 0, tile, sources: covering };
}

/** Runs the upscale activity on each tile; returns each tile's artifact key. */
async function upscaleAll(tiles: UpscaleTilePlan[]): Promise<Map<number, string>> {
  const { upscale } = createUpscaleActivities(deps);
  const keys = new Map<number, string>();
  for (const tile of tiles) {
    const before = env.heartbeats.length;
    const out = await env.run(() => upscale(inputFor(tile)));
    expect(out.reused).toBe(false);
    // Every DDIM step is heartbeated, in order, so a retry can see how far the last attempt got (a
    // checkpoint may add a heartbeat of the same step when sampling is slow: its cadence is timed).
    const steps = env.heartbeats.slice(before).map((d) => (d as { step?: number }).step);
    expect(steps.filter((st, i) => st !== steps[i - 1])).toEqual(range(1, pack.sampling.upsampler.steps + 1));
    keys.set(tile.index, out.key);
  }
  return keys;
}

async function load(key: string): Promise<Tensor> {
  return decodeTensor(await deps.store.get(key));
}

/** Blends the tiles with the encode stage's blendTiles, reading tile i's output from `keys` (a wrong key is a wrong tile). */
async function blend(
  tiles: UpscaleTilePlan[],
  keys: Map<number, string>,
  frames: Span,
): Promise<Float32Array> {
  const out = new Float32Array((frames.end - frames.start) * frameSize);
  let f = 0;
  for await (const px of blendTiles(tiles, (t) => load(keys.get(t.index) as string), frames, {
    height: H,
    width: W,
    factor: F,
  })) {
    expect(px.length).toBe(frameSize);
    out.set(px, f++ * frameSize);
  }
  expect(f).toBe(frames.end - frames.start);
  return out;
}

/**
 * Keys where `victim`'s output is replaced by the same tile computed one step off on `axis` (the
 * off-by-one a slicing bug would make), blended at the victim's planned place.
 */
async function withTileOffByOne(
  keys: Map<number, string>,
  victim: UpscaleTilePlan,
  axis: 't' | 'x',
): Promise<Map<number, string>> {
  const off: UpscaleTilePlan = {
    ...victim,
    index: 10_000 + victim.index,
    [axis]: { ...victim[axis], start: victim[axis].start - 1, end: victim[axis].end - 1 },
  };
  const offKey = (await upscaleAll([off])).get(off.index) as string;
  return new Map([...keys, [victim.index, offKey]]);
}

/** Largest |a − b| and where it is, as (frame, channel, y, x). */
function worstDiff(a: Float32Array, b: Float32Array): { diff: number; at: number[] } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let i0 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) [diff, i0] = [d, i];
  }
  return {
    diff,
    at: [
      Math.floor(i0 / frameSize),
      Math.floor((i0 % frameSize) / (H * W)),
      Math.floor((i0 % (H * W)) / W),
      i0 % W,
    ],
  };
}

function expectClose(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  const { diff, at } = worstDiff(actual, expected);
  expect(
    diff,
    `${what}: worst |difference| at (frame, channel, y, x) = (${at.join(', ')})`,
  ).toBeLessThanOrEqual(tol);
}

/** Nearest-neighbour 4× upsampling of the low-res frames, each value mapped by `f`. */
function nearest(f: (v: number) => number): Float32Array {
  const out = new Float32Array(FRAMES * frameSize);
  for (let t = 0; t < FRAMES; t++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          out[((t * 3 + c) * H + y) * W + x] = f(low[((t * 3 + c) * Hb + (y >> 2)) * Wb + (x >> 2)]);
  return out;
}

const whole = (start: number, end: number) => ({ start, end, overlapBefore: 0, overlapAfter: 0 });

describe('an identity-like upsampler run tiled equals the same run untiled', () => {
  let untiled: Float32Array;

  beforeAll(async () => {
    const one: UpscaleTilePlan = { index: 0, t: whole(0, FRAMES), y: whole(0, Hb), x: whole(0, Wb) };
    const keys = await upscaleAll([one]);
    const t = await load(keys.get(0) as string);
    expect(t.shape).toEqual([FRAMES, 3, H, W]);
    untiled = t.data;
  }, 120_000);

  it('untiled, it is the nearest-neighbour upsampling of the low-res frames', () => {
    // Exactly the contract pack's formula, x̂₀ = clip(nearest-4×(lowres / α₀)) …
    expectClose(
      untiled,
      nearest((v) => Math.max(-1, Math.min(1, v / alpha0))),
      HALF_STEP + TOL,
      'untiled vs clip(nearest(lowres / α₀))',
    );
    // … which is the plain nearest upsampling up to 1/α₀ − 1 ≈ 4·10⁻⁴ (β₀ = 0.00085).
    expectClose(
      untiled,
      nearest((v) => v),
      1 / alpha0 - 1 + HALF_STEP + TOL,
      'untiled vs nearest(lowres)',
    );
  });

  const tilings: Array<{
    name: string;
    windows: Partial<PackSummary['windows']['upscale']>;
    mixed: Array<'t' | 'y' | 'x'>;
  }> = [
    { name: "the pack's tiles (16 frames/4, 32×40/8)", windows: {}, mixed: ['t', 'x'] },
    {
      name: 'small tiles that divide neither axis (7 frames/2, 12×20/3)',
      windows: { frames: 7, overlapFrames: 2, tileHeight: 12, tileWidth: 20, overlap: 3 },
      mixed: ['t', 'y', 'x'],
    },
    {
      // Overlaps of more than half a tile: three tiles meet on t and y, the ramps no longer sum to 1,
      // and only dividing by the accumulated weight gives the right value.
      name: 'tiles overlapping by more than half (8 frames/5, 20×40/14)',
      windows: { frames: 8, overlapFrames: 5, tileHeight: 20, tileWidth: 40, overlap: 14 },
      mixed: ['t', 'y', 'x'],
    },
  ];

  describe.each(tilings)('$name', ({ windows, mixed }) => {
    let tiles: UpscaleTilePlan[];
    let keys: Map<number, string>;
    const frames = { start: 0, end: FRAMES };

    beforeAll(async () => {
      const plan = planJob(spec, {
        ...pack,
        windows: { ...pack.windows, upscale: { ...pack.windows.upscale, ...windows } },
      });
      tiles = plan.segments[0].upscale;
      expect(plan.segments[0].frames).toEqual(frames);
      // Tiles overlap on these axes, so the blend really mixes tiles there.
      for (const axis of mixed)
        expect(
          tiles.some((t) => t[axis].overlapAfter > 0),
          `tiles overlap on ${axis}`,
        ).toBe(true);
      keys = await upscaleAll(tiles);
    }, 120_000);

    it('blended, equals the untiled run within float tolerance', async () => {
      const blended = await blend(tiles, keys, frames);
      expectClose(blended, untiled, TOL, 'tiled vs untiled');
      expectClose(
        blended,
        nearest((v) => Math.max(-1, Math.min(1, v / alpha0))),
        HALF_STEP + TOL,
        'tiled vs clip(nearest(lowres / α₀))',
      );
    });

    it('a tile computed one low-res pixel to the left is caught', async () => {
      const victim = tiles.find((t) => t.x.start > 0) as UpscaleTilePlan;
      const wrong = await blend(tiles, await withTileOffByOne(keys, victim, 'x'), frames);
      expect(() => expectClose(wrong, untiled, TOL, 'shifted')).toThrow(/shifted: worst \|difference\|/);
    });

    it('a tile computed one frame early is caught', async () => {
      const victim = tiles.find((t) => t.t.start > 0) as UpscaleTilePlan;
      const wrong = await blend(tiles, await withTileOffByOne(keys, victim, 't'), frames);
      expect(() => expectClose(wrong, untiled, TOL, 'shifted in time')).toThrow(
        /shifted in time: worst \|difference\|/,
      );
    });

    it('a tile left out is caught by the blend itself', async () => {
      const missing = tiles[tiles.length - 1];
      await expect(
        blend(
          tiles.filter((t) => t !== missing),
          keys,
          frames,
        ),
      ).rejects.toThrow(/has zero blend weight|is covered by no tile/);
    });
  });
});

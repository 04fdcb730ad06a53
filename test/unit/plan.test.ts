/**
 * Every frame/tile/window plan covers each output frame and pixel exactly once (issue 2's tiling
 * requirement). For a table of video lengths and of window settings (the packs' own, and synthetic
 * ones picked to hit edge cases: shortest windows, tiles that do not divide the frame, overlaps of more
 * than half a tile, no overlap at all), the plan is checked against coverage rules restated here from
 * what each stage needs, not from how plan.ts computes it. Then one small plan written out by hand,
 * and pack windows that make no sense.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/common/errors';
import { loadPackSummary } from '../../src/cli/edge';
import { planJob, type JobPlan, type SegmentPlan } from '../../src/planning/plan';
import {
  CHAPTER_SEGMENTS,
  RENDER_VERSION,
  borrowedIds,
  chapterRanges,
  coveringSpans,
  spanIndex,
} from '../../src/planning/render-plan';
import { estimateHistories } from '../../src/planning/history-estimate';
import { FRAMES_PER_KEYFRAME, INTERPOLATION_RATE, type PackSummary } from '../../src/planning/pack-summary';
import type { JobSpec } from '../../src/planning/spec';
import type { Span, Tile } from '../../src/planning/tiling';
import { boxWeights } from '../../src/sampling/blend';

const ROOT = path.resolve(__dirname, '..', '..');
const CONTRACT_PACK = path.join(ROOT, 'models', 'contract-test');
const REFERENCE_PACK = path.join(ROOT, 'models', 'reference');
const FPS = 24;

type Windows = PackSummary['windows'];

/** A spec of `frames` output frames at 24 fps (planJob reads only seconds, fps and the labels). */
function specOf(frames: number, labels: { scene?: string; traffic?: string } = {}): JobSpec {
  return {
    jobId: 'plan-test',
    name: 'plan-test',
    seconds: frames / FPS,
    fps: FPS,
    scene: labels.scene ?? 'day',
    traffic: labels.traffic ?? 'clear',
    seed: 0,
    pack: CONTRACT_PACK,
  };
}

function withWindows(
  pack: PackSummary,
  name: string,
  w: Partial<{ [K in keyof Windows]: Partial<Windows[K]> }>,
): PackSummary {
  return {
    ...pack,
    name,
    windows: {
      keyframe: { ...pack.windows.keyframe, ...w.keyframe },
      interpolation: { ...pack.windows.interpolation, ...w.interpolation },
      decode: { ...pack.windows.decode, ...w.decode },
      upscale: { ...pack.windows.upscale, ...w.upscale },
    },
  };
}

const loaded = new Map<string, Promise<PackSummary>>();
function summaryOf(location: string): Promise<PackSummary> {
  if (!loaded.has(location)) loaded.set(location, loadPackSummary(location));
  return loaded.get(location) as Promise<PackSummary>;
}

/** The window settings under test: the packs' own, then synthetic ones over the contract pack (base 32×64). */
const PACKS: Array<{ name: string; load: () => Promise<PackSummary> }> = [
  { name: 'contract-test pack', load: () => summaryOf(CONTRACT_PACK) },
  ...(existsSync(path.join(REFERENCE_PACK, 'vldm-pack.json'))
    ? [{ name: 'reference pack', load: () => summaryOf(REFERENCE_PACK) }]
    : []),
  {
    // Shortest chain window (1 new keyframe per segment), one interval per interpolation window, no decode
    // context, tiles that divide neither 32 nor 64 and a temporal tile that does not divide 16.
    name: 'keyframe 3, intervals 1, decode overlap 0, tiles 12×20/3, 7 frames/2',
    load: async () =>
      withWindows(await summaryOf(CONTRACT_PACK), 'synthetic-a', {
        keyframe: { frames: 3 },
        interpolation: { intervals: 1 },
        decode: { frames: 5, overlap: 0 },
        upscale: { frames: 7, overlapFrames: 2, tileHeight: 12, tileWidth: 20, overlap: 3 },
      }),
  },
  {
    // Interpolation windows of 3 intervals (never aligned with segment ends), whole-frame tiles, no
    // temporal overlap, one-frame upscale tiles.
    name: 'keyframe 4, intervals 3, decode 7/3, whole-frame tiles, 1 frame/0',
    load: async () =>
      withWindows(await summaryOf(CONTRACT_PACK), 'synthetic-b', {
        keyframe: { frames: 4 },
        interpolation: { intervals: 3 },
        decode: { frames: 7, overlap: 3 },
        upscale: { frames: 1, overlapFrames: 0, tileHeight: 32, tileWidth: 64, overlap: 0 },
      }),
  },
  {
    // Overlaps of more than half a tile: three tiles meet on every axis, ramps multiply.
    name: 'keyframe 6, intervals 2, decode 1/4, tiles 10×12/6, 6 frames/4',
    load: async () =>
      withWindows(await summaryOf(CONTRACT_PACK), 'synthetic-c', {
        keyframe: { frames: 6 },
        interpolation: { intervals: 2 },
        decode: { frames: 1, overlap: 4 },
        upscale: { frames: 6, overlapFrames: 4, tileHeight: 10, tileWidth: 12, overlap: 6 },
      }),
  },
  {
    // Long windows: several segments' worth of frames per window, tiles larger than the frame.
    name: 'keyframe 16, intervals 8, decode 48/5, tiles 48×80/8, 40 frames/9',
    load: async () =>
      withWindows(await summaryOf(CONTRACT_PACK), 'synthetic-d', {
        keyframe: { frames: 16 },
        interpolation: { intervals: 8 },
        decode: { frames: 48, overlap: 5 },
        upscale: { frames: 40, overlapFrames: 9, tileHeight: 48, tileWidth: 80, overlap: 8 },
      }),
  },
];

/** Frame counts: 0.25 s to 120 s at 24 fps, plus counts just around keyframe and 4T boundaries. */
const SECONDS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 120];
const FRAME_COUNTS = [...SECONDS.map((s) => s * FPS), 2, 15, 16, 17, 31, 32, 33, 47, 49, 97];

function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}

/** Integers of `spans`, asserting the spans are disjoint, in order and each non-empty. */
function disjointUnion(spans: Span[], what: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < spans.length; i++) {
    expect(spans[i].end, `${what} ${i} is empty`).toBeGreaterThan(spans[i].start);
    if (i > 0)
      expect(spans[i].start, `${what} ${i} overlaps or precedes ${what} ${i - 1}`).toBeGreaterThanOrEqual(
        spans[i - 1].end,
      );
    out.push(...range(spans[i].start, spans[i].end));
  }
  return out;
}

/** The distinct tiles of one axis, in order, checked for consistent overlap bookkeeping. */
function checkAxis(tiles: Tile[], extent: Span, size: number, minOverlap: number, what: string): void {
  expect(tiles[0].start, `${what}: first tile starts at the extent`).toBe(extent.start);
  expect(tiles[0].overlapBefore, `${what}: first tile has no neighbour before`).toBe(0);
  expect(tiles[tiles.length - 1].end, `${what}: last tile ends at the extent`).toBe(extent.end);
  expect(tiles[tiles.length - 1].overlapAfter, `${what}: last tile has no neighbour after`).toBe(0);
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    expect(t.end - t.start, `${what} tile ${i} length`).toBeLessThanOrEqual(size);
    expect(t.end - t.start, `${what} tile ${i} length`).toBeGreaterThan(0);
    if (i === 0) continue;
    const shared = tiles[i - 1].end - t.start;
    expect(t.start, `${what} tile ${i} starts after the previous one`).toBeGreaterThan(tiles[i - 1].start);
    expect(shared, `${what} tiles ${i - 1}/${i} overlap at least the pack's overlap`).toBeGreaterThanOrEqual(
      minOverlap,
    );
    expect(t.overlapBefore, `${what} tile ${i} overlapBefore = what it shares with tile ${i - 1}`).toBe(
      shared,
    );
    expect(
      tiles[i - 1].overlapAfter,
      `${what} tile ${i - 1} overlapAfter = what it shares with tile ${i}`,
    ).toBe(shared);
  }
}

function distinct<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const x of xs) if (!seen.has(key(x))) seen.set(key(x), x);
  return [...seen.values()].sort((a, b) => Number(key(a).split(',')[0]) - Number(key(b).split(',')[0]));
}
const tileKey = (t: Tile) => `${t.start},${t.end},${t.overlapBefore},${t.overlapAfter}`;

/**
 * Upscale tiles laid over `frames` (one segment's in render version 1, the whole video's in version 2):
 * consistent axes, and blend weight > 0 on every (frame, y, x) of those frames.
 */
function checkUpscale(seg: Pick<SegmentPlan, 'upscale' | 'frames'>, pack: PackSummary, what: string): void {
  const u = pack.windows.upscale;
  const { height: H, width: W } = pack.base;
  expect(
    seg.upscale.map((t) => t.index),
    `${what} indices`,
  ).toEqual(range(0, seg.upscale.length));
  const ts = distinct(
    seg.upscale.map((t) => t.t),
    tileKey,
  );
  const ys = distinct(
    seg.upscale.map((t) => t.y),
    tileKey,
  );
  const xs = distinct(
    seg.upscale.map((t) => t.x),
    tileKey,
  );
  checkAxis(ts, seg.frames, u.frames, Math.min(u.overlapFrames, u.frames - 1), `${what} t`);
  checkAxis(ys, { start: 0, end: H }, u.tileHeight, u.overlap, `${what} y`);
  checkAxis(xs, { start: 0, end: W }, u.tileWidth, u.overlap, `${what} x`);
  // Each (t, y, x) combination exactly once: the tiles are the full product of the axes, no repeats.
  const combos = new Set(seg.upscale.map((t) => `${tileKey(t.t)}|${tileKey(t.y)}|${tileKey(t.x)}`));
  expect(combos.size, `${what}: repeated tiles`).toBe(seg.upscale.length);
  expect(seg.upscale.length, `${what}: tiles = product of the axes`).toBe(ts.length * ys.length * xs.length);

  // Accumulate the blend weights exactly as the blend does (boxWeights over the tile's box with its
  // overlaps), at the low-res grid the tiles are planned on: the set of covered frames must be the
  // segment's frames, every pixel must get weight > 0, and where no three tiles meet the raised-cosine
  // ramps of neighbours must sum to 1 (so overlaps really are shared by exactly the tiles that say so).
  const T = seg.frames.end - seg.frames.start;
  const total = new Float64Array(T * H * W);
  const outside = seg.upscale.filter((t) => t.t.start < seg.frames.start || t.t.end > seg.frames.end);
  expect(outside, `${what}: tiles reaching outside their frames`).toEqual([]);
  for (const tile of seg.upscale) {
    const [tt, th, tw] = [tile.t.end - tile.t.start, tile.y.end - tile.y.start, tile.x.end - tile.x.start];
    const w = boxWeights(
      [tt, th, tw],
      [
        [tile.t.overlapBefore, tile.t.overlapAfter],
        [tile.y.overlapBefore, tile.y.overlapAfter],
        [tile.x.overlapBefore, tile.x.overlapAfter],
      ],
    );
    for (let f = 0; f < tt; f++) {
      for (let y = 0; y < th; y++) {
        const dst = ((tile.t.start - seg.frames.start + f) * H + tile.y.start + y) * W + tile.x.start;
        const src = (f * th + y) * tw;
        for (let x = 0; x < tw; x++) total[dst + x] += w[src + x];
      }
    }
  }
  const twoAtMost = [ts, ys, xs].every((axis) =>
    axis.every((t) => t.overlapBefore + t.overlapAfter <= t.end - t.start),
  );
  let zero = -1;
  let worst = 0;
  for (let i = 0; i < total.length; i++) {
    if (!(total[i] > 0) && zero < 0) zero = i;
    worst = Math.max(worst, Math.abs(total[i] - 1));
  }
  if (zero >= 0) {
    const f = Math.floor(zero / (H * W)) + seg.frames.start;
    const y = Math.floor((zero % (H * W)) / W);
    expect.fail(`${what}: frame ${f} pixel (${y}, ${zero % W}) has blend weight 0`);
  }
  if (twoAtMost) expect(worst, `${what}: blend weights of neighbours sum to 1`).toBeLessThan(1e-5);
}

/** Render version 1: each segment decodes and upscales its own frames, cut at its boundaries. */
function checkSegmentRender(s: SegmentPlan, pack: PackSummary): void {
  const d = pack.windows.decode;
  const R = INTERPOLATION_RATE;
  const what = `segment ${s.index}`;
  const own = range(s.frames.start, s.frames.end);
  const pass1 = s.interpolation.filter((w) => w.pass === 1);
  // Decode windows own a partition of the segment's frames; each decodes its own frames plus up to
  // `overlap` frames of context on each side, as far as this segment's latents reach.
  const latents = new Set(pass1.flatMap((w) => range(R * w.start, R * (w.start + w.intervals) + 1)));
  expect(
    disjointUnion(
      s.decode.map((w) => w.own),
      `${what} decode window`,
    ),
  ).toEqual(own);
  for (const w of s.decode) {
    expect(w.own.end - w.own.start, `${what} decode window size`).toBeLessThanOrEqual(d.frames);
    expect(w.decoded.start).toBeLessThanOrEqual(w.own.start);
    expect(w.decoded.end).toBeGreaterThanOrEqual(w.own.end);
    expect(
      range(w.decoded.start, w.decoded.end).filter((f) => !latents.has(f)),
      `${what}: decoded frames without latents`,
    ).toEqual([]);
    expect(w.decoded.start, `${what}: decode context before`).toBe(
      latents.has(w.own.start - d.overlap) ? w.own.start - d.overlap : Math.min(...latents),
    );
    expect(w.decoded.end, `${what}: decode context after`).toBe(
      latents.has(w.own.end + d.overlap - 1) ? w.own.end + d.overlap : Math.max(...latents) + 1,
    );
  }

  checkUpscale(s, pack, `segment ${s.index} upscale`);
}

/**
 * Render version 2: decode windows own a partition of the whole video and decode context across
 * segment boundaries; the tiles cover the whole video; each item belongs to the latest segment whose
 * latents it reads; clips partition the video and blend only tiles of their segment or earlier ones;
 * and what a segment borrows is exactly what its items read from earlier segments.
 */
function checkWholeVideoRender(plan: JobPlan, pack: PackSummary, N: number): void {
  const d = pack.windows.decode;
  const R = INTERPOLATION_RATE;
  const segs = plan.segments;
  const out = (w: { start: number; intervals: number }) => ({
    start: R * w.start,
    end: R * (w.start + w.intervals) + 1,
  });
  const latentsOf = segs.flatMap((s) =>
    s.interpolation.filter((w) => w.pass === 1).map((w) => ({ seg: s.index, w, ...out(w) })),
  );
  const latentEnd = Math.max(...latentsOf.map((l) => l.end));
  const decodes = segs.flatMap((s) => s.decode.map((w) => ({ seg: s.index, w })));
  expect(
    disjointUnion(
      decodes.map((x) => x.w.own),
      'decode window (whole video)',
    ),
  ).toEqual(range(0, N));
  for (const { seg, w } of decodes) {
    const what = `decode window ${w.own.start}`;
    expect(w.own.end - w.own.start, `${what} size`).toBeLessThanOrEqual(d.frames);
    expect(w.decoded, `${what}: context on both sides, across segments`).toEqual({
      start: Math.max(0, w.own.start - d.overlap),
      end: Math.min(latentEnd, w.own.end + d.overlap),
    });
    const reads = latentsOf.filter((l) => l.start <= w.decoded.end - 1 && l.end > w.decoded.start);
    const covered = new Set(reads.flatMap((l) => range(l.start, l.end)));
    expect(
      range(w.decoded.start, w.decoded.end).filter((f) => !covered.has(f)),
      `${what}: frames without latents`,
    ).toEqual([]);
    expect(seg, `${what} belongs to the latest segment it reads`).toBe(Math.max(...reads.map((l) => l.seg)));
  }
  const tiles = segs.flatMap((s) => s.upscale.map((tile) => ({ seg: s.index, tile })));
  tiles.sort((a, b) => a.tile.index - b.tile.index);
  checkUpscale(
    { upscale: tiles.map((t) => t.tile), frames: { start: 0, end: N } },
    pack,
    'whole-video upscale',
  );
  const segOfDecode = new Map(decodes.map((x) => [x.w.own.start, x.seg]));
  for (const { seg, tile } of tiles) {
    const reads = decodes.filter((x) => x.w.own.start < tile.t.end && x.w.own.end > tile.t.start);
    expect(seg, `tile ${tile.index} belongs to the latest segment it reads`).toBe(
      Math.max(...reads.map((x) => segOfDecode.get(x.w.own.start)!)),
    );
  }
  const clips = segs.map((s) => s.render!.clip);
  expect(disjointUnion(clips, 'clip'), 'clips partition the video').toEqual(range(0, N));
  clips.forEach((c, i) => {
    expect(c.end, `clip ${i} is not empty`).toBeGreaterThan(c.start);
    if (i > 0) expect(c.start, `clips in segment order`).toBe(clips[i - 1].end);
    const blend = tiles.filter((t) => t.tile.t.start < c.end && t.tile.t.end > c.start);
    expect(Math.max(...blend.map((t) => t.seg)), `clip ${i} blends tiles of segment ${i} at the latest`).toBe(
      i,
    );
  });
  // A segment borrows exactly what it reads directly of earlier segments: latents for its decode
  // windows, decode windows for its tiles, tiles for its clip; and lends exactly what later ones borrow.
  const lentBy = new Map<number, Array<{ segment: number; ids: string[] }>>(segs.map((s) => [s.index, []]));
  for (const s of segs) {
    const clip = s.render!.clip;
    const expected = new Map<number, { latents: string[]; decode: string[]; upscale: number[] }>();
    const slot = (g: number) => {
      expect(g, `segment ${s.index} borrows only from earlier segments`).toBeLessThan(s.index);
      return expected.get(g) ?? expected.set(g, { latents: [], decode: [], upscale: [] }).get(g)!;
    };
    const ownDecodes = decodes.filter((x) => x.seg === s.index);
    const latentsRead = new Set(
      ownDecodes.flatMap((x) =>
        latentsOf.filter((l) => l.start <= x.w.decoded.end - 1 && l.end > x.w.decoded.start),
      ),
    );
    for (const l of latentsRead) if (l.seg !== s.index) slot(l.seg).latents.push(JSON.stringify(l.w));
    const decodeRead = new Set(
      tiles
        .filter((t) => t.seg === s.index)
        .flatMap((t) => decodes.filter((x) => x.w.own.start < t.tile.t.end && x.w.own.end > t.tile.t.start)),
    );
    for (const x of decodeRead) if (x.seg !== s.index) slot(x.seg).decode.push(JSON.stringify(x.w));
    for (const t of tiles)
      if (t.seg !== s.index && t.tile.t.start < clip.end && t.tile.t.end > clip.start)
        slot(t.seg).upscale.push(t.tile.index);
    const got = new Map(
      (s.render!.borrowed ?? []).map((b) => [
        b.segment,
        {
          latents: b.latents.map((w) => JSON.stringify(w)).sort(),
          decode: b.decode.map((w) => JSON.stringify(w)).sort(),
          upscale: b.upscale.map((t) => t.index).sort((a, b) => a - b),
        },
      ]),
    );
    for (const [g, e] of expected)
      expect(got.get(g), `segment ${s.index} borrows from segment ${g}`).toEqual({
        latents: e.latents.sort(),
        decode: e.decode.sort(),
        upscale: e.upscale.sort((a, b) => a - b),
      });
    expect([...got.keys()].sort(), `segment ${s.index} borrows nothing else`).toEqual(
      [...expected.keys()].sort(),
    );
    for (const b of s.render!.borrowed ?? [])
      lentBy.get(b.segment)!.push({ segment: s.index, ids: borrowedIds({ clip, borrowed: [b] }).sort() });
  }
  for (const s of segs)
    expect(s.render!.lends ?? [], `segment ${s.index} lends what later segments borrow`).toEqual(
      lentBy.get(s.index),
    );
}

/** All coverage rules of one plan. */
function checkPlan(plan: JobPlan, pack: PackSummary, N: number): void {
  const Wk = pack.windows.keyframe.frames;
  const n = pack.windows.interpolation.intervals;
  const R = INTERPOLATION_RATE;
  const K = plan.keyframes;
  expect(plan.frames).toBe(N);
  expect(plan.fps).toBe(FPS);
  expect(plan.keyframeFps).toBe(FPS / FRAMES_PER_KEYFRAME);
  // Keyframe k is output frame 16k: the last frame's interval needs keyframe K−1, and no more.
  expect(FRAMES_PER_KEYFRAME * (K - 1), 'keyframes reach past the last frame').toBeGreaterThanOrEqual(N);
  expect(
    FRAMES_PER_KEYFRAME * (K - 2),
    'no keyframe beyond the one the last frame needs',
  ).toBeLessThanOrEqual(N - 1);

  // Segments own consecutive, non-empty frame ranges that partition [0, N).
  const segs = plan.segments;
  expect(segs.map((s) => s.index)).toEqual(range(0, segs.length));
  expect(
    disjointUnion(
      segs.map((s) => s.frames),
      'segment frames',
    ),
  ).toEqual(range(0, N));
  expect(
    disjointUnion(
      segs.map((s) => s.intervals),
      'segment intervals',
    ),
  ).toEqual(range(0, K - 1));

  // The keyframe chain: segment 0 starts with the image frame then continues from 1 context frame; each
  // later window's context frames are the last `context` frames of the previous window.
  const fresh: number[] = [];
  segs.forEach((s, i) => {
    const kw = s.keyframes;
    expect(kw.frames, `segment ${i} keyframe window size`).toBeLessThanOrEqual(Wk);
    if (i === 0) {
      expect(kw).toEqual({ start: 0, frames: Math.min(Wk, K), context: 1, firstFrameFromImage: true });
    } else {
      const prev = segs[i - 1].keyframes;
      expect(kw.firstFrameFromImage, `segment ${i} is not the image frame`).toBe(false);
      expect(kw.context, `segment ${i} continues from 2 frames`).toBe(2);
      expect(kw.start, `segment ${i} context = last frames of segment ${i - 1}`).toBe(
        prev.start + prev.frames - kw.context,
      );
      expect(kw.frames, `segment ${i} makes at least one new keyframe`).toBeGreaterThan(kw.context);
    }
    const newKeyframes = range(i === 0 ? 0 : kw.start + kw.context, kw.start + kw.frames);
    fresh.push(...newKeyframes);
    // A segment renders exactly the intervals whose right keyframe it makes.
    expect(range(s.intervals.start, s.intervals.end), `segment ${i} intervals`).toEqual(
      newKeyframes.filter((k) => k > 0).map((k) => k - 1),
    );
    expect(s.frames, `segment ${i} frames are its intervals'`).toEqual({
      start: FRAMES_PER_KEYFRAME * s.intervals.start,
      end: Math.min(N, FRAMES_PER_KEYFRAME * s.intervals.end),
    });
  });
  expect(fresh, 'every keyframe made exactly once, in order').toEqual(range(0, K));

  for (const s of segs) {
    const what = `segment ${s.index}`;
    const own = range(s.frames.start, s.frames.end);
    const pass0 = s.interpolation.filter((w) => w.pass === 0);
    const pass1 = s.interpolation.filter((w) => w.pass === 1);
    expect(pass0.length + pass1.length, `${what}: windows of pass 0 or 1 only`).toBe(s.interpolation.length);
    for (const w of s.interpolation) {
      expect(w.intervals, `${what} window size`).toBeLessThanOrEqual(n);
      expect(Number.isInteger(w.start) && Number.isInteger(w.intervals)).toBe(true);
    }
    // Pass 1 (4T → 16T) fills exactly the 4T intervals [4j, 4j+4) that hold an owned frame, each once.
    const need1 = [...new Set(own.map((f) => Math.floor(f / R)))];
    const got1 = disjointUnion(
      pass1.map((w) => ({ start: w.start, end: w.start + w.intervals })),
      `${what} pass-1 window`,
    );
    expect(got1, `${what}: pass-1 intervals`).toEqual(need1);
    // Those read the 4T frames at both ends of each interval; pass 0 (T → 4T) must output them all, with
    // the fewest keyframe intervals (4T frames 4i … 4i+4 come out of keyframe interval i).
    const quarterNeeded = [...new Set(need1.flatMap((j) => [j, j + 1]))];
    const qMin = Math.min(...quarterNeeded);
    const qMax = Math.max(...quarterNeeded);
    expect(qMin % R, `${what} starts on a keyframe`).toBe(0);
    const got0 = disjointUnion(
      pass0.map((w) => ({ start: w.start, end: w.start + w.intervals })),
      `${what} pass-0 window`,
    );
    expect(got0, `${what}: pass-0 intervals`).toEqual(range(qMin / R, Math.ceil(qMax / R)));
    const quarterOut = new Set(pass0.flatMap((w) => range(R * w.start, R * (w.start + w.intervals) + 1)));
    expect(
      quarterNeeded.filter((q) => !quarterOut.has(q)),
      `${what}: 4T frames read but not made`,
    ).toEqual([]);
    // Pass-0 windows read keyframes from this segment's keyframe window only, all of which exist.
    for (const w of pass0) {
      expect(w.start, `${what} pass-0 window reads inside its keyframe window`).toBeGreaterThanOrEqual(
        s.keyframes.start,
      );
      expect(w.start + w.intervals, `${what} pass-0 window reads inside its keyframe window`).toBeLessThan(
        s.keyframes.start + s.keyframes.frames,
      );
      expect(w.start + w.intervals).toBeLessThanOrEqual(K - 1);
    }

    if (!s.render) checkSegmentRender(s, pack);
  }
  if (segs.some((s) => s.render)) checkWholeVideoRender(plan, pack, N);

  // Generated frames never overlap across segments either (known frames may be shared).
  for (const pass of [0, 1] as const) {
    const spans = segs.flatMap((s) =>
      s.interpolation
        .filter((w) => w.pass === pass)
        .map((w) => ({ start: w.start, end: w.start + w.intervals })),
    );
    disjointUnion(spans, `pass-${pass} window (all segments)`);
  }

  const c = plan.counts;
  const sum = (f: (s: SegmentPlan) => number) => segs.reduce((a, s) => a + f(s), 0);
  expect(c).toEqual({
    prepare: 1,
    keyframe: segs.length,
    interpolation: sum((s) => s.interpolation.length),
    decode: sum((s) => s.decode.length),
    upscale: sum((s) => s.upscale.length),
    encode: segs.length,
    stitch: 1,
    total: 2 + 2 * segs.length + sum((s) => s.interpolation.length + s.decode.length + s.upscale.length),
  });
}

describe.each(PACKS)('plans with $name cover every frame and pixel exactly once', ({ load }) => {
  it.each(FRAME_COUNTS)('%i frames', async (N) => {
    const pack = await load();
    // Version 2 (whole video) is what new jobs get; version 1 (per segment) is what older histories replay.
    checkPlan(planJob(specOf(N), pack), pack, N);
    checkPlan(planJob(specOf(N), pack, { render: RENDER_VERSION.perSegment }), pack, N);
  });
});

describe('a small plan, written out by hand', () => {
  it('1.5 s with a 3-keyframe chain window: 4 keyframes in 2 segments', async () => {
    // Base 32×64; x tiles of 40 with overlap ≥ 8: n = ⌈(64−8)/(40−8)⌉ = 2, starts 0 and 24 (overlap 16).
    // Temporal tiles of 16 with overlap ≥ 4 over 32 frames: n = ⌈28/12⌉ = 3, starts 0, 8, 16.
    const pack = withWindows(await summaryOf(CONTRACT_PACK), 'golden', {
      keyframe: { frames: 3 },
      interpolation: { intervals: 2 },
      decode: { frames: 16, overlap: 2 },
      upscale: { frames: 16, overlapFrames: 4, tileHeight: 32, tileWidth: 40, overlap: 8 },
    });
    const plan = planJob(specOf(36, { scene: 'night', traffic: 'crowded' }), pack, {
      render: RENDER_VERSION.perSegment,
    });
    const y = { start: 0, end: 32, overlapBefore: 0, overlapAfter: 0 };
    const x0 = { start: 0, end: 40, overlapBefore: 0, overlapAfter: 16 };
    const x1 = { start: 24, end: 64, overlapBefore: 16, overlapAfter: 0 };
    const t = [
      { start: 0, end: 16, overlapBefore: 0, overlapAfter: 8 },
      { start: 8, end: 24, overlapBefore: 8, overlapAfter: 8 },
      { start: 16, end: 32, overlapBefore: 8, overlapAfter: 0 },
    ];
    const tLast = { start: 32, end: 36, overlapBefore: 0, overlapAfter: 0 };
    expect(plan).toEqual({
      jobId: 'plan-test',
      frames: 36,
      fps: 24,
      width: 256,
      height: 128,
      keyframes: 4,
      keyframeFps: 1.5,
      labels: [0, 1, 0, 1],
      segments: [
        {
          index: 0,
          keyframes: { start: 0, frames: 3, context: 1, firstFrameFromImage: true },
          intervals: { start: 0, end: 2 },
          frames: { start: 0, end: 32 },
          interpolation: [
            { pass: 0, start: 0, intervals: 2 },
            { pass: 1, start: 0, intervals: 2 },
            { pass: 1, start: 2, intervals: 2 },
            { pass: 1, start: 4, intervals: 2 },
            { pass: 1, start: 6, intervals: 2 },
          ],
          decode: [
            { own: { start: 0, end: 16 }, decoded: { start: 0, end: 18 } },
            { own: { start: 16, end: 32 }, decoded: { start: 14, end: 33 } },
          ],
          upscale: [
            { index: 0, t: t[0], y, x: x0 },
            { index: 1, t: t[0], y, x: x1 },
            { index: 2, t: t[1], y, x: x0 },
            { index: 3, t: t[1], y, x: x1 },
            { index: 4, t: t[2], y, x: x0 },
            { index: 5, t: t[2], y, x: x1 },
          ],
        },
        {
          index: 1,
          keyframes: { start: 1, frames: 3, context: 2, firstFrameFromImage: false },
          intervals: { start: 2, end: 3 },
          frames: { start: 32, end: 36 },
          interpolation: [
            { pass: 0, start: 2, intervals: 1 },
            { pass: 1, start: 8, intervals: 1 },
          ],
          // Latents 32 … 36 exist (the 4T window 8 → 9 ends on frame 36); nothing before 32 in this segment.
          decode: [{ own: { start: 32, end: 36 }, decoded: { start: 32, end: 37 } }],
          upscale: [
            { index: 0, t: tLast, y, x: x0 },
            { index: 1, t: tLast, y, x: x1 },
          ],
        },
      ],
      counts: {
        prepare: 1,
        keyframe: 2,
        interpolation: 7,
        decode: 3,
        upscale: 8,
        encode: 2,
        stitch: 1,
        total: 24,
      },
    });
    checkPlan(plan, pack, 36);
  });
});

describe('pack windows that make no sense', () => {
  const cases: Array<[string, Partial<{ [K in keyof Windows]: Partial<Windows[K]> }>, RegExp]> = [
    [
      'a chain window without room for 2 context + 1 new frame',
      { keyframe: { frames: 2 } },
      /windows\.keyframe\.frames must be an integer ≥ 3 .*got 2/,
    ],
    [
      'a fractional chain window',
      { keyframe: { frames: 4.5 } },
      /windows\.keyframe\.frames must be an integer ≥ 3 .*got 4\.5/,
    ],
    [
      'no interpolation intervals',
      { interpolation: { intervals: 0 } },
      /windows\.interpolation\.intervals must be an integer ≥ 1, got 0/,
    ],
    [
      'a fractional interpolation window',
      { interpolation: { intervals: 1.5 } },
      /windows\.interpolation\.intervals must be an integer ≥ 1, got 1\.5/,
    ],
    [
      'a NaN interpolation window',
      { interpolation: { intervals: NaN } },
      /windows\.interpolation\.intervals must be an integer ≥ 1, got NaN/,
    ],
    [
      'an empty decode window',
      { decode: { frames: 0 } },
      /windows\.decode\.frames must be an integer ≥ 1, got 0/,
    ],
    [
      'a negative decode overlap',
      { decode: { overlap: -1 } },
      /windows\.decode\.overlap must be an integer ≥ 0, got -1/,
    ],
    [
      'an empty upscale tile in time',
      { upscale: { frames: 0 } },
      /windows\.upscale\.frames must be an integer ≥ 1, got 0/,
    ],
    [
      'a temporal overlap as long as the tile',
      { upscale: { overlapFrames: 16 } },
      /windows\.upscale\.overlapFrames must be an integer in \[0, 16\) \(below windows\.upscale\.frames\), got 16/,
    ],
    [
      'a zero tile height',
      { upscale: { tileHeight: 0 } },
      /windows\.upscale\.tileHeight must be an integer ≥ 1, got 0/,
    ],
    [
      'a fractional tile width',
      { upscale: { tileWidth: 39.5 } },
      /windows\.upscale\.tileWidth must be an integer ≥ 1, got 39\.5/,
    ],
    [
      'a spatial overlap as wide as the smaller tile side',
      { upscale: { tileHeight: 32, tileWidth: 40, overlap: 32 } },
      /windows\.upscale\.overlap must be an integer in \[0, 32\) \(below the smaller tile side\), got 32/,
    ],
    [
      'a negative spatial overlap',
      { upscale: { overlap: -2 } },
      /windows\.upscale\.overlap must be an integer in \[0, 32\) \(below the smaller tile side\), got -2/,
    ],
  ];
  it.each(cases)('%s', async (_what, windows, message) => {
    const pack = withWindows(await summaryOf(CONTRACT_PACK), 'broken', windows);
    const plan = () => planJob(specOf(48), pack);
    expect(plan).toThrow(UserError);
    expect(plan).toThrow(/^model pack broken: /);
    expect(plan).toThrow(message);
  });

  it('names every problem at once', async () => {
    const pack = withWindows(await summaryOf(CONTRACT_PACK), 'broken', {
      keyframe: { frames: 1 },
      decode: { frames: 0 },
    });
    expect(() => planJob(specOf(48), pack)).toThrow(
      /keyframe\.frames .*got 1; windows\.decode\.frames .*got 0/,
    );
  });
});

describe('plans of the longest jobs', () => {
  it('index spans exactly as a scan does', () => {
    // Spans sorted by start, of mixed lengths, some sharing a start (like a row of tiles).
    const spans: Span[] = [];
    let x = 0;
    for (let i = 0; i < 400; i++) {
      x += i % 3;
      spans.push({ start: x, end: x + 1 + ((i * 7) % 11) });
    }
    const query = spanIndex(spans);
    for (let start = -3; start < x + 15; start += 2)
      for (const len of [0, 1, 5, 17])
        expect(query(start, start + len)).toEqual(coveringSpans(spans, start, start + len));
  });

  it('cut the chain into chapters of at most CHAPTER_SEGMENTS segments', () => {
    expect(chapterRanges(3, 1)).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 3 },
    ]);
    expect(chapterRanges(250)).toEqual([
      { start: 0, end: CHAPTER_SEGMENTS },
      { start: CHAPTER_SEGMENTS, end: 2 * CHAPTER_SEGMENTS },
      { start: 2 * CHAPTER_SEGMENTS, end: 250 },
    ]);
    expect(() => chapterRanges(3, 0)).toThrow(UserError);
  });

  // The reference pack's segments are ~100 frames. The contract pack's are 48, so its 60-minute job
  // has 1,800 clips, and the stitch input's list of clip keys (~288 KB) passes the 256 KB advice.
  it('keep a 60-minute reference-pack job inside Temporal limits, in chapters', async () => {
    {
      const pack = await summaryOf(REFERENCE_PACK);
      const spec = specOf(3600 * FPS);
      const plan = planJob(spec, pack);
      const est = estimateHistories(spec, pack, plan);
      expect(est.exceeded, pack.name).toEqual([]);
      expect(est.chapters.length, pack.name).toBe(Math.ceil(plan.segments.length / CHAPTER_SEGMENTS));
      // The job's own history grows with chapters, not segments.
      expect(est.job.events, pack.name).toBeLessThan(1_000);
    }
  });
});

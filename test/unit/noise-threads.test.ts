// Noise fields on worker threads (src/activity-runtime/noise-threads.ts): the same bytes as gaussianField for
// every thread count and split, the event loop free while they are computed, bad boxes rejected.
// The threads run the compiled script in dist/ (`npm test` builds first).
import { afterAll, describe, expect, it } from 'vitest';
import { fieldRows, fieldStream, gaussianField, type FieldKey } from '../../src/sampling/noise';
import {
  gaussianFieldAsync,
  NoisePool,
  noiseThreads,
  setNoiseThreads,
} from '../../src/activity-runtime/noise-threads';
import path from 'node:path';
import { repoRoot } from '../../src/host/paths';

const key: FieldKey = { seed: 7, stage: 'upscale', segment: 0, step: 0 };
// A tile's box in the README job's field (8 × 3 × 256 × 288 of 240 × 3 × 256 × 512), then one whose
// row count (5 × 3 × 7 = 105) no thread count here divides evenly, at an odd origin.
const tile = { shape: [240, 3, 256, 512], origin: [8, 0, 0, 200], size: [8, 3, 256, 288] };
const odd = { shape: [31, 3, 40, 9000], origin: [3, 0, 17, 1234], size: [5, 3, 7, 2001] };

const defaultThreads = noiseThreads();
afterAll(() => setNoiseThreads(defaultThreads));

describe('gaussianFieldAsync', () => {
  for (const threads of [0, 1, 2, 3, 7]) {
    it(`gives gaussianField's bytes with ${threads} noise threads`, async () => {
      setNoiseThreads(threads);
      for (const box of [tile, odd]) {
        const want = gaussianField(key, box.shape, box.origin, box.size);
        const got = await gaussianFieldAsync(key, box.shape, box.origin, box.size);
        expect(got).toBeInstanceOf(Float32Array);
        // An ordinary buffer: onnxruntime and the tensor code get what they always got.
        expect(got.buffer).toBeInstanceOf(ArrayBuffer);
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      }
    });
  }

  it('leaves the event loop free while the threads compute (and blocks it with 0 threads)', async () => {
    const ticksDuring = async (threads: number) => {
      setNoiseThreads(threads);
      await gaussianFieldAsync(key, tile.shape, tile.origin, tile.size); // threads started
      let ticks = 0;
      let on = true;
      const spin = () => {
        if (!on) return;
        ticks++;
        setImmediate(spin);
      };
      setImmediate(spin);
      // Started before the first tick can run: with 0 threads the field is computed synchronously.
      const done = gaussianFieldAsync(key, tile.shape, tile.origin, tile.size);
      const atStart = ticks;
      await done;
      on = false;
      return { atStart, ticks };
    };
    const inline = await ticksDuring(0);
    expect(inline.atStart).toBe(0);
    const threaded = await ticksDuring(2);
    expect(threaded.atStart).toBe(0);
    // 1.77 M values take tens of ms on a thread; the loop turns thousands of times meanwhile.
    expect(threaded.ticks).toBeGreaterThan(10);
  });

  it('rejects a box that does not fit, and a bad thread count', async () => {
    setNoiseThreads(2);
    await expect(gaussianFieldAsync(key, [4, 3, 8, 8], [2, 0, 0, 0], [4, 3, 8, 8])).rejects.toThrow(
      /does not fit in shape \[4,3,8,8\] on axis 0/,
    );
    await expect(
      gaussianFieldAsync({ ...key, seed: 1.5 }, tile.shape, tile.origin, tile.size),
    ).rejects.toThrow(/seed must be an integer/);
    expect(() => setNoiseThreads(-1)).toThrow(/integer in \[0, 64\], got -1/);
    expect(() => setNoiseThreads(65)).toThrow(/got 65/);
  });
});

describe('NoisePool', () => {
  const script = path.join(repoRoot(), 'dist', 'src', 'activity-runtime', 'noise-thread.js');

  it('queues more boxes than threads, and each gets its own bytes', async () => {
    const pool = new NoisePool(2, script);
    try {
      const keys = [1, 2, 3, 4, 5].map((step) => ({ ...key, step }));
      const got = await Promise.all(keys.map((k) => pool.field(k, odd.shape, odd.origin, odd.size)));
      got.forEach((g, i) => {
        const want = gaussianField(keys[i], odd.shape, odd.origin, odd.size);
        expect(Buffer.from(g.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      });
    } finally {
      await pool.close();
    }
  });

  it('fails what is queued when it is closed, and takes nothing after', async () => {
    const pool = new NoisePool(1, script);
    const pending = expect(pool.field(key, tile.shape, tile.origin, tile.size)).rejects.toThrow(/closed/);
    await pool.close();
    await pending;
    await expect(pool.field(key, odd.shape, odd.origin, odd.size)).rejects.toThrow(/closed/);
  });

  it('reports a thread script that fails', async () => {
    // A script that is not a noise thread: it exits at once, and the range it held fails.
    const pool = new NoisePool(1, path.join(repoRoot(), 'dist', 'src', 'common', 'quote.js'));
    try {
      await expect(pool.field(key, odd.shape, odd.origin, odd.size)).rejects.toThrow(
        /noise thread exited with code 0/,
      );
    } finally {
      await pool.close();
    }
  });
});

describe('fieldRows', () => {
  it('computes any row range of a box at its place', () => {
    const stream = fieldStream(key);
    const whole = gaussianField(key, odd.shape, odd.origin, odd.size);
    const rowLen = odd.size[3];
    const part = new Float32Array(17 * rowLen);
    fieldRows(stream, odd.shape, odd.origin, odd.size, 40, 57, part);
    expect(Buffer.from(part.buffer).equals(Buffer.from(whole.buffer, 40 * rowLen * 4, 17 * rowLen * 4))).toBe(
      true,
    );
  });
});

describe('setNoiseThreads', () => {
  it('lets a box in flight on the old pool finish when the count changes', async () => {
    setNoiseThreads(2);
    const inFlight = gaussianFieldAsync(key, tile.shape, tile.origin, tile.size);
    setNoiseThreads(3);
    const want = gaussianField(key, tile.shape, tile.origin, tile.size);
    expect(Buffer.from((await inFlight).buffer).equals(Buffer.from(want.buffer))).toBe(true);
    expect(noiseThreads()).toBe(3);
  });
});

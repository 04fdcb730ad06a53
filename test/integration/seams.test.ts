/**
 * `vldm seams` on videos made here with ffmpeg: a smoothly moving pattern with one deliberate jump.
 * The jump is found as a seam (ratio far above 1.5, exit 1); a frame in the smooth part is not; the
 * ratio arithmetic is checked on hand-made change series.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeClip } from '../../src/media/ffmpeg';
import { frameChanges, seamRatio, seamReport } from '../../src/media/seams';
import { runCli } from '../support/cli';

const W = 64;
const H = 32;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-seams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A diagonal wave moving one pixel per frame; from frame `jump` on it is shifted by a quarter period. */
function* frames(n: number, jump: number): Generator<Uint8Array> {
  for (let t = 0; t < n; t++) {
    const f = new Uint8Array(W * H * 3);
    const shift = t + (t >= jump ? 8 : 0);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const v = 128 + 100 * Math.sin((2 * Math.PI * (x + y + shift)) / 32);
        f.fill(Math.round(v), (y * W + x) * 3, (y * W + x) * 3 + 3);
      }
    yield f;
  }
}

describe('seam ratios', () => {
  it('divide the change at a boundary by the median of the 16 pairs around it', () => {
    const changes = Array.from({ length: 40 }, (_, i) => (i === 19 ? 9 : 1 + (i % 2)));
    // Pairs 11..18 and 20..27 alternate 1 and 2: median 1.5; the pair ending on frame 20 is 9.
    expect(seamRatio(changes, 20)).toBeCloseTo(6);
    expect(seamRatio(changes, 4)).toBeUndefined(); // too close to the start
    const report = seamReport(changes, [{ frame: 20, kind: 'segment' }]);
    expect(report.frames).toBe(41);
    expect(report.boundaries[0]).toMatchObject({ frame: 20, change: 9 });
    expect(report.elsewhere.max).toBeLessThan(2);
  });

  it('finds a jump in a real video and nothing where it moves smoothly (vldm seams)', async () => {
    const file = path.join(dir, 'jump.mp4');
    await encodeClip(frames(64, 40), { width: W, height: H, fps: 24 }, file);
    const changes = await frameChanges(file);
    expect(changes).toHaveLength(63);

    const jump = await runCli(['seams', file, '--at', '40', '--json']);
    expect(jump.stderr).toBe('');
    expect(jump.code).toBe(1);
    const report = JSON.parse(jump.stdout) as { ok: boolean; boundaries: Array<{ ratio: number }> };
    expect(report.ok).toBe(false);
    expect(report.boundaries[0].ratio).toBeGreaterThan(3);

    const smooth = await runCli(['seams', file, '--at', '24']);
    expect(smooth.code).toBe(0);
    expect(smooth.stdout).toMatch(/frame {5}24: [01]\.\d\d×/);
    expect(smooth.stdout).toMatch(/OK: no given frame above 1\.5×/);
  });

  it('refuses a missing video and a bad --at with exit 2', async () => {
    const missing = await runCli(['seams', path.join(dir, 'nope.mp4'), '--at', '3']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^vldm: no such video: .*nope\.mp4\n$/);
    const bad = await runCli(['seams', path.join(dir, 'nope.mp4'), '--at', '1,x']);
    expect(bad.code).toBe(2);
  });
});

/**
 * `encodeClip` with a real ffmpeg when its frames fail: whether the source fails before fluent-ffmpeg has
 * spawned ffmpeg or after some frames, the encode ends with the source's error and leaves no ffmpeg
 * process behind (one used to wait forever on an input that never ended, holding its worker's shutdown).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeClip } from '../../src/media/ffmpeg';

const W = 64;
const H = 32;
const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-encode-abort-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ffmpeg processes whose parent is this test process. */
function ffmpegChildren(): string[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    // ps exits 1 when the process has no children at all.
  }
  return out.split('\n').filter((l) => /ffmpeg/.test(l));
}

async function* failingAfter(n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < n; i++) yield new Uint8Array(W * H * 3).fill(i * 8);
  throw new Error(`frame source broke after ${n} frames`);
}

describe('an encode whose frames fail', () => {
  for (const n of [0, 5]) {
    it(`ends with the source's error and leaves no ffmpeg (source fails after ${n} frames)`, async () => {
      const file = path.join(dir, `abort-${n}.mp4`);
      await expect(encodeClip(failingAfter(n), { width: W, height: H, fps: 24 }, file)).rejects.toThrow(
        `frame source broke after ${n} frames`,
      );
      expect(ffmpegChildren()).toEqual([]);
    }, 20_000);
  }
});

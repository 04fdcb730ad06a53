/**
 * Seams: how much a video changes from one frame to the next at the places where it was cut into
 * pieces (segment boundaries, where the keyframe chain hands over; clip joins, where separately
 * encoded clips are stitched), against the change around them. A boundary that shows is a jump: its
 * change is a multiple of its neighbours'. The ratio is the frame change at the boundary ÷ the median
 * change of the `around` frame pairs next to it (half before, half after, the boundary pair left out).
 */
import { spawn } from 'node:child_process';
import { median } from '../common/stats';

/** Frame pairs each side of a boundary whose median is the reference (16 in all, as the issue measures). */
export const SEAM_NEIGHBOURS = 16;

/**
 * Mean absolute difference of RGB bytes between consecutive frames: element i is the change from
 * frame i to frame i+1. Frames are decoded by ffmpeg and streamed, so only two are held at once.
 */
export function frameChanges(file: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const probe = spawn('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height',
      '-of',
      'csv=p=0',
      file,
    ]);
    let dims = '';
    let probeErr = '';
    probe.stdout.on('data', (d: Buffer) => (dims += d.toString()));
    probe.stderr.on('data', (d: Buffer) => (probeErr += d.toString()));
    probe.on('error', reject);
    probe.on('close', (code) => {
      const [w, h] = dims.trim().split(',').map(Number);
      if (code !== 0 || !w || !h) {
        reject(new Error(`ffprobe ${file}: ${probeErr.trim() || 'no video stream'}`));
        return;
      }
      decodeChanges(file, w * h * 3).then(resolve, reject);
    });
  });
}

function decodeChanges(file: string, frameBytes: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
    const changes: number[] = [];
    let previous: Buffer<ArrayBuffer> | undefined;
    let current: Buffer<ArrayBuffer> = Buffer.alloc(frameBytes);
    let filled = 0;
    let stderr = '';
    ff.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    ff.stdout.on('data', (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - at);
        chunk.copy(current, filled, at, at + n);
        filled += n;
        at += n;
        if (filled < frameBytes) break;
        if (previous) {
          let sum = 0;
          for (let i = 0; i < frameBytes; i++) sum += Math.abs(current[i] - previous[i]);
          changes.push(sum / frameBytes);
        }
        [previous, current] = [current, previous ?? Buffer.alloc(frameBytes)];
        filled = 0;
      }
    });
    ff.on('error', reject);
    ff.on('close', (code) =>
      code === 0 ? resolve(changes) : reject(new Error(`ffmpeg could not decode ${file}: ${stderr.trim()}`)),
    );
  });
}

/**
 * The ratio at the pair that ends on `frame` (the change from frame-1 to frame), or undefined when
 * the video is too short around it.
 */
export function seamRatio(changes: number[], frame: number, around = SEAM_NEIGHBOURS): number | undefined {
  const at = frame - 1;
  const half = around / 2;
  if (at - half < 0 || at + half >= changes.length) return undefined;
  const neighbours = [...changes.slice(at - half, at), ...changes.slice(at + 1, at + 1 + half)];
  const ref = median(neighbours);
  return ref > 0 ? changes[at] / ref : changes[at] > 0 ? Infinity : 1;
}

export interface SeamReport {
  frames: number;
  boundaries: Array<{ frame: number; kind: string; change: number; ratio: number | undefined }>;
  /** The same ratio at every other frame: what a boundary is compared with. */
  elsewhere: { frames: number; max: number; p95: number; median: number };
}

/** Ratios at the named boundaries, and their distribution over every other frame of the video. */
export function seamReport(
  changes: number[],
  boundaries: Array<{ frame: number; kind: string }>,
): SeamReport {
  const named = new Set(boundaries.map((b) => b.frame));
  const others: number[] = [];
  for (let f = 1; f <= changes.length; f++) {
    if (named.has(f)) continue;
    const r = seamRatio(changes, f);
    if (r !== undefined) others.push(r);
  }
  others.sort((a, b) => a - b);
  return {
    frames: changes.length + 1,
    boundaries: boundaries.map((b) => ({
      ...b,
      change: changes[b.frame - 1] ?? NaN,
      ratio: seamRatio(changes, b.frame),
    })),
    elsewhere: {
      frames: others.length,
      max: others[others.length - 1] ?? NaN,
      p95: others[Math.min(others.length - 1, Math.floor(others.length * 0.95))] ?? NaN,
      median: others.length ? median(others) : NaN,
    },
  };
}

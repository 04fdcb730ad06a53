/**
 * The early preview of a running job: a base-resolution MP4 of the frames decoded so far (before
 * super-resolution), made on the submitter's side from the decode stage's artifacts in the store.
 * Decode windows own disjoint frame ranges and are stored as `jobs/<jobId>/decode/seg-NNN-fFFFFFF-…`
 * (the window's first frame in the name), so the preview is the longest run of windows from frame 0
 * with no gap: the beginning of the video, growing as the job goes on. It reads only verified
 * artifacts and never writes to the store.
 */
import { renameSync, rmSync } from 'node:fs';
import { jobPrefix } from '../common/names';
import { decodeTensor, type Tensor } from '../tensors';
import { PREVIEW_PRESET, encodeClip, toRgb24 } from '../media/ffmpeg';
import type { ArtifactStore } from '../storage';

/**
 * The preview covers at most this many frames (a minute at 24 fps): it is rewritten whole on each
 * update, so its cost must not grow with an hour-long job.
 */
export const PREVIEW_MAX_FRAMES = 1440;

/** `seg-003-f000128-<digest>.vldt` → 128. */
const WINDOW_NAME = /\/seg-\d+-f(\d+)-[0-9a-f]+\.vldt$/;

export interface PreviewWindow {
  key: string;
  start: number;
}

/** The decode windows stored so far that start inside the preview's frames, by first frame. */
export async function decodedWindows(store: ArtifactStore, jobId: string): Promise<PreviewWindow[]> {
  const out: PreviewWindow[] = [];
  for (const { key } of await store.list(`${jobPrefix(jobId)}decode/`)) {
    const m = WINDOW_NAME.exec(key);
    if (m && Number(m[1]) < PREVIEW_MAX_FRAMES) out.push({ key, start: Number(m[1]) });
  }
  return out.sort((a, b) => a.start - b.start);
}

export interface Preview {
  file: string;
  frames: number;
  width: number;
  height: number;
}

/**
 * The run of decoded windows from frame 0 with no gap, read and verified. `complete` is false when a
 * listed window of the run could not be read (missing or not verified), so a later round reads again.
 */
async function readRun(
  store: ArtifactStore,
  windows: PreviewWindow[],
): Promise<{ run: Tensor[]; frames: number; complete: boolean }> {
  const run: Tensor[] = [];
  let next = 0;
  for (const w of windows) {
    if (w.start !== next || next >= PREVIEW_MAX_FRAMES) break;
    const bytes = await store.getVerified(w.key);
    if (!bytes) return { run, frames: next, complete: false };
    const t = decodeTensor(bytes);
    run.push(t);
    next += t.shape[0];
  }
  return { run, frames: next, complete: true };
}

async function encodePreview(
  run: Tensor[],
  frameCount: number,
  fps: number,
  outFile: string,
): Promise<Preview> {
  const [, , height, width] = run[0].shape;
  const plane = 3 * height * width;
  function* frames(): Generator<Uint8Array> {
    for (const t of run)
      for (let f = 0; f < t.shape[0]; f++)
        yield toRgb24(t.data.subarray(f * plane, (f + 1) * plane), height, width);
  }
  const partial = `${outFile}.partial.mp4`;
  try {
    await encodeClip(frames(), { width, height, fps }, partial, PREVIEW_PRESET);
    renameSync(partial, outFile);
  } finally {
    rmSync(partial, { force: true });
  }
  return { file: outFile, frames: frameCount, width, height };
}

/**
 * Rewrite the preview at `outFile` from `windows` when they hold more than `after` frames from frame
 * 0; `complete` as readRun's.
 */
async function updatePreview(
  store: ArtifactStore,
  windows: PreviewWindow[],
  fps: number,
  outFile: string,
  after: number,
): Promise<{ preview?: Preview; complete: boolean }> {
  const { run, frames, complete } = await readRun(store, windows);
  if (run.length === 0 || frames <= after) return { complete };
  return { preview: await encodePreview(run, frames, fps, outFile), complete };
}

/**
 * Write the preview of the frames decoded from frame 0 on to `outFile` (through a temporary file, so a
 * player never sees half a file); undefined while frame 0's window is not decoded yet. `after` skips the
 * work when no more frames than that are available (the caller's last preview).
 */
export async function writePreview(
  store: ArtifactStore,
  jobId: string,
  fps: number,
  outFile: string,
  after = 0,
): Promise<Preview | undefined> {
  return (await updatePreview(store, await decodedWindows(store, jobId), fps, outFile, after)).preview;
}

export interface PreviewLoop {
  /** The latest preview written, if any. */
  latest(): Preview | undefined;
  /** Seconds from the loop's start to its first preview. */
  firstSeconds(): number | undefined;
  /** Stop polling; writes a last preview with every frame decoded by then. */
  stop(): Promise<Preview | undefined>;
}

/**
 * Keep `file` up to date while a job runs: every `intervalMs` the preview is rewritten when more frames
 * were decoded; `onFirst` is told when the first one exists. A failed update is retried next round (a
 * preview is a convenience: it never fails the job or the command). A round whose listing of windows
 * is the last round's reads nothing: reading and verifying every window of the preview every two
 * seconds took the cores the job itself runs on.
 */
export function startPreviewLoop(opts: {
  store: ArtifactStore;
  jobId: string;
  fps: number;
  file: string;
  intervalMs?: number;
  onFirst?: (p: Preview, seconds: number) => void;
}): PreviewLoop {
  const t0 = Date.now();
  let latest: Preview | undefined;
  let first: number | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  // The windows the last round read in full: a round that lists the same reads nothing.
  let listing = '';
  const update = async () => {
    try {
      const windows = await decodedWindows(opts.store, opts.jobId);
      const keys = windows.map((w) => w.key).join('\n');
      if (keys === listing) return;
      const { preview, complete } = await updatePreview(
        opts.store,
        windows,
        opts.fps,
        opts.file,
        latest?.frames ?? 0,
      );
      if (preview) latest = preview;
      if (complete) listing = keys;
      if (!latest) return;
      if (first === undefined) {
        first = (Date.now() - t0) / 1000;
        opts.onFirst?.(latest, first);
      }
    } catch {
      // Next round (e.g. the store was briefly unreachable).
    }
  };
  const tick = () => {
    if (stopped) return;
    running = update().then(() => {
      if (!stopped) timer = setTimeout(tick, opts.intervalMs ?? 2_000);
    });
  };
  let timer: NodeJS.Timeout = setTimeout(tick, 0);
  return {
    latest: () => latest,
    firstSeconds: () => first,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await update();
      return latest;
    },
  };
}

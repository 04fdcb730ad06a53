/**
 * ffmpeg through fluent-ffmpeg: H.264 clips from raw RGB frames piped on stdin, stitching clips
 * without re-encoding, ffprobe's exact frame count, and decoding still images (init images): ffmpeg
 * is the project's only image decoder. Flags are chosen so the same frames give the same bytes on
 * every machine (bit-exact muxing, one encoder thread, no metadata).
 */
import { PassThrough } from 'node:stream';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';

/** x264 settings of every clip. CRF 18 is visually lossless for this content; preset trades speed. */
export const VIDEO_CODEC = { codec: 'libx264', crf: 18, preset: 'medium', pixFmt: 'yuv420p' } as const;

/**
 * The preset of a preview (src/client/preview.ts): rewritten whole while the job runs, on the
 * submitter's cores beside the job's own work, and never part of the output's bytes.
 */
export const PREVIEW_PRESET = 'veryfast';

/** Output flags that make MP4 bytes reproducible: no encoder/version strings, no creation time. */
const BITEXACT = [
  '-fflags',
  '+bitexact',
  '-flags:v',
  '+bitexact',
  '-map_metadata',
  '-1',
  '-movflags',
  '+faststart',
];

export interface ClipGeometry {
  width: number;
  height: number;
  fps: number;
}

/**
 * Encode frames (each `width·height·3` bytes of RGB24) into an H.264 MP4 at `outFile`.
 * Frames are produced lazily by `frames` and written with back-pressure, so a long clip never sits in
 * memory as a whole.
 */
export async function encodeClip(
  frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  geometry: ClipGeometry,
  outFile: string,
  preset: string = VIDEO_CODEC.preset,
): Promise<void> {
  const input = new PassThrough({ highWaterMark: geometry.width * geometry.height * 3 * 4 });
  const command = ffmpeg()
    .input(input)
    .inputFormat('rawvideo')
    .inputOptions([
      '-pix_fmt',
      'rgb24',
      '-s',
      `${geometry.width}x${geometry.height}`,
      '-r',
      String(geometry.fps),
    ])
    .videoCodec(VIDEO_CODEC.codec)
    .outputOptions([
      '-pix_fmt',
      VIDEO_CODEC.pixFmt,
      '-crf',
      String(VIDEO_CODEC.crf),
      '-preset',
      preset,
      '-threads',
      '1',
      '-r',
      String(geometry.fps),
      ...BITEXACT,
    ])
    .format('mp4');
  // fluent-ffmpeg spawns ffmpeg a little after save(); a kill before that is a no-op, and ffmpeg would
  // then wait forever on an input that never ends. So an abort before the start kills it at its start.
  let started = false;
  let aborted = false;
  command.on('start', () => {
    started = true;
    if (aborted) command.kill('SIGKILL');
  });
  const done = new Promise<void>((resolve, reject) => {
    command
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) =>
        reject(new Error(`ffmpeg encode failed: ${err.message}\n${tail(stderr)}`)),
      )
      .on('end', () => resolve())
      .save(outFile);
  });
  // Settled below in every path; this keeps an early failure of ffmpeg from being "unhandled".
  done.catch(() => undefined);
  const frameBytes = geometry.width * geometry.height * 3;
  try {
    for await (const frame of frames) {
      if (frame.length !== frameBytes)
        throw new Error(`frame has ${frame.length} bytes, expected ${frameBytes}`);
      if (!input.write(frame)) await new Promise((r) => input.once('drain', r));
    }
  } catch (err) {
    // The frames failed (or the activity was cancelled): stop ffmpeg, wait for it, report the cause.
    aborted = true;
    if (started) command.kill('SIGKILL');
    input.destroy();
    await done.catch(() => undefined);
    throw err;
  }
  input.end();
  await done;
}

/** Join clips of identical geometry into one MP4 without re-encoding (ffmpeg's concat demuxer). */
export async function concatClips(clips: string[], outFile: string): Promise<void> {
  if (clips.length === 0) throw new Error('no clips to stitch');
  const list = `${outFile}.concat.txt`;
  await fs.writeFile(list, clips.map((c) => `file '${path.resolve(c).replace(/'/g, "'\\''")}'\n`).join(''));
  try {
    await new Promise<void>((resolve, reject) => {
      ffmpeg()
        .input(list)
        .inputOptions(['-f', 'concat', '-safe', '0'])
        .outputOptions(['-c', 'copy', ...BITEXACT])
        .format('mp4')
        .on('error', (err: Error, _o: string | null, stderr: string | null) =>
          reject(new Error(`ffmpeg concat failed: ${err.message}\n${tail(stderr)}`)),
        )
        .on('end', () => resolve())
        .save(outFile);
    });
  } finally {
    await fs.rm(list, { force: true });
  }
}

export interface ProbeResult extends ClipGeometry {
  /** Frames actually decoded by ffprobe (`-count_frames`), not the container's claim. */
  frames: number;
  codec: string;
  durationSeconds: number;
}

/** ffprobe the first video stream, counting frames by decoding them. */
export async function probeVideo(file: string): Promise<ProbeResult> {
  const data = await new Promise<ffmpeg.FfprobeData>((resolve, reject) =>
    ffmpeg.ffprobe(file, ['-count_frames'], (err: Error | null, d: ffmpeg.FfprobeData) =>
      err ? reject(new Error(`ffprobe ${file}: ${err.message}`)) : resolve(d),
    ),
  );
  const v = data.streams.find((s) => s.codec_type === 'video');
  if (!v) throw new Error(`ffprobe ${file}: no video stream`);
  const [num, den] = String(v.r_frame_rate ?? '0/1')
    .split('/')
    .map(Number);
  return {
    frames: Number(v.nb_read_frames ?? v.nb_frames ?? NaN),
    width: Number(v.width),
    height: Number(v.height),
    fps: den ? num / den : num,
    codec: String(v.codec_name),
    durationSeconds: Number(data.format.duration ?? NaN),
  };
}

/** ffmpeg's demuxer for each still-image format: bytes come on a pipe, so no file name is trusted. */
const STILL_DEMUXERS = { png: 'png_pipe', jpeg: 'jpeg_pipe' } as const;

/**
 * How still images are resampled: bicubic with exact rounding and full-resolution chroma. Part of the
 * key of every frame made from an init image, so a change here cannot reuse frames made the old way.
 */
export const STILL_SCALER = 'bicubic+accurate_rnd+full_chroma_int';

export interface StillImageFit {
  format: keyof typeof STILL_DEMUXERS;
  /** The region of the image kept (integers, inside the image). */
  crop: { x: number; y: number; width: number; height: number };
  /** Size the region is scaled to. */
  width: number;
  height: number;
  /** ffmpeg refuses to decode a picture with more pixels than this (a second guard behind the caller's header check). */
  maxPixels: number;
}

/**
 * Decode one PNG or JPEG held in memory, crop it and scale the crop to `width × height`, and return
 * interleaved RGB24 bytes (alpha dropped, EXIF orientation ignored). Strict: a truncated or damaged
 * image is an error (`-err_detect explode`; ffmpeg's JPEG decoder otherwise fills missing rows with
 * grey), and so is any output that is not exactly one frame.
 */
export async function decodeStillImage(bytes: Uint8Array, fit: StillImageFit): Promise<Uint8Array> {
  const { crop: c, width, height } = fit;
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (d: Buffer) => chunks.push(d));
  const drained = new Promise<void>((resolve) => output.on('end', resolve));
  const filters = [
    `crop=${c.width}:${c.height}:${c.x}:${c.y}`,
    `scale=${width}:${height}:flags=${STILL_SCALER}`,
    'format=rgb24',
  ].join(',');
  await new Promise<void>((resolve, reject) => {
    ffmpeg()
      .input(input)
      .inputFormat(STILL_DEMUXERS[fit.format])
      .inputOptions([
        '-noautorotate',
        '-err_detect',
        'explode',
        '-max_pixels',
        String(fit.maxPixels),
        '-threads',
        '1',
      ])
      .outputOptions(['-frames:v', '1', '-vf', filters, '-pix_fmt', 'rgb24', '-threads', '1'])
      .format('rawvideo')
      .on('error', (err: Error, _o: string | null, stderr: string | null) =>
        reject(new StillImageError(err.message, stderr)),
      )
      .on('end', () => resolve())
      .pipe(output, { end: true });
    input.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  await drained;
  const rgb = Buffer.concat(chunks);
  if (rgb.length !== width * height * 3)
    throw new StillImageError(
      `ffmpeg gave ${rgb.length} bytes, expected one ${width}×${height} RGB frame`,
      '',
    );
  return rgb;
}

/** ffmpeg could not decode a still image; `reason` is ffmpeg's own last words, for the user. */
export class StillImageError extends Error {
  override name = 'StillImageError';
  readonly reason: string;
  constructor(message: string, stderr: string | null) {
    super(message);
    // What the decoder said ("[png @ 0x…] chunk too big", "[mjpeg @ 0x…] overread 8") and why decoding
    // stopped; not ffmpeg's banner or its generic "Conversion failed!".
    const lines = (stderr ?? '').split('\n').map((l) => l.trim());
    const said = [
      ...lines
        .filter((l) => /^\[(png|mjpeg|IMGUTILS) @/.test(l))
        .map((l) => l.replace(/^(\[[^\]]*\]\s*)+/, '')),
      ...lines
        .filter((l) => l.startsWith('Error while decoding'))
        .map((l) => l.replace(/^Error while decoding stream #\d+:\d+:\s*/, '')),
    ];
    this.reason = /Cannot find ffmpeg/i.test(message)
      ? 'ffmpeg is not installed or not on PATH (infra/setup.sh installs it)'
      : [...new Set(said)].join('; ') || message;
  }
}

/** Interleaved RGB24 bytes → pixels in [-1, 1], layout [3, H, W] (the inverse of toRgb24 up to rounding). */
export function fromRgb24(rgb: Uint8Array, height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = rgb[i * 3 + c] / 127.5 - 1;
  return out;
}

/** Pixels in [-1, 1], layout [3, H, W] (one frame) → interleaved RGB24 bytes. */
export function toRgb24(chw: Float32Array, height: number, width: number): Uint8Array {
  const plane = height * width;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      // Math.round, branch-free: equal for every float32 input (see quantisePixel8 in src/tensors/format.ts).
      const v = Math.floor((chw[c * plane + i] + 1) * 127.5 + 0.5);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

function tail(s: string | null | undefined, lines = 8): string {
  return (s ?? '').trim().split('\n').slice(-lines).join('\n');
}

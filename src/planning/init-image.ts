/**
 * Init images, the pure part: the limits an init image must stay within, where it lives in the
 * artifact store, and how it is fitted to the pack's base size (scale and centre-crop). The I/O
 * (reading, sniffing, decoding with ffmpeg) is in src/media/init-image.ts. Pure; imported by workflows.
 */
import { jobPrefix } from '../common/names';

/** Largest init image file: 32 MiB. A photo straight from a camera fits; a bigger file is a mistake. */
export const MAX_INIT_IMAGE_BYTES = 32 * 1024 * 1024;
/** Most pixels an init image may have (40 megapixels), checked from its header before decoding. */
export const MAX_INIT_IMAGE_PIXELS = 40_000_000;
/** Longest side an init image may have, in pixels. */
export const MAX_INIT_IMAGE_SIDE = 16_384;

/** Formats accepted, by file signature (never by file name), and the key extension of each. */
export const INIT_IMAGE_FORMATS = { png: 'png', jpeg: 'jpg' } as const;
export type InitImageFormat = keyof typeof INIT_IMAGE_FORMATS;

/** What a job spec holds about its init image: where the uploaded bytes are and their sha256. */
export interface InitImageRef {
  /** `jobs/<jobId>/init/image-<sha256 prefix>.<png|jpg>`, see initImageKey. */
  key: string;
  /** Lowercase hex sha256 of the file's bytes, as uploaded. */
  sha256: string;
}

/** Hex characters of the sha256 kept in the key (the full digest is in the spec and verified). */
const KEY_SHA_CHARS = 16;

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Content-addressed key of an uploaded init image, under its job's prefix. */
export function initImageKey(jobId: string, sha256: string, format: InitImageFormat): string {
  return `${jobPrefix(jobId)}init/image-${sha256.slice(0, KEY_SHA_CHARS)}.${INIT_IMAGE_FORMATS[format]}`;
}

/** Problems with a spec's init image reference (empty when it is well formed for this job id). */
export function initImageRefProblems(ref: unknown, jobId: string): string[] {
  const r = ref as Partial<InitImageRef> | null;
  if (r === null || typeof r !== 'object' || typeof r.key !== 'string' || typeof r.sha256 !== 'string')
    return [`initImage must be { key, sha256 }, got ${JSON.stringify(ref)}`];
  if (!SHA256_PATTERN.test(r.sha256))
    return [`initImage.sha256 must be 64 lowercase hex characters, got "${r.sha256}"`];
  // The key must be exactly the one derived from this job and digest: no spec can make a worker read
  // another job's artifacts, or a key that does not name the bytes it claims.
  const allowed = (Object.keys(INIT_IMAGE_FORMATS) as InitImageFormat[]).map((f) =>
    initImageKey(jobId, r.sha256!, f),
  );
  if (!allowed.includes(r.key))
    return [`initImage.key must be ${allowed.join(' or ')} for job ${jobId}, got "${r.key}"`];
  return [];
}

/** A rectangle in pixels. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The largest centred rectangle of a `width × height` image with the aspect ratio of `to`: cropping it
 * and scaling it to `to` is "scale to cover, then centre-crop". Any aspect ratio fits; only an image so
 * thin that the rectangle would be under one pixel wide or high cannot (undefined).
 */
export function centreCrop(
  width: number,
  height: number,
  to: { width: number; height: number },
): CropBox | undefined {
  let w = width;
  let h = height;
  // Compare aspect ratios in integers: width/height ≥ to.width/to.height ⇔ the image is wider.
  if (width * to.height >= height * to.width) w = Math.round((height * to.width) / to.height);
  else h = Math.round((width * to.height) / to.width);
  if (w < 1 || h < 1) return undefined;
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * Init images, the I/O part: checking a user's PNG/JPEG (signature, header size, limits) and turning
 * it into the pack's base-size frame with ffmpeg (scale to cover, centre-crop). The CLI runs every
 * check and one decode at the edge, before anything starts; the prepare activity runs the same code
 * on the uploaded bytes, so both sides fit the image identically. Limits and the crop rule:
 * src/planning/init-image.ts.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors';
import { sha256Hex } from '../storage/hash';
import {
  MAX_INIT_IMAGE_BYTES,
  MAX_INIT_IMAGE_PIXELS,
  MAX_INIT_IMAGE_SIDE,
  centreCrop,
  type InitImageFormat,
} from '../planning/init-image';
import { StillImageError, decodeStillImage } from './ffmpeg';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);
const FORMAT_NAMES: Record<InitImageFormat, string> = { png: 'PNG', jpeg: 'JPEG' };

/** A checked init image, as read at the edge. */
export interface InitImage {
  file: string;
  bytes: Buffer;
  sha256: string;
  format: InitImageFormat;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MiB (${n} bytes)`;
const overByteLimit = (what: string, n: number) =>
  new UserError(`${what} is ${mib(n)}; init images may be at most ${mib(MAX_INIT_IMAGE_BYTES)}`);

/** The format a file's first bytes announce (the name is never trusted). */
export function sniffImageFormat(bytes: Uint8Array): InitImageFormat | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (b.subarray(0, 3).equals(JPEG_SIGNATURE)) return 'jpeg';
  return undefined;
}

/** PNG: the first chunk must be IHDR, whose first 8 bytes are width and height (big-endian). */
function pngSize(b: Buffer): Size | undefined {
  if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** JPEG: walk the marker segments up to the first start-of-frame (SOF0–SOF15 except DHT/JPG/DAC). */
function jpegSize(b: Buffer): Size | undefined {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or end before any frame header
    const length = b.readUInt16BE(i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > b.length) return undefined;
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return undefined;
}

/**
 * Every check that needs only the bytes: not empty, within the byte limit, a PNG or JPEG signature, a
 * readable size header, within the pixel limits. `what` names the image in messages. Throws UserError.
 */
export function checkImageBytes(bytes: Uint8Array, what: string): { format: InitImageFormat } & Size {
  if (bytes.length === 0) throw new UserError(`${what} is empty (0 bytes); give a PNG or JPEG file`);
  if (bytes.length > MAX_INIT_IMAGE_BYTES) throw overByteLimit(what, bytes.length);
  const format = sniffImageFormat(bytes);
  if (!format) {
    const head = Buffer.from(bytes.subarray(0, 8))
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '.');
    throw new UserError(
      `${what} is not a PNG or JPEG image (it starts with "${head}", not a PNG or JPEG signature)`,
    );
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = format === 'png' ? pngSize(b) : jpegSize(b);
  if (!size || size.width === 0 || size.height === 0)
    throw new UserError(
      `${what} is a truncated or damaged ${FORMAT_NAMES[format]}: no valid image size header`,
    );
  const pixels = size.width * size.height;
  if (
    size.width > MAX_INIT_IMAGE_SIDE ||
    size.height > MAX_INIT_IMAGE_SIDE ||
    pixels > MAX_INIT_IMAGE_PIXELS
  ) {
    throw new UserError(
      `${what} is ${size.width}×${size.height} pixels (${(pixels / 1e6).toFixed(1)} megapixels); init images may have at most ` +
        `${MAX_INIT_IMAGE_PIXELS / 1e6} megapixels and ${MAX_INIT_IMAGE_SIDE} pixels a side`,
    );
  }
  return { format, ...size };
}

/**
 * The image fitted to `to` (scaled to cover it, then centre-cropped), as RGB24 bytes, decoded by ffmpeg.
 * Throws UserError when the image cannot be decoded or fitted.
 */
export async function fitImage(bytes: Uint8Array, what: string, to: Size): Promise<Uint8Array> {
  const { format, width, height } = checkImageBytes(bytes, what);
  const crop = centreCrop(width, height, to);
  if (!crop)
    throw new UserError(
      `${what} is ${width}×${height} pixels, too thin to fill a ${to.width}×${to.height} frame`,
    );
  try {
    return await decodeStillImage(bytes, { format, crop, ...to, maxPixels: MAX_INIT_IMAGE_PIXELS });
  } catch (err) {
    if (!(err instanceof StillImageError)) throw err;
    throw new UserError(
      `${what} could not be decoded as a ${FORMAT_NAMES[format]} (${err.reason}): is it truncated or damaged?`,
    );
  }
}

/**
 * The edge's check of `--init-image <file>`: the file exists, is a regular, readable, non-empty file
 * within the limits, and decodes and fits the pack's base size. Reads the file once; writes nothing.
 */
export async function readInitImage(file: string, base: Size): Promise<InitImage> {
  if (!file) throw new UserError('--init-image needs a file path (a PNG or JPEG)');
  const abs = path.resolve(file);
  const what = `--init-image ${abs}`;
  let st;
  try {
    st = await fs.stat(abs);
  } catch {
    throw new UserError(`${what} does not exist`);
  }
  if (st.isDirectory()) throw new UserError(`${what} is a folder, not an image file`);
  if (!st.isFile()) throw new UserError(`${what} is not a regular file`);
  // The byte limit is checked before reading, so a huge file is never loaded.
  if (st.size > MAX_INIT_IMAGE_BYTES) throw overByteLimit(what, st.size);
  let bytes: Buffer;
  try {
    await fs.access(abs, constants.R_OK);
    bytes = await fs.readFile(abs);
  } catch (err) {
    throw new UserError(
      `${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const { format, width, height } = checkImageBytes(bytes, what);
  await fitImage(bytes, what, base); // proves it decodes and fits; the workers fit it again from the upload
  return { file: abs, bytes, sha256: sha256Hex(bytes), format, width, height };
}

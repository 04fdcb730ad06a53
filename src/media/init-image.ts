/**
 * Init images, the I/O part: checking a user's PNG/JPEG (signature, header size, limits) and turning
 * it into the pack's base-size frame with ffmpeg (scale to cover, centre-crop). The CLI runs every
 * check and one decode at the edge, before anything starts; the prepare activity runs the same code
 * on the uploaded bytes, so both sides fit the image identically. Limits and the crop rule:
 * src/planning/init-image.ts.
 */
import path from 'node:path';
import { createInflate } from 'node:zlib';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';
import { FileTooLargeError, readUserFile } from '../host/files';
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

/** CRC-32 (ISO 3309, as PNG uses it) of `b`. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Bit depths each PNG colour type allows, and its channel count. */
const PNG_COLOUR_TYPES: Record<number, { depths: number[]; channels: number }> = {
  0: { depths: [1, 2, 4, 8, 16], channels: 1 },
  2: { depths: [8, 16], channels: 3 },
  3: { depths: [1, 2, 4, 8], channels: 1 },
  4: { depths: [8, 16], channels: 2 },
  6: { depths: [8, 16], channels: 4 },
};
/** Adam7's passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** How many bytes of filtered scanlines a PNG of this header holds once inflated. */
function pngDataBytes(width: number, height: number, bits: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w === 0 || h === 0 ? 0 : h * (1 + Math.ceil((w * bits) / 8)));
  if (!interlaced) return rows(width, height);
  let total = 0;
  for (const [xs, ys, dx, dy] of ADAM7)
    total += rows(Math.max(0, Math.ceil((width - xs) / dx)), Math.max(0, Math.ceil((height - ys) / dy)));
  return total;
}

/** Inflated length of a zlib stream, counted without keeping it; stops past `limit`. */
function inflatedLength(data: Buffer, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const z = createInflate();
    let n = 0;
    z.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        z.destroy();
        resolve(n);
      }
    });
    z.on('end', () => resolve(n));
    z.on('error', reject);
    z.end(data);
  });
}

/**
 * A PNG's own consistency, which decoders forgive (ffmpeg turns a cut or lying file into black
 * pixels and exits 0): every chunk inside the file with a matching CRC, IHDR first with a valid
 * depth and colour type, IDAT chunks consecutive, IEND last, and the compressed pixel data inflating
 * to exactly the bytes the header's size promises. Returns the problem, or undefined when it is sound.
 */
export async function pngProblem(b: Buffer): Promise<string | undefined> {
  let i = 8;
  let ihdr:
    { width: number; height: number; bits: number; interlaced: boolean; palette: boolean } | undefined;
  const idat: Buffer[] = [];
  let idatDone = false;
  let sawPalette = false;
  for (;;) {
    if (i + 8 > b.length) return 'the file ends before its IEND chunk (truncated)';
    const length = b.readUInt32BE(i);
    const type = b.toString('latin1', i + 4, i + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) return `a chunk at byte ${i} has an invalid type`;
    if (length > 0x7fffffff || i + 12 + length > b.length)
      return `the ${type} chunk at byte ${i} runs past the end of the file (truncated)`;
    const crc = b.readUInt32BE(i + 8 + length);
    if (crc32(b.subarray(i + 4, i + 8 + length)) !== crc)
      return `the ${type} chunk's CRC does not match its data`;
    const data = b.subarray(i + 8, i + 8 + length);
    if (!ihdr) {
      if (type !== 'IHDR' || length !== 13) return 'the first chunk is not a 13-byte IHDR';
      const colour = PNG_COLOUR_TYPES[data[9]];
      if (!colour || !colour.depths.includes(data[8]))
        return `IHDR has an invalid bit depth ${data[8]} for colour type ${data[9]}`;
      if (data[10] !== 0 || data[11] !== 0 || data[12] > 1)
        return 'IHDR names an unknown compression, filter or interlace method';
      ihdr = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bits: data[8] * colour.channels,
        interlaced: data[12] === 1,
        palette: data[9] === 3,
      };
    } else if (type === 'IDAT') {
      if (idatDone) return 'its IDAT chunks are not consecutive';
      idat.push(data);
    } else {
      if (idat.length > 0) idatDone = true;
      if (type === 'PLTE') sawPalette = true;
      if (type === 'IEND') break;
    }
    i += 12 + length;
  }
  if (idat.length === 0) return 'it has no image data (no IDAT chunk)';
  if (ihdr.palette && !sawPalette) return 'a palette image without a PLTE chunk';
  const expected = pngDataBytes(ihdr.width, ihdr.height, ihdr.bits, ihdr.interlaced);
  let got: number;
  try {
    got = await inflatedLength(Buffer.concat(idat), expected);
  } catch (err) {
    return `its compressed image data is damaged (${(err as Error).message})`;
  }
  if (got !== expected)
    return got < expected
      ? `its image data stops short: ${got} of the ${expected} bytes its ${ihdr.width}×${ihdr.height} header promises (truncated, or the header lies about the size)`
      : `it holds more image data than its ${ihdr.width}×${ihdr.height} header says (the header lies about the size)`;
  return undefined;
}

/**
 * The image fitted to `to` (scaled to cover it, then centre-cropped), as RGB24 bytes, decoded by ffmpeg.
 * Throws UserError when the image cannot be decoded or fitted.
 */
export async function fitImage(bytes: Uint8Array, what: string, to: Size): Promise<Uint8Array> {
  const { format, width, height } = checkImageBytes(bytes, what);
  if (format === 'png') {
    const problem = await pngProblem(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (problem) throw new UserError(`${what} is a damaged PNG: ${problem}`);
  }
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
  const what = `--init-image ${quote(abs)}`;
  // One helper for every user file: a regular file (no FIFO, device or folder), the byte limit
  // checked before reading, so a huge file is never loaded.
  let bytes: Buffer;
  try {
    bytes = readUserFile(abs, { what: '--init-image', maxBytes: MAX_INIT_IMAGE_BYTES });
  } catch (err) {
    // Keep the limit's own wording (MiB and bytes) for an oversized file.
    if (err instanceof FileTooLargeError) throw overByteLimit(what, err.size);
    throw err;
  }
  const { format, width, height } = checkImageBytes(bytes, what);
  await fitImage(bytes, what, base); // proves it decodes and fits; the workers fit it again from the upload
  return { file: abs, bytes, sha256: sha256Hex(bytes), format, width, height };
}

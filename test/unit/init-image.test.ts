/**
 * Init images, the parts that need no ffmpeg: the centre crop, the spec's image reference (a key
 * under the job's own prefix that names its sha256), and the byte checks (signature, size header,
 * limits) that run before any decoding.
 */
import { describe, expect, it } from 'vitest';
import { centreCrop, initImageKey, initImageRefProblems } from '../../src/planning/init-image';
import { compileSpec, contentFields } from '../../src/planning/spec';
import { checkImageBytes } from '../../src/media/init-image';

const sha = 'ab'.repeat(32);

/** The first bytes of a PNG: signature and an IHDR chunk (CRC not checked at this stage). */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

/** A JPEG's first segments: SOI, an APP0 segment, then a baseline frame header (SOF0). */
function jpegHeader(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x04, 0x00, 0x00]);
  const sof = Buffer.from([
    0xff,
    0xc0,
    0x00,
    0x0b,
    0x08,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    1,
    1,
  ]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof]);
}

describe('centre crop', () => {
  it('keeps the full height of a wider image and the full width of a taller one, centred', () => {
    expect(centreCrop(400, 300, { width: 64, height: 32 })).toEqual({
      x: 0,
      y: 50,
      width: 400,
      height: 200,
    });
    expect(centreCrop(1000, 100, { width: 64, height: 32 })).toEqual({
      x: 400,
      y: 0,
      width: 200,
      height: 100,
    });
    expect(centreCrop(128, 64, { width: 64, height: 32 })).toEqual({ x: 0, y: 0, width: 128, height: 64 });
    expect(centreCrop(1, 3000, { width: 64, height: 32 })).toEqual({ x: 0, y: 1499, width: 1, height: 1 });
    expect(centreCrop(1, 3000, { width: 64, height: 16 })).toBeUndefined(); // under one pixel high
  });
});

describe("the spec's init image reference", () => {
  const ctx = { labels: ['day', 'night', 'clear', 'crowded'], packFps: 24, pack: '/p' };

  it('must be the key derived from its own job id and sha256', () => {
    expect(initImageKey('job-1', sha, 'png')).toBe(`jobs/job-1/init/image-${sha.slice(0, 16)}.png`);
    expect(initImageRefProblems({ key: initImageKey('job-1', sha, 'jpeg'), sha256: sha }, 'job-1')).toEqual(
      [],
    );
    expect(initImageRefProblems({ key: initImageKey('job-2', sha, 'png'), sha256: sha }, 'job-1')[0]).toMatch(
      /initImage\.key must be jobs\/job-1\/init\/image-abababababababab\.png or .*\.jpg for job job-1, got "jobs\/job-2\//,
    );
    expect(
      initImageRefProblems({ key: initImageKey('job-1', sha, 'png'), sha256: 'AB' }, 'job-1')[0],
    ).toMatch(/sha256 must be 64 lowercase hex/);
    expect(initImageRefProblems('x.png', 'job-1')[0]).toMatch(/initImage must be \{ key, sha256 \}/);
  });

  it('is validated by compileSpec and counted in the content fields by its sha256 only', () => {
    const initImage = { key: initImageKey('job-1', sha, 'png'), sha256: sha };
    const spec = compileSpec({ jobId: 'job-1', seconds: 1, initImage }, ctx);
    expect(spec.initImage).toEqual(initImage);
    expect(contentFields(spec)).toMatchObject({ initImage: sha });
    const plain = compileSpec({ jobId: 'job-1', seconds: 1 }, ctx);
    expect(contentFields(plain)).not.toHaveProperty('initImage');
    expect(() =>
      compileSpec({ jobId: 'job-1', seconds: 1, initImage: { ...initImage, key: 'jobs/other/x.png' } }, ctx),
    ).toThrow(/invalid job spec: initImage\.key must be/);
  });
});

describe('checks on the bytes, before decoding', () => {
  it('reads the size from PNG and JPEG headers', () => {
    expect(checkImageBytes(pngHeader(320, 200), 'a')).toEqual({ format: 'png', width: 320, height: 200 });
    expect(checkImageBytes(jpegHeader(640, 480), 'b')).toEqual({ format: 'jpeg', width: 640, height: 480 });
  });

  it('names what is wrong', () => {
    expect(() => checkImageBytes(Buffer.alloc(0), 'x')).toThrow('x is empty (0 bytes)');
    expect(() => checkImageBytes(Buffer.from('GIF89a...'), 'x')).toThrow(/x is not a PNG or JPEG image/);
    expect(() => checkImageBytes(pngHeader(320, 200).subarray(0, 20), 'x')).toThrow(
      'x is a truncated or damaged PNG: no valid image size header',
    );
    expect(() => checkImageBytes(jpegHeader(640, 480).subarray(0, 10), 'x')).toThrow(
      'x is a truncated or damaged JPEG: no valid image size header',
    );
    expect(() => checkImageBytes(pngHeader(8000, 6000), 'x')).toThrow(
      'x is 8000×6000 pixels (48.0 megapixels); init images may have at most 40 megapixels',
    );
    expect(() => checkImageBytes(pngHeader(20000, 10), 'x')).toThrow(/16384 pixels a side/);
    expect(() => checkImageBytes(Buffer.concat([pngHeader(8, 8), Buffer.alloc(32 << 20)]), 'x')).toThrow(
      'x is 32.0 MiB (33554465 bytes); init images may be at most 32.0 MiB (33554432 bytes)',
    );
  });
});

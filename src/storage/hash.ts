/**
 * sha256 helpers shared by the storage backends: hashing bytes, hashing a file without loading it,
 * and copying a stream to a new file while hashing it (so large files are read once).
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { phase, phaseAsync } from '../observability/host-phases';

export function sha256Hex(bytes: Uint8Array): string {
  return phase('checksum', () => createHash('sha256').update(bytes).digest('hex'));
}

/** S3's ChecksumSHA256 is the base64 of the raw digest; the metadata holds the hex form. */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

export function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  return phaseAsync('checksum', () => hashFile(path));
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** A temporary file name in the same folder as `name`: hidden (leading '.'), unique, never a valid key. */
export function tempName(name: string, suffix = '.tmp'): string {
  return `.${name}.${randomBytes(6).toString('hex')}${suffix}`;
}

/**
 * Writes everything `source` yields to a new file at `path` (which must not exist), hashing on the
 * way, then fsyncs it so a rename that follows publishes complete bytes even after a power cut.
 */
export async function writeStreamToNewFile(
  source: Readable | AsyncIterable<Uint8Array>,
  path: string,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(path, 'wx');
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** Writes bytes to a new file at `path` and fsyncs it. */
export async function writeBytesToNewFile(bytes: Uint8Array, path: string): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

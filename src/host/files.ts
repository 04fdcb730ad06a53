/**
 * Reading a file a user named (config file, pack manifest, NATS credentials, Temporal TLS files, init
 * image, key file): one helper that opens the path without blocking, checks on the open descriptor
 * that it is a regular file within a size bound, and only then reads it. Opening a FIFO for reading
 * blocks until a writer appears, so the file is opened with O_NONBLOCK and checked with fstat before
 * any read; checking the descriptor (not the path) leaves no gap for the path to be swapped between
 * the check and the read. Refusals are UserErrors naming the file through `quote`.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors';
import { quote } from '../common/quote';

/** The default bound for small text files (config, manifest, credentials, certificates): 1 MiB. */
export const SMALL_FILE_BYTES = 1 << 20;

export interface ReadUserFileOptions {
  /** Names the file in messages, e.g. `config file` or `VLDM_TEMPORAL_TLS_CA_FILE`. */
  what: string;
  /** Largest size accepted, in bytes. @default SMALL_FILE_BYTES */
  maxBytes?: number;
  /** Resolve a relative path against this folder. @default process.cwd() */
  cwd?: string;
}

/** A file over the size bound (its size in bytes kept for callers that word the limit themselves). */
export class FileTooLargeError extends UserError {
  override name = 'FileTooLargeError';
  constructor(
    message: string,
    readonly size: number,
  ) {
    super(message);
  }
}

/** Why `err` (from open/fstat/read) happened, as a short code. */
const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `file`. Throws UserError when it does not exist, cannot be read,
 * is not a regular file (folder, FIFO, device, socket) or is larger than `maxBytes`.
 */
export function readUserFile(file: string, opts: ReadUserFileOptions): Buffer {
  const maxBytes = opts.maxBytes ?? SMALL_FILE_BYTES;
  const abs = path.resolve(opts.cwd ?? process.cwd(), file);
  const name = `${opts.what} ${quote(abs)}`;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of hanging the CLI.
    fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') throw new UserError(`${name} does not exist`);
    if (code === 'EISDIR') throw new UserError(`${name} is a folder, not a file`);
    throw new UserError(`${name} cannot be read (${code})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`${name} is ${kindOf(st)}; give a regular file`);
    if (st.size > maxBytes)
      throw new FileTooLargeError(
        `${name} is ${st.size} bytes; at most ${maxBytes} bytes are accepted`,
        st.size,
      );
    // Read at most one byte more than the bound, so a file that grows while read is still caught.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes)
        throw new FileTooLargeError(`${name} grew past ${maxBytes} bytes while it was read`, n);
      if (n === buf.length) break;
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${name} cannot be read (${codeOf(err)})`);
  } finally {
    closeSync(fd);
  }
}

/** `readUserFile` as UTF-8 text. */
export function readUserText(file: string, opts: ReadUserFileOptions): string {
  return readUserFile(file, opts).toString('utf8');
}

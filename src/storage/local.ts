/**
 * Local-folder artifact store (the embedded default). An artifact `a/b.vldt` is the plain file
 * `<root>/a/b.vldt` next to a checksum sidecar `<root>/a/b.vldt.sha256` in `sha256sum` format, so
 * files stay usable as they are (an MP4 plays, `sha256sum -c` checks). The sidecar is the commit
 * record: data and sidecar are each written to a hidden temp file, fsynced and renamed into place,
 * data first, so an artifact without its sidecar is an unfinished write and is invisible.
 */

import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';

import { sha256File, sha256Hex, tempName, writeBytesToNewFile, writeStreamToNewFile } from './hash';
import { CHECKSUM_SIDECAR_SUFFIX, validateKey, validatePrefix } from './keys';
import {
  ArtifactCorruptError,
  ArtifactInfo,
  ArtifactMissingError,
  ArtifactStore,
  PutOptions,
  WarnFn,
} from './types';

/**
 * Two writers of one key with different bytes can interleave their two renames (data of one, sidecar
 * of the other); each writer checks the committed pair afterwards and rewrites on a mismatch. The
 * writer that renamed last checks a state nobody changes any more, so the pair left behind always
 * matches. Writers that keep colliding could keep doing so in lockstep (seen with 6 writers on a
 * loaded machine after 5 rounds), so each retry first waits a random, growing pause: they fall out of
 * step and one of them commits alone. Running out of rounds means writers keep racing with different
 * bytes for seconds.
 */
const MAX_COMMIT_ROUNDS = 12;
/** Upper bound of the random pause before commit round n (n ≥ 2): n × this, in milliseconds. */
const COMMIT_RETRY_JITTER_MS = 10;

const SIDECAR_LINE = /^([0-9a-f]{64}) [ *](.+)\n?$/;

interface KeyPaths {
  key: string;
  file: string;
  sidecar: string;
  dir: string;
  name: string;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

async function unlinkIfPresent(p: string): Promise<void> {
  try {
    await unlink(p);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** fsync a folder so that renames in it survive a power cut (a no-op where folders cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic for readers.
  } finally {
    await fh?.close();
  }
}

export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  readonly description: string;
  readonly identity: string;
  private readonly warn: WarnFn;

  constructor(root: string, opts: { warn?: WarnFn } = {}) {
    this.root = path.resolve(root);
    this.description = `local folder ${this.root}`;
    this.identity = `folder:${this.root}`;
    this.warn = opts.warn ?? ((m) => console.warn(m));
  }

  private paths(key: string): KeyPaths {
    validateKey(key);
    const file = path.join(this.root, ...key.split('/'));
    return {
      key,
      file,
      sidecar: file + CHECKSUM_SIDECAR_SUFFIX,
      dir: path.dirname(file),
      name: path.basename(file),
    };
  }

  /** The recorded sha256, `undefined` when there is no sidecar, `null` when the sidecar is not one of ours. */
  private async recorded(p: KeyPaths): Promise<string | undefined | null> {
    let text: string;
    try {
      text = await readFile(p.sidecar, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const m = SIDECAR_LINE.exec(text);
    return m ? (m[1] as string) : null;
  }

  async put(key: string, body: Uint8Array, _opts?: PutOptions): Promise<ArtifactInfo> {
    const p = this.paths(key);
    const sha256 = sha256Hex(body);
    // Idempotent and cheap for retries: identical bytes already committed are left alone.
    const existing = await this.stat(key);
    if (existing?.sha256 === sha256 && existing.size === body.length) {
      const onDisk = await sha256File(p.file).catch(() => undefined);
      if (onDisk?.sha256 === sha256) return existing;
    }
    return this.commit(p, async (tmp) => {
      await writeBytesToNewFile(body, tmp);
      return { sha256, size: body.length };
    });
  }

  async putFile(key: string, file: string, _opts?: PutOptions): Promise<ArtifactInfo> {
    const p = this.paths(key);
    await stat(file).catch((err: unknown) => {
      throw new Error(`cannot store ${file} as artifact ${key}: ${(err as Error).message}`, { cause: err });
    });
    return this.commit(p, (tmp) => writeStreamToNewFile(createReadStream(file), tmp));
  }

  /** Writes a temp file with `writeTemp`, renames it into place, then writes and renames the sidecar. */
  private async commit(
    p: KeyPaths,
    writeTemp: (tmpPath: string) => Promise<{ sha256: string; size: number }>,
  ): Promise<ArtifactInfo> {
    for (let round = 1; round <= MAX_COMMIT_ROUNDS; round++) {
      if (round > 1) await new Promise((r) => setTimeout(r, Math.random() * round * COMMIT_RETRY_JITTER_MS));
      try {
        await mkdir(p.dir, { recursive: true });
      } catch (err) {
        throw new Error(
          `cannot store artifact ${p.key} in ${this.description}: cannot create folder ${p.dir} ` +
            `(is part of the key an existing artifact?): ${(err as Error).message}`,
          { cause: err },
        );
      }
      const tmp = path.join(p.dir, tempName(p.name));
      const sideTmp = path.join(p.dir, tempName(p.name, CHECKSUM_SIDECAR_SUFFIX + '.tmp'));
      let written: { sha256: string; size: number };
      try {
        written = await writeTemp(tmp);
        await writeBytesToNewFile(Buffer.from(`${written.sha256}  ${p.name}\n`), sideTmp);
        await rename(tmp, p.file);
        await rename(sideTmp, p.sidecar);
      } catch (err) {
        await unlinkIfPresent(tmp).catch(() => undefined);
        await unlinkIfPresent(sideTmp).catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new Error(
            `cannot store artifact ${p.key} in ${this.description}: ${p.file} is a folder holding other artifacts ` +
              `(keys under "${p.key}/"); a key cannot be both an artifact and a folder in a local store`,
            { cause: err },
          );
        }
        throw err;
      }
      await syncDir(p.dir);

      // Check the pair now in place (see MAX_COMMIT_ROUNDS): it must match, whoever's bytes it holds.
      const recorded = await this.recorded(p);
      const onDisk = await sha256File(p.file).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (recorded && onDisk && onDisk.sha256 === recorded)
        return { key: p.key, size: onDisk.size, sha256: recorded };
      if (round < MAX_COMMIT_ROUNDS)
        this.warn(
          `artifact ${p.key} in ${this.description} was changed by a concurrent writer during commit; writing it again`,
        );
    }
    throw new Error(
      `could not commit artifact ${p.key} in ${this.description} after ${MAX_COMMIT_ROUNDS} rounds: ` +
        `other writers keep storing different bytes under the same key at the same time`,
    );
  }

  private unreadableSidecar(p: KeyPaths, actual: string): ArtifactCorruptError {
    return new ArtifactCorruptError(
      p.key,
      '',
      actual,
      this.description,
      `its checksum sidecar ${p.sidecar} is not a sha256sum line`,
    );
  }

  async get(key: string): Promise<Uint8Array> {
    const p = this.paths(key);
    const recorded = await this.recorded(p);
    if (recorded === undefined) {
      const dataPresent = await stat(p.file).then(
        (s) => s.isFile(),
        () => false,
      );
      throw new ArtifactMissingError(
        key,
        this.description,
        dataPresent ? 'its checksum sidecar is missing, so its write never finished' : '',
      );
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(p.file);
    } catch (err) {
      if (isNotFound(err)) throw new ArtifactMissingError(key, this.description);
      throw err;
    }
    const actual = sha256Hex(bytes);
    if (recorded === null) throw this.unreadableSidecar(p, actual);
    if (actual !== recorded) throw new ArtifactCorruptError(key, recorded, actual, this.description);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async getVerified(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.get(key);
    } catch (err) {
      if (err instanceof ArtifactMissingError) return undefined;
      if (err instanceof ArtifactCorruptError) {
        this.warn(`${err.message}; deleting it`);
        await this.delete(key);
        return undefined;
      }
      throw err;
    }
  }

  async getToFile(key: string, dest: string): Promise<void> {
    const p = this.paths(key);
    const recorded = await this.recorded(p);
    if (recorded === undefined) throw new ArtifactMissingError(key, this.description);
    const destDir = path.dirname(path.resolve(dest));
    await mkdir(destDir, { recursive: true });
    const tmp = path.join(destDir, tempName(path.basename(dest)));
    try {
      let written: { sha256: string };
      try {
        written = await writeStreamToNewFile(createReadStream(p.file), tmp);
      } catch (err) {
        if (isNotFound(err)) throw new ArtifactMissingError(key, this.description);
        throw err;
      }
      if (recorded === null) throw this.unreadableSidecar(p, written.sha256);
      if (written.sha256 !== recorded)
        throw new ArtifactCorruptError(key, recorded, written.sha256, this.description);
      await rename(tmp, dest);
    } finally {
      await unlinkIfPresent(tmp).catch(() => undefined);
    }
    await syncDir(destDir);
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    const p = this.paths(key);
    const recorded = await this.recorded(p);
    if (!recorded) return undefined;
    try {
      const s = await stat(p.file);
      return s.isFile() ? { key, size: s.size, sha256: recorded } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async list(prefix: string): Promise<ArtifactInfo[]> {
    validatePrefix(prefix);
    const out: ArtifactInfo[] = [];
    const cut = prefix.lastIndexOf('/');
    const startRel = cut < 0 ? '' : prefix.slice(0, cut);
    await this.walk(startRel, prefix, out);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(rel: string, prefix: string, out: ArtifactInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(rel === '' ? this.root : path.join(this.root, ...rel.split('/')), {
        withFileTypes: true,
      });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const e of entries) {
      // Hidden names are temp files; symlinks are neither files nor folders here and are skipped.
      if (e.name.startsWith('.')) continue;
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        const asDir = childRel + '/';
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await this.walk(childRel, prefix, out);
      } else if (e.isFile() && !e.name.endsWith(CHECKSUM_SIDECAR_SUFFIX) && childRel.startsWith(prefix)) {
        let valid = true;
        try {
          validateKey(childRel);
        } catch {
          valid = false; // a file someone else put in the folder, not an artifact
        }
        const info = valid ? await this.stat(childRel) : undefined;
        if (info) out.push(info);
      }
    }
  }

  async delete(key: string): Promise<void> {
    const p = this.paths(key);
    // Sidecar first: the artifact disappears at once, and a crash in between leaves only an invisible file.
    await unlinkIfPresent(p.sidecar);
    await unlinkIfPresent(p.file);
  }
}

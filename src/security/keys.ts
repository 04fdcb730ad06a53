/**
 * Payload encryption keys: where they come from (the environment or a mounted file, never a config
 * file that might be committed), what they must look like, and which one encrypts. Keys carry ids so
 * they can rotate: new payloads are encrypted with the newest key, and every key still listed can
 * decrypt, so histories written before a rotation stay readable as long as their key is kept.
 */
import path from 'node:path';
import { UserError } from '../common/errors';
import { readUserText } from '../host/files';

/** Environment variables that turn payload encryption on. Set at most one of them. */
export const CODEC_ENV = {
  /** Inline keys: `id:base64key[,id:base64key…]`; the last one encrypts. */
  keys: 'VLDM_CODEC_KEYS',
  /** A file with one `id:base64key` per line (`#` comments, blank lines allowed); the last one encrypts. */
  keyFile: 'VLDM_CODEC_KEY_FILE',
} as const;

/** AES-256 takes 32-byte keys. */
export const KEY_BYTES = 32;

/** Key ids travel in payload metadata and name keys in errors: short, printable, no separators. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** The keys a process knows, and the one it encrypts with. */
export interface Keyring {
  /** Encrypts new payloads: the newest key (the last listed). */
  current: CodecKey;
  /** Every known key by id (the current one included); any of them decrypts. */
  byId: ReadonlyMap<string, Buffer>;
  /** Where the keys came from, without key material, for logs and errors. */
  source: string;
}

function decodeKey(text: string, id: string, where: string): Buffer {
  const t = text.trim();
  // Base64 (standard or URL-safe, padding optional) of exactly 32 bytes: what `openssl rand -base64 32` prints.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    throw new UserError(`${where}: key "${id}" is not base64; generate one with: openssl rand -base64 32`);
  }
  const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new UserError(
      `${where}: key "${id}" is ${key.length} bytes, AES-256-GCM needs exactly ${KEY_BYTES} (base64 of 32 random bytes: openssl rand -base64 32)`,
    );
  }
  return key;
}

/**
 * Parses `id:base64key` entries (already split) into a keyring; the last entry is the current key.
 * Ids must be unique: one id naming two keys would make old payloads undecryptable.
 */
export function parseKeyEntries(entries: string[], where: string): Keyring {
  const byId = new Map<string, Buffer>();
  let current: CodecKey | undefined;
  for (const entry of entries) {
    const sep = entry.indexOf(':');
    if (sep < 0)
      throw new UserError(`${where}: each key must be written id:base64key, got an entry without ":"`);
    const id = entry.slice(0, sep).trim();
    if (!KEY_ID_PATTERN.test(id)) {
      throw new UserError(
        `${where}: key id must be 1–64 letters, digits, ".", "_" or "-", got ${JSON.stringify(id)}`,
      );
    }
    if (byId.has(id))
      throw new UserError(`${where}: key id "${id}" is listed twice; every key needs its own id`);
    const key = decodeKey(entry.slice(sep + 1), id, where);
    byId.set(id, key);
    current = { id, key };
  }
  if (!current) throw new UserError(`${where}: no keys given; write at least one id:base64key`);
  return { current, byId, source: where };
}

/** Reads a key file: one `id:base64key` per line, `#` comments and blank lines ignored. */
export function readKeyFile(file: string, cwd: string = process.cwd()): Keyring {
  const abs = path.resolve(cwd, file);
  // A regular file of bounded size only (a FIFO would hang, a device would never end).
  const text = readUserText(abs, { what: CODEC_ENV.keyFile, maxBytes: 1 << 20 });
  const entries = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return parseKeyEntries(entries, `key file ${abs}`);
}

/**
 * The keyring the environment configures, or undefined when encryption is off. A badly written key
 * is a UserError, so a misconfigured process fails before it starts anything.
 */
export function keyringFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Keyring | undefined {
  const inline = env[CODEC_ENV.keys];
  const file = env[CODEC_ENV.keyFile];
  const hasInline = inline !== undefined && inline.trim() !== '';
  const hasFile = file !== undefined && file.trim() !== '';
  if (hasInline && hasFile) throw new UserError(`set ${CODEC_ENV.keys} or ${CODEC_ENV.keyFile}, not both`);
  if (hasFile) return readKeyFile(file, cwd);
  if (hasInline) {
    return parseKeyEntries(
      inline
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
      CODEC_ENV.keys,
    );
  }
  return undefined;
}

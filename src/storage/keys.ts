/**
 * Artifact key validation. A key is a relative, '/'-separated path such as
 * `jobs/<jobId>/keyframes/seg-000-<hash>.vldt`; both backends map it under their root (a folder or
 * an S3 prefix), so a key must never be able to address anything outside it. The rules are the same
 * for both backends so that a store can be copied from one to the other unchanged.
 */

import { UserError } from '../common/errors';

/** S3 keys are at most 1024 bytes; keep room for a prefix. Keys here are ASCII, so chars = bytes. */
export const MAX_KEY_LENGTH = 900;
/** Common filesystem limit on one path component (ext4, xfs, apfs). */
export const MAX_SEGMENT_LENGTH = 200;
/**
 * The local backend keeps each artifact's checksum in a sidecar `<file>.sha256`; keys may not end
 * with it in either backend, so no key can collide with a sidecar and stores stay copyable.
 */
export const CHECKSUM_SIDECAR_SUFFIX = '.sha256';

/**
 * One path segment: letters, digits, '_', '-', '.', not starting with '.' or '-'. A leading '.' is
 * reserved for the local backend's temporary files, and it also rules out '.' and '..'.
 */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function keyError(kind: string, key: string, problem: string): UserError {
  return new UserError(
    `invalid artifact ${kind} ${JSON.stringify(key)}: ${problem}; ` +
      `a ${kind} is a relative path of '/'-separated segments made of letters, digits, '_', '-' and '.' ` +
      `(a segment may not start with '.' or '-'), e.g. "jobs/my-job/keyframes/seg-000.vldt"`,
  );
}

function checkSegments(kind: string, key: string, segments: string[]): void {
  for (const seg of segments) {
    if (seg === '') throw keyError(kind, key, 'it has an empty segment (a leading, trailing or doubled "/")');
    if (seg === '.' || seg === '..') throw keyError(kind, key, `segment "${seg}" is not allowed`);
    if (seg.length > MAX_SEGMENT_LENGTH)
      throw keyError(
        kind,
        key,
        `segment is ${seg.length} characters long, at most ${MAX_SEGMENT_LENGTH} allowed`,
      );
    if (!SEGMENT.test(seg)) {
      const bad = [...seg].find((c) => !/[A-Za-z0-9._-]/.test(c));
      throw keyError(
        kind,
        key,
        bad !== undefined
          ? `character ${JSON.stringify(bad)} is not allowed`
          : `segment "${seg}" may not start with "${seg[0]}"`,
      );
    }
  }
}

/**
 * Checks that `key` is a safe artifact key and returns it unchanged; throws a UserError saying what
 * is wrong otherwise (absolute paths, '..', backslashes, empty segments, other characters, too long,
 * or a name ending in `.sha256`).
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw keyError('key', String(key), 'it is empty');
  if (key.length > MAX_KEY_LENGTH)
    throw keyError(
      'key',
      key.slice(0, 40) + '…',
      `it is ${key.length} characters long, at most ${MAX_KEY_LENGTH} allowed`,
    );
  if (key.startsWith('/')) throw keyError('key', key, 'it is an absolute path');
  if (key.includes('\\')) throw keyError('key', key, 'it contains a backslash');
  checkSegments('key', key, key.split('/'));
  if (key.endsWith(CHECKSUM_SIDECAR_SUFFIX))
    throw keyError(
      'key',
      key,
      `names ending in "${CHECKSUM_SIDECAR_SUFFIX}" are reserved for checksum sidecars`,
    );
  return key;
}

/**
 * Checks a listing prefix: '' (everything), a folder such as `jobs/abc/`, or the start of a name such
 * as `jobs/abc/keyframes/seg-0`. Same alphabet as keys; only the last segment may be partial or empty.
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  if (prefix.length > MAX_KEY_LENGTH)
    throw keyError(
      'prefix',
      prefix.slice(0, 40) + '…',
      `it is ${prefix.length} characters long, at most ${MAX_KEY_LENGTH} allowed`,
    );
  if (prefix.startsWith('/')) throw keyError('prefix', prefix, 'it is an absolute path');
  if (prefix.includes('\\')) throw keyError('prefix', prefix, 'it contains a backslash');
  const segments = prefix.split('/');
  const last = segments.pop() as string;
  checkSegments('prefix', prefix, segments);
  if (last !== '') checkSegments('prefix', prefix, [last]);
  return prefix;
}

/** Joins a validated store prefix (S3) and a key. */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`;
}

/**
 * The behaviour every ArtifactStore backend must show, as a describe factory: the local-folder unit
 * tests and the MinIO integration tests run this same suite, so the two backends cannot drift apart.
 * A backend supplies ways to damage an artifact behind the store's back (tamper: new bytes, old
 * checksum; stripChecksum: bytes without a checksum) to prove that readers never trust such bytes.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FAILURE_TYPES } from '../../src/common/errors';
import { ArtifactCorruptError, ArtifactMissingError, ArtifactStore } from '../../src/storage';

export interface StoreUnderTest {
  store: ArtifactStore;
  /** Overwrites the artifact's bytes while keeping its recorded checksum (bit rot, a bad copy). */
  tamper(key: string, bytes: Uint8Array): Promise<void>;
  /** Leaves bytes under the key with no checksum recorded (an unfinished or foreign write). */
  stripChecksum(key: string): Promise<void>;
  cleanup?(): Promise<void>;
}

/** FIPS 180-2, appendix B.1: SHA-256("abc"). */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
/** SHA-256 of the empty string (FIPS 180-4 examples). */
const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const text = (s: string) => new TextEncoder().encode(s);

export function describeArtifactStore(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`ArtifactStore behaviour: ${name}`, () => {
    let t: StoreUnderTest;
    let store: ArtifactStore;
    let scratch: string;

    beforeAll(async () => {
      t = await setup();
      store = t.store;
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-store-suite-'));
    });
    afterAll(async () => {
      await t?.cleanup?.();
      fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('stores and reads back bytes with their sha256', async () => {
      const info = await store.put('basic/abc.bin', text('abc'));
      expect(info).toEqual({ key: 'basic/abc.bin', size: 3, sha256: SHA256_ABC });
      expect(Buffer.from(await store.get('basic/abc.bin')).toString()).toBe('abc');
      expect(await store.stat('basic/abc.bin')).toEqual(info);
      expect(await store.exists('basic/abc.bin')).toBe(true);
      expect(Buffer.from((await store.getVerified('basic/abc.bin'))!).toString()).toBe('abc');
    });

    it('stores an empty artifact', async () => {
      expect(await store.put('basic/empty.bin', new Uint8Array(0))).toEqual({
        key: 'basic/empty.bin',
        size: 0,
        sha256: SHA256_EMPTY,
      });
      expect((await store.get('basic/empty.bin')).length).toBe(0);
    });

    it('is idempotent: the same bytes twice give the same result', async () => {
      const body = randomBytes(10_000);
      const a = await store.put('idem/x.bin', body);
      const b = await store.put('idem/x.bin', body);
      expect(b).toEqual(a);
      expect(Buffer.from(await store.get('idem/x.bin')).equals(body)).toBe(true);
    });

    it('replaces an artifact put again with other bytes', async () => {
      await store.put('replace/x.bin', text('first'));
      const info = await store.put('replace/x.bin', text('second, longer'));
      expect(info.size).toBe(14);
      expect(Buffer.from(await store.get('replace/x.bin')).toString()).toBe('second, longer');
      expect((await store.stat('replace/x.bin'))?.sha256).toBe(info.sha256);
    });

    it('reports a missing artifact', async () => {
      await expect(store.get('missing/none.bin')).rejects.toBeInstanceOf(ArtifactMissingError);
      expect(await store.getVerified('missing/none.bin')).toBeUndefined();
      expect(await store.stat('missing/none.bin')).toBeUndefined();
      expect(await store.exists('missing/none.bin')).toBe(false);
      await expect(
        store.getToFile('missing/none.bin', path.join(scratch, 'none.bin')),
      ).rejects.toBeInstanceOf(ArtifactMissingError);
      expect(fs.existsSync(path.join(scratch, 'none.bin'))).toBe(false);
    });

    it('detects garbage written over an artifact: get throws, getVerified deletes and returns undefined', async () => {
      const good = await store.put('corrupt/seg-000.vldt', randomBytes(4096));
      await t.tamper('corrupt/seg-000.vldt', text('garbage that is not the tensor'));
      const err = await store.get('corrupt/seg-000.vldt').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArtifactCorruptError);
      expect((err as ArtifactCorruptError).type).toBe(FAILURE_TYPES.corruptArtifact);
      expect((err as ArtifactCorruptError).expectedSha256).toBe(good.sha256);
      expect((err as Error).message).toContain('corrupt/seg-000.vldt');

      const dest = path.join(scratch, 'corrupt-copy.vldt');
      await expect(store.getToFile('corrupt/seg-000.vldt', dest)).rejects.toBeInstanceOf(
        ArtifactCorruptError,
      );
      expect(fs.existsSync(dest)).toBe(false);
      expect(fs.readdirSync(scratch).filter((f) => f.includes('corrupt-copy'))).toEqual([]);

      const warnings: string[] = [];
      const origWarn = console.warn;
      console.warn = (m: string) => warnings.push(m);
      try {
        expect(await store.getVerified('corrupt/seg-000.vldt')).toBeUndefined();
      } finally {
        console.warn = origWarn;
      }
      expect(warnings.join('\n')).toMatch(/corrupt.*deleting/);
      expect(await store.exists('corrupt/seg-000.vldt')).toBe(false);
      // The caller recomputes and stores it again.
      const again = await store.put('corrupt/seg-000.vldt', text('recomputed'));
      expect(Buffer.from(await store.get('corrupt/seg-000.vldt')).toString()).toBe('recomputed');
      expect(again.size).toBe(10);
    });

    it('does not count bytes without a recorded checksum as an artifact', async () => {
      await store.put('nochecksum/a.bin', text('a'));
      await t.stripChecksum('nochecksum/a.bin');
      expect(await store.exists('nochecksum/a.bin')).toBe(false);
      expect(await store.stat('nochecksum/a.bin')).toBeUndefined();
      await expect(store.get('nochecksum/a.bin')).rejects.toBeInstanceOf(ArtifactMissingError);
      expect(await store.getVerified('nochecksum/a.bin')).toBeUndefined();
      expect(await store.list('nochecksum/')).toEqual([]);
      await store.put('nochecksum/a.bin', text('a'));
      expect(await store.exists('nochecksum/a.bin')).toBe(true);
    });

    it('lists by plain string prefix, sorted, with checksums', async () => {
      const keys = [
        'list/b/seg-001.vldt',
        'list/a/seg-000.vldt',
        'list/a/seg-001.vldt',
        'list/a/seg-010.vldt',
        'list/ab.txt',
        'listing.txt',
      ];
      for (const k of keys) await store.put(k, text(k));
      const all = await store.list('list/');
      expect(all.map((i) => i.key)).toEqual([
        'list/a/seg-000.vldt',
        'list/a/seg-001.vldt',
        'list/a/seg-010.vldt',
        'list/ab.txt',
        'list/b/seg-001.vldt',
      ]);
      expect(all[0]).toEqual(await store.stat('list/a/seg-000.vldt'));
      expect((await store.list('list/a/seg-00')).map((i) => i.key)).toEqual([
        'list/a/seg-000.vldt',
        'list/a/seg-001.vldt',
      ]);
      expect((await store.list('list/a')).map((i) => i.key)).toEqual([
        'list/a/seg-000.vldt',
        'list/a/seg-001.vldt',
        'list/a/seg-010.vldt',
        'list/ab.txt',
      ]);
      expect((await store.list('list')).map((i) => i.key)).toContain('listing.txt');
      expect(await store.list('list/zzz/')).toEqual([]);
      expect(await store.list('nothing-here/')).toEqual([]);
      expect((await store.list('')).map((i) => i.key)).toEqual(expect.arrayContaining(keys));
    });

    it('deletes, and deleting an absent artifact is fine', async () => {
      await store.put('del/x.bin', text('x'));
      await store.delete('del/x.bin');
      expect(await store.exists('del/x.bin')).toBe(false);
      await expect(store.get('del/x.bin')).rejects.toBeInstanceOf(ArtifactMissingError);
      await store.delete('del/x.bin');
    });

    it('streams files in and out (putFile / getToFile) and leaves no temp files', async () => {
      const src = path.join(scratch, 'clip.mp4');
      const body = randomBytes(3 * 1024 * 1024 + 17);
      fs.writeFileSync(src, body);
      const info = await store.putFile('files/clip.mp4', src, { contentType: 'video/mp4' });
      expect(info.size).toBe(body.length);
      expect(info.sha256).toBe((await import('node:crypto')).createHash('sha256').update(body).digest('hex'));
      expect(await store.stat('files/clip.mp4')).toEqual(info);

      const dest = path.join(scratch, 'out', 'nested', 'clip.mp4');
      await store.getToFile('files/clip.mp4', dest);
      expect(fs.readFileSync(dest).equals(body)).toBe(true);
      expect(fs.readdirSync(path.dirname(dest))).toEqual(['clip.mp4']);
      // Overwrites an existing destination.
      fs.writeFileSync(dest, 'old');
      await store.getToFile('files/clip.mp4', dest);
      expect(fs.readFileSync(dest).equals(body)).toBe(true);
      await expect(store.putFile('files/none.mp4', path.join(scratch, 'does-not-exist.mp4'))).rejects.toThrow(
        /does-not-exist\.mp4/,
      );
    });

    it('leaves one whole, verifiable artifact when writers race on one key', async () => {
      const bodies = Array.from({ length: 6 }, (_, i) =>
        Buffer.concat([Buffer.from(`writer ${i} `), randomBytes(200_000 + i)]),
      );
      const infos = await Promise.all(bodies.map((b) => store.put('race/x.bin', b)));
      const stored = Buffer.from(await store.get('race/x.bin'));
      expect(bodies.some((b) => b.equals(stored))).toBe(true);
      const stat = await store.stat('race/x.bin');
      expect(infos.map((i) => i.sha256)).toContain(stat?.sha256);

      const same = randomBytes(300_000);
      const sameInfos = await Promise.all(Array.from({ length: 6 }, () => store.put('race/same.bin', same)));
      expect(new Set(sameInfos.map((i) => i.sha256)).size).toBe(1);
      expect(Buffer.from(await store.get('race/same.bin')).equals(same)).toBe(true);
    });

    it('rejects keys that could leave the store, in every method', async () => {
      for (const bad of [
        '../escape.bin',
        '/abs/x.bin',
        'a/../../x.bin',
        'a\\b.bin',
        'a//b.bin',
        '',
        'a/.hidden',
      ]) {
        await expect(store.put(bad, text('x')), bad).rejects.toThrow(/invalid artifact key/);
        await expect(store.get(bad), bad).rejects.toThrow(/invalid artifact key/);
        await expect(store.exists(bad), bad).rejects.toThrow(/invalid artifact key/);
        await expect(store.delete(bad), bad).rejects.toThrow(/invalid artifact key/);
      }
      await expect(store.list('../')).rejects.toThrow(/invalid artifact prefix/);
    });
  });
}

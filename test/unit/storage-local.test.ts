/**
 * The local-folder artifact store: the shared behaviour suite, plus what only a folder can show:
 * key validation, crash remnants (a writer killed mid-write) staying invisible, the sha256sum-format
 * sidecar, and parsing store locations from URLs and environment.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

import { UserError } from '../../src/common/errors';
import {
  ArtifactCorruptError,
  ArtifactMissingError,
  createStore,
  LocalArtifactStore,
  S3ArtifactStore,
  storeConfigFromUrl,
  validateKey,
  validatePrefix,
} from '../../src/storage';
import { describeArtifactStore } from '../support/artifact-store-suite';

const roots: string[] = [];
function newRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vldm-local-store-'));
  roots.push(root);
  return root;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

describeArtifactStore('local folder', async () => {
  const root = newRoot();
  const file = (key: string) => path.join(root, ...key.split('/'));
  return {
    store: createStore({ kind: 'local', root }),
    tamper: async (key, bytes) => fs.writeFileSync(file(key), bytes),
    stripChecksum: async (key) => fs.unlinkSync(file(key) + '.sha256'),
  };
});

describe('validateKey', () => {
  const good = [
    'a',
    'jobs/j-1/keyframes/seg-000-0123abcd.vldt',
    'jobs/j/final.mp4',
    'A_b-c.d/e.f.g',
    '_x/y',
    'x'.repeat(200),
    ['a'.repeat(150), 'b'.repeat(150), 'c'.repeat(150)].join('/'),
  ];
  it.each(good)('accepts %s', (key) => {
    expect(validateKey(key)).toBe(key);
  });

  const bad: [string, RegExp][] = [
    ['', /it is empty/],
    ['/etc/passwd', /absolute path/],
    ['../x', /segment "\.\." is not allowed/],
    ['a/../../x', /segment "\.\." is not allowed/],
    ['a/./x', /segment "\." is not allowed/],
    ['a\\..\\x', /backslash/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['a/.hidden', /may not start with "\."/],
    ['-rf', /may not start with "-"/],
    ['a b', /character " " is not allowed/],
    ['a/b:c', /character ":" is not allowed/],
    ['naïve', /character "ï" is not allowed/],
    ['a\u0000b', /character "\\u0000" is not allowed/],
    ['x/seg.vldt.sha256', /reserved for checksum sidecars/],
    ['x'.repeat(201), /at most 200 allowed/],
    [Array.from({ length: 10 }, () => 'd'.repeat(100)).join('/'), /at most 900 allowed/],
  ];
  it.each(bad)('rejects %j', (key, message) => {
    let err: unknown;
    try {
      validateKey(key);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(message);
    // The message also says what is allowed.
    expect((err as Error).message).toMatch(/letters, digits/);
  });

  it('validates listing prefixes, which may end in "/" or a partial name', () => {
    for (const p of ['', 'jobs/', 'jobs/j1/seg-0', 'jobs']) expect(validatePrefix(p)).toBe(p);
    for (const p of ['/jobs', '../', 'a//', 'a/../b/', 'a b/'])
      expect(() => validatePrefix(p), p).toThrow(/invalid artifact prefix/);
  });
});

describe('local folder layout and crash safety', () => {
  it('keeps the checksum in a sha256sum-format sidecar that `sha256sum -c` accepts', async () => {
    const root = newRoot();
    const store = new LocalArtifactStore(root);
    const info = await store.put('jobs/j1/keyframes/seg-000.vldt', randomBytes(1000));
    const dir = path.join(root, 'jobs', 'j1', 'keyframes');
    expect(fs.readdirSync(dir).sort()).toEqual(['seg-000.vldt', 'seg-000.vldt.sha256']);
    expect(fs.readFileSync(path.join(dir, 'seg-000.vldt.sha256'), 'utf8')).toBe(
      `${info.sha256}  seg-000.vldt\n`,
    );
    const check = spawnSync('sha256sum', ['-c', 'seg-000.vldt.sha256'], { cwd: dir, encoding: 'utf8' });
    expect(check.stdout).toContain('seg-000.vldt: OK');
    expect(check.status).toBe(0);
    expect(store.description).toBe(`local folder ${root}`);
  });

  it('detects a single flipped bit', async () => {
    const store = new LocalArtifactStore(newRoot());
    const body = randomBytes(64 * 1024);
    await store.put('bits/x.bin', body);
    const file = path.join(store.root, 'bits', 'x.bin');
    const onDisk = fs.readFileSync(file);
    onDisk[12345] = (onDisk[12345] as number) ^ 0x04;
    fs.writeFileSync(file, onDisk);
    await expect(store.get('bits/x.bin')).rejects.toBeInstanceOf(ArtifactCorruptError);
  });

  it('concurrent writers of different bytes always leave a matching data/sidecar pair', async () => {
    // Without the check after commit about one round in six ends with one writer's data and another's
    // sidecar; 30 rounds make a regression all but certain to show.
    const warnings: string[] = [];
    const store = new LocalArtifactStore(newRoot(), { warn: (m) => warnings.push(m) });
    for (let round = 0; round < 30; round++) {
      const bodies = Array.from({ length: 6 }, (_, i) =>
        Buffer.concat([Buffer.from(`round ${round} writer ${i}`), randomBytes(100_000)]),
      );
      await Promise.all(bodies.map((b) => store.put('race/x.bin', b)));
      const stored = Buffer.from(await store.get('race/x.bin'));
      expect(bodies.some((b) => b.equals(stored))).toBe(true);
    }
    expect(warnings.every((w) => /concurrent writer/.test(w))).toBe(true);
  });

  it('treats a damaged sidecar as corruption', async () => {
    const store = new LocalArtifactStore(newRoot());
    await store.put('side/x.bin', randomBytes(10));
    fs.writeFileSync(path.join(store.root, 'side', 'x.bin.sha256'), 'not a checksum\n');
    await expect(store.get('side/x.bin')).rejects.toThrow(/x\.bin\.sha256 is not a sha256sum line/);
    await expect(store.get('side/x.bin')).rejects.toBeInstanceOf(ArtifactCorruptError);
    expect(await store.exists('side/x.bin')).toBe(false);
    const warnings: string[] = [];
    const quiet = new LocalArtifactStore(store.root, { warn: (m) => warnings.push(m) });
    expect(await quiet.getVerified('side/x.bin')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(fs.existsSync(path.join(store.root, 'side', 'x.bin'))).toBe(false);
  });

  it('never shows leftovers of an interrupted write: temp files, or data whose sidecar was not written', async () => {
    const store = new LocalArtifactStore(newRoot());
    const dir = path.join(store.root, 'jobs', 'j1');
    fs.mkdirSync(dir, { recursive: true });
    // A crash before the data rename leaves a hidden temp file; a crash between the renames leaves data alone.
    fs.writeFileSync(path.join(dir, '.seg-000.vldt.0a1b2c3d4e5f.tmp'), 'half a tens');
    fs.writeFileSync(path.join(dir, 'seg-001.vldt'), 'whole bytes, no sidecar');
    await expect(store.get('jobs/j1/seg-000.vldt')).rejects.toBeInstanceOf(ArtifactMissingError);
    const err = await store.get('jobs/j1/seg-001.vldt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactMissingError);
    expect((err as Error).message).toMatch(/write never finished/);
    expect(await store.exists('jobs/j1/seg-001.vldt')).toBe(false);
    expect(await store.list('jobs/')).toEqual([]);
    // A later write of the same key succeeds over the leftovers.
    await store.put('jobs/j1/seg-001.vldt', Buffer.from('recomputed'));
    expect(Buffer.from(await store.get('jobs/j1/seg-001.vldt')).toString()).toBe('recomputed');
  });

  it('a writer killed in the middle of putFile leaves nothing visible', async () => {
    const root = newRoot();
    const fifo = path.join(root, '..', `${path.basename(root)}.fifo`);
    roots.push(fifo);
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // The child loads the TypeScript sources through the compiler's transpiler (no build needed) and
    // streams the FIFO into the store; we feed it part of a file and SIGKILL it mid-write.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
        const ts = require('typescript'); const fs = require('fs');
        require.extensions['.ts'] = (m, f) => m._compile(ts.transpileModule(fs.readFileSync(f, 'utf8'),
          { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText, f);
        const { LocalArtifactStore } = require(${JSON.stringify(path.resolve(__dirname, '../../src/storage/local.ts'))});
        new LocalArtifactStore(process.argv[1]).putFile('jobs/j1/final.mp4', process.argv[2]).then(() => console.log('finished'));
        `,
        root,
        fifo,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
    child.stderr.on('data', (d: Buffer) => (childOut += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

    const writer = fs.createWriteStream(fifo);
    writer.on('error', () => undefined); // EPIPE once the reader is killed
    writer.write(randomBytes(256 * 1024));
    const dir = path.join(root, 'jobs', 'j1');
    const deadline = Date.now() + 30_000;
    let temps: string[] = [];
    while (Date.now() < deadline) {
      temps = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')) : [];
      if (temps.some((f) => fs.statSync(path.join(dir, f)).size > 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(temps.length, `child never started writing: ${childOut}`).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await exited;
    writer.destroy();

    expect(childOut).not.toContain('finished');
    expect(fs.readdirSync(dir).some((f) => f.startsWith('.final.mp4.') && f.endsWith('.tmp'))).toBe(true);
    const store = new LocalArtifactStore(root);
    expect(await store.exists('jobs/j1/final.mp4')).toBe(false);
    await expect(store.get('jobs/j1/final.mp4')).rejects.toBeInstanceOf(ArtifactMissingError);
    expect(await store.list('')).toEqual([]);
  });

  it('says clearly when a key would be both an artifact and a folder', async () => {
    const store = new LocalArtifactStore(newRoot());
    await store.put('a/b/c.bin', Buffer.from('x'));
    await expect(store.put('a/b', Buffer.from('y'))).rejects.toThrow(/is a folder holding other artifacts/);
    await store.put('p/q.bin', Buffer.from('x'));
    await expect(store.put('p/q.bin/r.bin', Buffer.from('y'))).rejects.toThrow(/cannot create folder/);
  });
});

describe('storeConfigFromUrl and createStore', () => {
  it('reads folders from paths and file: URLs', () => {
    expect(storeConfigFromUrl('/srv/artifacts')).toEqual({ kind: 'local', root: '/srv/artifacts' });
    expect(storeConfigFromUrl('file:///srv/artifacts')).toEqual({ kind: 'local', root: '/srv/artifacts' });
    expect(storeConfigFromUrl('file:///srv/with%20space')).toEqual({
      kind: 'local',
      root: '/srv/with space',
    });
    expect(storeConfigFromUrl('rel/dir')).toEqual({ kind: 'local', root: path.resolve('rel/dir') });
  });

  it('reads s3: URLs with endpoint, region and credentials from the environment', () => {
    const env = {
      VLDM_S3_ENDPOINT: 'http://127.0.0.1:9000',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'SECRET',
      AWS_REGION: 'eu-west-1',
    };
    expect(storeConfigFromUrl('s3://vldm-art/team/a/', env)).toEqual({
      kind: 's3',
      bucket: 'vldm-art',
      prefix: 'team/a',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      accessKeyId: 'AKID',
      secretAccessKey: 'SECRET',
    });
    expect(storeConfigFromUrl('s3://bucket', {})).toEqual({
      kind: 's3',
      bucket: 'bucket',
      prefix: '',
      endpoint: undefined,
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(
      storeConfigFromUrl('s3://bucket', {
        AWS_DEFAULT_REGION: 'ap-south-1',
        VLDM_S3_FORCE_PATH_STYLE: 'true',
      }),
    ).toMatchObject({
      region: 'ap-south-1',
      forcePathStyle: true,
    });
    expect(
      storeConfigFromUrl('s3://b-1', {
        AWS_ACCESS_KEY_ID: 'A',
        AWS_SECRET_ACCESS_KEY: 'S',
        AWS_SESSION_TOKEN: 'T',
      }),
    ).toMatchObject({
      sessionToken: 'T',
    });
  });

  const badUrls: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['', {}, /location is empty/],
    ['http://example.com/x', {}, /unsupported artifact store URL/],
    ['s3://Upper_Case/x', {}, /invalid S3 bucket name/],
    ['s3://ab', {}, /invalid S3 bucket name/],
    ['s3://bucket/../x', {}, /invalid artifact prefix/],
    [
      's3://bucket/x',
      { AWS_ACCESS_KEY_ID: 'only-id' },
      /set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    ],
    ['s3://bucket/x', { VLDM_S3_ENDPOINT: '127.0.0.1:9000' }, /must be an http:\/\/ or https:\/\/ URL/],
    [
      's3://bucket/x',
      { VLDM_S3_FORCE_PATH_STYLE: 'maybe' },
      /VLDM_S3_FORCE_PATH_STYLE must be one of true\/1\/yes\/on\/false\/0\/no\/off, got "maybe"/,
    ],
    ['file://remote-host/x', {}, /invalid artifact store URL/],
  ];
  it.each(badUrls)('rejects %j', (url, env, message) => {
    expect(() => storeConfigFromUrl(url, env)).toThrow(UserError);
    expect(() => storeConfigFromUrl(url, env)).toThrow(message);
  });

  it('builds each backend without contacting anything, and never shows credentials', () => {
    expect(createStore({ kind: 'local', root: '/tmp/x' })).toBeInstanceOf(LocalArtifactStore);
    const s3 = createStore({
      kind: 's3',
      bucket: 'vldm',
      prefix: 'p',
      endpoint: 'http://127.0.0.1:9000',
      accessKeyId: 'AKIDVISIBLE',
      secretAccessKey: 'TOPSECRET',
    });
    expect(s3).toBeInstanceOf(S3ArtifactStore);
    expect(s3.description).toBe('s3://vldm/p at http://127.0.0.1:9000');
    const shown = JSON.stringify(s3) + inspect(s3, { depth: 5 });
    expect(shown).not.toContain('TOPSECRET');
    expect(createStore({ kind: 's3', bucket: 'b-1', region: 'eu-west-1' }).description).toBe(
      's3://b-1 at AWS S3 (eu-west-1)',
    );
    expect(() => createStore({ kind: 's3', bucket: 'b-1', accessKeyId: 'x' })).toThrow(
      /both an access key id and a secret/,
    );
  });
});

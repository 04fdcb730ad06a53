/**
 * The pieces every hostile value meets first: quoting and redaction (src/common/quote.ts), the strict
 * value parsers (src/config/values.ts), RFC 3339 deadlines (src/planning/spec.ts) and the user-file
 * reader (src/host/files.ts), including the FIFO that used to hang the CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { quote, redactUrl } from '../../src/common/quote';
import { parseBoolean, parseHostPort, parseInteger, parseNamespace } from '../../src/config/values';
import { rfc3339Millis } from '../../src/planning/spec';
import { readUserFile } from '../../src/host/files';
import { natsTarget, redactNatsUrl, scrubNatsSecrets } from '../../src/events/auth';
import { deflateSync, crc32 } from 'node:zlib';
import { pngProblem } from '../../src/media/init-image';

describe('quote', () => {
  it('escapes control characters so a value is always one line', () => {
    expect(quote('day\nvldm: forged')).toBe('"day\\nvldm: forged"');
    expect(quote('\u001b[2J\u0007\u0000\r\t')).toBe('"\\e[2J\\x07\\x00\\r\\t"');
    expect(quote('a\u202eb\u2028c\u0085')).toBe('"a\\u202eb\\u2028c\\x85"');
    expect(quote('say "hi" \\ there')).toBe('"say \\"hi\\" \\\\ there"');
  });
  it('shortens long values with an ellipsis and their length', () => {
    const long = 'x'.repeat(10_240);
    expect(quote(long)).toBe(`"${'x'.repeat(80)}…" (10240 chars)`);
    expect(quote('x'.repeat(80))).toBe(`"${'x'.repeat(80)}"`);
    // Code points, not UTF-16 units: a cut never splits an emoji.
    expect(quote('😀'.repeat(100))).toBe(`"${'😀'.repeat(80)}…" (100 chars)`);
  });
  it('prints non-strings', () => {
    expect(quote(42)).toBe('"42"');
    expect(quote(true)).toBe('"true"');
  });
});

describe('redactUrl (every secret-bearing URL)', () => {
  const cases: Array<[string, string]> = [
    ['nats://bob:hunter2@127.0.0.1:4222', 'nats://***@127.0.0.1:4222'],
    // An unescaped `@` in the password: the host follows the last `@`.
    ['nats://bob:p@ss@w0rd@host:4222', 'nats://***@host:4222'],
    ['nats://bob:a:b:c@host:4222', 'nats://***@host:4222'],
    ['nats://bob:p%40ss%3A%2F@host:4222', 'nats://***@host:4222'],
    ['nats://bob:pass with spaces@host:4222', 'nats://***@host:4222'],
    ['nats://tok@a:4222,nats://tok@b:4222', 'nats://***@a:4222,nats://***@b:4222'],
    ['nats://a:4222,nats://u:p@ss@b:4222', 'nats://a:4222,nats://***@b:4222'],
    ['https://user:pw@example.com/path', 'https://***@example.com/path'],
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['no url here', 'no url here'],
  ];
  it.each(cases)('%s', (url, want) => {
    expect(redactUrl(url)).toBe(want);
    expect(redactNatsUrl(url)).toBe(want);
  });
  it('scrubs text that came from elsewhere of the decoded password too', () => {
    const target = natsTarget('nats://bob:p%40ss%20w@host:4222', {});
    expect(target.auth).toEqual({ method: 'user', user: 'bob', pass: 'p@ss w' });
    expect(scrubNatsSecrets('refused p@ss w for bob at nats://bob:p%40ss%20w@host:4222', target.auth)).toBe(
      'refused *** for bob at nats://***@host:4222',
    );
  });
  it('reads the user info up to the last @ (an @ in the password is the password)', () => {
    expect(natsTarget('nats://bob:p@ss@host:4222', {})).toEqual({
      servers: ['nats://host:4222'],
      auth: { method: 'user', user: 'bob', pass: 'p@ss' },
    });
  });
});

describe('strict values', () => {
  it('booleans: one documented set of spellings, any case; anything else refused', () => {
    for (const t of ['true', 'TRUE', '1', 'yes', 'On']) expect(parseBoolean('X', t)).toBe(true);
    for (const f of ['false', 'False', '0', 'no', 'OFF']) expect(parseBoolean('X', f)).toBe(false);
    for (const bad of ['y', 'tru', '2', '', 'enabled'])
      expect(() => parseBoolean('X', bad)).toThrow(/X must be one of/);
  });
  it('integers: decimal digits only, in range', () => {
    expect(parseInteger('n', '16', 1, 256)).toBe(16);
    expect(parseInteger('n', 16, 1, 256)).toBe(16);
    for (const bad of ['0x10', '1e1', '1.0', ' ', 'true', true, '16 threads', '+1', 0, '257'])
      expect(() => parseInteger('n', bad, 1, 256), String(bad)).toThrow(/n must be an integer in \[1, 256\]/);
  });
  it('host:port: names, IPv4 and bracketed IPv6; ports 1–65535', () => {
    for (const ok of [
      '127.0.0.1:7233',
      '[::1]:7233',
      'temporal.example.com:443',
      'localhost:1',
      '[fe80::1]:65535',
    ])
      expect(parseHostPort('a', ok)).toBe(ok);
    expect(() => parseHostPort('a', '127.0.0.1:99999')).toThrow(/port must be in \[1, 65535\], got 99999/);
    expect(() => parseHostPort('a', '127.0.0.1:0')).toThrow(/port must be in/);
    for (const bad of ['localhost', '::1:7233', '[::1]', '[nothost]:1', 'a b:1', 'ex_ample:1', 'h:port'])
      expect(() => parseHostPort('a', bad), bad).toThrow(/a/);
  });
  it('namespaces', () => {
    expect(parseNamespace('ns', 'default')).toBe('default');
    expect(parseNamespace('ns', 'prod.a2b3c')).toBe('prod.a2b3c');
    for (const bad of ['', 'x', 'bad ns', '-x', 'a/b', 'ns\n'])
      expect(() => parseNamespace('ns', bad)).toThrow(/ns must be/);
  });
});

describe('RFC 3339 deadlines', () => {
  it('accepts date-times with a zone', () => {
    expect(rfc3339Millis('2026-12-31T18:00:00Z')).toBe(Date.UTC(2026, 11, 31, 18));
    expect(rfc3339Millis('2026-12-31T18:00:00+01:30')).toBe(Date.UTC(2026, 11, 31, 16, 30));
    expect(rfc3339Millis('2024-02-29t00:00:00.5z')).toBe(Date.UTC(2024, 1, 29, 0, 0, 0, 500));
  });
  it('refuses what Date.parse would guess at, and impossible dates', () => {
    for (const bad of [
      '1',
      'hello 2020',
      'tomorrow',
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-12-31',
      '2026-12-31T18:00:00',
      '2026-12-31T24:00:00Z',
      '2026-12-31T18:00:00+25:00',
    ])
      expect(rfc3339Millis(bad), bad).toBeUndefined();
  });
});

describe('readUserFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-files-'));
  it('reads a regular file within its bound', () => {
    writeFileSync(path.join(dir, 'a.txt'), 'hello');
    expect(readUserFile(path.join(dir, 'a.txt'), { what: 'f' }).toString()).toBe('hello');
  });
  it('refuses a FIFO at once instead of blocking, a folder, a device, a missing or oversized file', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect(() => readUserFile(fifo, { what: 'f' })).toThrow(/is a named pipe \(FIFO\); give a regular file/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(() => readUserFile(dir, { what: 'f' })).toThrow(/is a folder/);
    expect(() => readUserFile('/dev/zero', { what: 'f' })).toThrow(/is a device/);
    expect(() => readUserFile(path.join(dir, 'none'), { what: 'f' })).toThrow(/does not exist/);
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(2000));
    expect(() => readUserFile(path.join(dir, 'big'), { what: 'f', maxBytes: 1000 })).toThrow(
      /is 2000 bytes; at most 1000 bytes are accepted/,
    );
  });
});

/** A PNG built here: RGB 8-bit, `interlaced` with Adam7, its chunks editable before they are sealed. */
function png(
  w: number,
  h: number,
  interlaced: boolean,
  edit: (type: string, d: Buffer) => Buffer = (_t, d) => d,
) {
  const chunk = (type: string, data: Buffer) => {
    const d = edit(type, data);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), d]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(d.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const passes = interlaced
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const rows: Buffer[] = [];
  for (const [xs, ys, dx, dy] of passes)
    for (let y = ys; y < h; y += dy) {
      const px: number[] = [];
      for (let x = xs; x < w; x += dx) px.push(x & 255, y & 255, 99);
      if (px.length) rows.push(Buffer.from([0, ...px]));
    }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, interlaced ? 1 : 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('pngProblem (PNG structure before decoding)', () => {
  it('passes sound PNGs, plain and Adam7-interlaced, of odd sizes', async () => {
    for (const [w, h] of [
      [37, 23],
      [1, 1],
      [9, 3],
    ])
      for (const interlaced of [false, true]) expect(await pngProblem(png(w, h, interlaced))).toBeUndefined();
  });
  it('names what is wrong with a damaged one', async () => {
    const good = png(37, 23, true);
    expect(await pngProblem(good.subarray(0, good.length - 20))).toMatch(/truncated/);
    const badCrc = Buffer.from(good);
    badCrc[20] ^= 1; // inside IHDR's data, the CRC left as it was
    expect(await pngProblem(badCrc)).toBe("the IHDR chunk's CRC does not match its data");
    const taller = png(37, 23, true, (t, d) => {
      if (t === 'IHDR') d.writeUInt32BE(46, 4);
      return d;
    });
    expect(await pngProblem(taller)).toMatch(/stops short: \d+ of the \d+ bytes its 37×46 header promises/);
    const shorter = png(37, 23, false, (t, d) => {
      if (t === 'IHDR') d.writeUInt32BE(10, 4);
      return d;
    });
    expect(await pngProblem(shorter)).toMatch(/more image data than its 37×10 header says/);
    const depth = png(4, 4, false, (t, d) => {
      if (t === 'IHDR') d[8] = 4; // 4-bit RGB does not exist
      return d;
    });
    expect(await pngProblem(depth)).toMatch(/invalid bit depth 4 for colour type 2/);
    const cut = png(37, 23, false, (t, d) => (t === 'IDAT' ? d.subarray(0, d.length >> 1) : d));
    expect(await pngProblem(cut)).toMatch(/compressed image data is damaged/);
  });
});

/**
 * Bad input at the edge: each case is a real `vldm` process that must exit with status 2 and one
 * clear line naming what is wrong, before any workflow starts or any file is written.
 */
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { connectTemporal } from '../../src/client/jobs';
import { testServers, testStateDir } from '../support/servers';
import { runCli } from '../support/cli';
import { CONTRACT_PACK } from '../support/pipeline';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-bad-'));
let client: Client;
let temporal: string;

/** A copy of the contract test pack broken by `breakIt`. */
function brokenPack(name: string, breakIt: (dir: string) => void): string {
  const dir = path.join(tmp, 'packs', name);
  cpSync(CONTRACT_PACK, dir, { recursive: true });
  breakIt(dir);
  return dir;
}
const manifestOf = (dir: string) => path.join(dir, 'vldm-pack.json');
function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const m = JSON.parse(readFileSync(manifestOf(dir), 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(manifestOf(dir), JSON.stringify(m));
}

/** A file made once in `tmp` the first time a case asks for it. */
function fixture(name: string, make: (file: string) => void): string {
  const file = path.join(tmp, 'fixtures', name);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    make(file);
  }
  return file;
}
/** A PNG or JPEG drawn by ffmpeg (`lavfi` source such as `testsrc2=s=320x200`). */
function drawn(name: string, source: string): string {
  return fixture(name, (file) => {
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', '1', file]);
    if (r.status !== 0) throw new Error(`ffmpeg could not draw ${name}: ${r.stderr.toString()}`);
  });
}
const goodPng = () => drawn('good.png', 'testsrc2=s=320x200');
/** The first half of a real image: its header is intact, its pixel data stops short. */
const truncated = (name: string, of: string) =>
  fixture(name, (f) => {
    const bytes = readFileSync(of);
    writeFileSync(f, bytes.subarray(0, bytes.length >> 1));
  });

/** A named pipe with no writer: reading it blocks for ever, so whatever reads it must refuse it first. */
const fifo = (name: string) => fixture(name, (f) => execFileSync('mkfifo', [f]));

/** The PNG's chunks, each rewritten by `edit` (its CRC recomputed unless `keepCrc`). */
function rewritePng(
  name: string,
  edit: (type: string, data: Buffer) => Buffer,
  opts: { keepCrc?: boolean } = {},
): string {
  return fixture(name, (f) => {
    const b = readFileSync(goodPng());
    const parts = [b.subarray(0, 8)];
    for (let i = 8; i < b.length;) {
      const length = b.readUInt32BE(i);
      const type = b.toString('latin1', i + 4, i + 8);
      const data = Buffer.from(edit(type, Buffer.from(b.subarray(i + 8, i + 8 + length))));
      const head = Buffer.alloc(8);
      head.writeUInt32BE(data.length, 0);
      head.write(type, 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(
        opts.keepCrc ? b.readUInt32BE(i + 8 + length) : crc32(Buffer.concat([head.subarray(4), data])),
      );
      parts.push(head, data, crc);
      i += 12 + length;
    }
    writeFileSync(f, Buffer.concat(parts));
  });
}

interface Case {
  name: string;
  args: (out: string, state: string) => string[];
  message: RegExp;
  /** Environment of the vldm process (over the test's own). */
  env?: Record<string, string>;
  /** What the message must not show (a secret). */
  notMessage?: RegExp;
}

const job = ['--seconds', '2', '--pack', CONTRACT_PACK];
const cases: Case[] = [
  {
    name: 'zero seconds',
    args: (o, s) => ['generate', '--seconds', '0', '--pack', CONTRACT_PACK, '--out', o, '--state-dir', s],
    message: /seconds must be a number in \(0, 3600\], got 0/,
  },
  {
    name: 'seconds not a number',
    args: (o, s) => ['generate', '--seconds', 'ten', '--out', o, '--state-dir', s],
    message: /--seconds must be a number, got "ten"/,
  },
  {
    name: 'too long',
    args: (o, s) => ['generate', '--seconds', '4000', '--pack', CONTRACT_PACK, '--out', o, '--state-dir', s],
    message: /seconds must be a number in \(0, 3600\]/,
  },
  {
    name: 'fractional frame count',
    args: (o, s) => ['generate', '--seconds', '0.01', '--pack', CONTRACT_PACK, '--out', o, '--state-dir', s],
    message: /seconds × fps must be a whole number of frames/,
  },
  {
    name: 'unknown scene label',
    args: (o, s) => ['generate', ...job, '--scene', 'dusk', '--out', o, '--state-dir', s],
    message: /scene must be one of day, night, got "dusk"/,
  },
  {
    name: 'unknown traffic label',
    args: (o, s) => ['generate', ...job, '--traffic', 'jammed', '--out', o, '--state-dir', s],
    message: /traffic must be one of clear, crowded, got "jammed"/,
  },
  {
    name: 'fractional seed',
    args: (o, s) => ['generate', ...job, '--seed', '1.5', '--out', o, '--state-dir', s],
    message: /seed must be an integer in \[0, 4294967295\], got 1.5/,
  },
  {
    name: 'seed too large',
    args: (o, s) => ['generate', ...job, '--seed', '99999999999', '--out', o, '--state-dir', s],
    message: /seed must be an integer/,
  },
  {
    name: 'fps the pack was not made for',
    args: (o, s) => ['generate', ...job, '--fps', '30', '--out', o, '--state-dir', s],
    message: /fps must equal the model pack's frame rate 24/,
  },
  {
    name: 'bad job id',
    args: (o, s) => ['generate', ...job, '--job-id', 'My/Job', '--out', o, '--state-dir', s],
    message: /job id must match/,
  },
  {
    name: 'name without letters',
    args: (o, s) => ['generate', ...job, '--name', '!!!', '--out', o, '--state-dir', s],
    message: /name must contain letters or digits/,
  },
  {
    name: 'bad deadline',
    args: (o, s) => ['generate', ...job, '--deadline', 'tomorrow', '--out', o, '--state-dir', s],
    message: /deadline must be an RFC 3339 date-time with a time zone, .*got "tomorrow"/,
  },
  {
    name: 'missing pack',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      path.join(tmp, 'no-such-pack'),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /no-such-pack/,
  },
  {
    name: 'manifest not JSON',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      brokenPack('not-json', (d) => writeFileSync(manifestOf(d), '{ nope')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /vldm-pack\.json.*(JSON|json)/,
  },
  {
    name: 'wrong checksum',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      brokenPack('bad-sha', (d) =>
        editManifest(d, (m) => {
          (m.models as Record<string, { sha256: string }>).decoder.sha256 = '0'.repeat(64);
        }),
      ),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /decoder.*sha256/,
  },
  {
    name: 'model file missing',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      brokenPack('no-file', (d) => rmSync(path.join(d, 'upsampler.onnx'))),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /upsampler.*(missing|not found|does not exist|no such)/i,
  },
  {
    name: 'model file not ONNX',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      brokenPack('not-onnx', (d) => {
        writeFileSync(path.join(d, 'keyframe.onnx'), 'hello');
        editManifest(d, (m) => {
          (m.models as Record<string, { sha256: string }>).keyframe.sha256 =
            '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
        });
      }),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /keyframe.*(ONNX|onnx|protobuf)/,
  },
  {
    name: 'init image missing',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      path.join(tmp, 'no-such.png'),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /--init-image .*no-such\.png" does not exist/,
  },
  {
    name: 'init image is a folder',
    args: (o, s) => ['generate', ...job, '--init-image', tmp, '--out', o, '--state-dir', s],
    message: /--init-image .* is a folder/,
  },
  {
    name: 'init image empty',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      fixture('empty.png', (f) => writeFileSync(f, '')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /--init-image .*empty\.png" is empty \(0 bytes\)/,
  },
  {
    name: 'init image is a text file named .png',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      fixture('notes.png', (f) => writeFileSync(f, 'a cat on a road at night\n')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /--init-image .*notes\.png" is not a PNG or JPEG image \(it starts with "a cat on"/,
  },
  {
    name: 'init image is a truncated PNG',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      truncated('half.png', goodPng()),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message:
      /--init-image .*half\.png" is a damaged PNG: the IDAT chunk at byte \d+ runs past the end of the file \(truncated\)/,
  },
  {
    name: 'init image is a truncated JPEG',
    args: (o, s) => [
      'submit',
      ...job,
      '--init-image',
      truncated('half.jpg', drawn('good.jpg', 'testsrc2=s=320x200')),
      '--temporal-address',
      temporal,
      '--state-dir',
      s,
    ],
    message: /--init-image .*half\.jpg" could not be decoded as a JPEG \(.*\): is it truncated or damaged\?/,
  },
  {
    name: 'init image over the byte limit',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      // A real PNG with 33 MiB of padding after it: over the limit however little of it is pixels.
      fixture('huge.png', (f) =>
        writeFileSync(f, Buffer.concat([readFileSync(goodPng()), Buffer.alloc(33 << 20)])),
      ),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message:
      /--init-image .*huge\.png" is 33\.0 MiB \(\d+ bytes\); init images may be at most 32\.0 MiB \(33554432 bytes\)/,
  },
  {
    name: 'init image over the pixel limit',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      drawn('wide.png', 'color=c=gray:s=8000x6000'),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message:
      /--init-image .*wide\.png" is 8000×6000 pixels \(48\.0 megapixels\); init images may have at most 40 megapixels/,
  },
  {
    name: 'init image with unreachable Temporal (submit uploads nothing)',
    args: (_o, s) => [
      'submit',
      ...job,
      '--init-image',
      goodPng(),
      '--temporal-address',
      '127.0.0.1:1',
      '--state-dir',
      s,
    ],
    message: /cannot reach the Temporal server at 127\.0\.0\.1:1/,
  },
  {
    name: 'output folder missing',
    args: (_o, s) => ['generate', ...job, '--out', path.join(tmp, 'nowhere', 'x.mp4'), '--state-dir', s],
    message: /--out: folder .*nowhere" does not exist/,
  },
  {
    name: 'output is a folder',
    args: (_o, s) => ['generate', ...job, '--out', tmp, '--state-dir', s],
    message: /--out .* is a folder/,
  },
  {
    name: 'output parent is a file',
    args: (_o, s) => [
      'generate',
      ...job,
      '--out',
      path.join(CONTRACT_PACK, 'vldm-pack.json', 'x.mp4'),
      '--state-dir',
      s,
    ],
    message: /is a file, not a folder/,
  },
  {
    name: 'output not MP4',
    args: (o, s) => ['generate', ...job, '--out', o.replace(/\.mp4$/, '.avi'), '--state-dir', s],
    message: /--out must end in \.mp4/,
  },
  {
    name: 'no output given',
    args: (_o, s) => ['generate', ...job, '--state-dir', s],
    message: /--out is required/,
  },
  {
    name: 'threads not a count',
    args: (o, s) => ['generate', ...job, '--threads', '0', '--out', o, '--state-dir', s],
    message: /intraOpThreads \(--threads\) must be an integer in \[1, 256\], got "0"/,
  },
  {
    name: 'temporal address malformed',
    args: (o, s) => ['generate', ...job, '--temporal-address', 'localhost', '--out', o, '--state-dir', s],
    message:
      /temporal address \(--temporal-address\) must be host:port \(IPv6 as \[addr\]:port\), got "localhost"/,
  },
  {
    name: 'config file missing',
    args: (o, s) => [
      'generate',
      ...job,
      '--config',
      path.join(tmp, 'missing.json'),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /config file .*missing\.json" does not exist/,
  },
  {
    name: 'config file with unknown key',
    args: (o, s) => [
      'generate',
      ...job,
      '--config',
      (writeFileSync(path.join(tmp, 'odd.json'), '{"temporal": "x"}'), path.join(tmp, 'odd.json')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /unknown key "temporal"/,
  },
  {
    name: 'unreachable Temporal (submit)',
    args: () => ['submit', ...job, '--temporal-address', '127.0.0.1:1'],
    message: /cannot reach the Temporal server at 127\.0\.0\.1:1/,
  },
  {
    name: 'unknown worker queue',
    args: () => ['worker', '--queues', 'keyframe,gpu', '--temporal-address', '127.0.0.1:1'],
    message: /--queues must be "all" or a comma list .*unknown: gpu/,
  },
  {
    name: 'unknown job (fetch)',
    args: (o) => ['fetch', 'no-such-job', '--out', o, '--temporal-address', temporal],
    message: /no job "no-such-job"/,
  },
  {
    name: 'invalid job id (status)',
    args: () => ['status', 'Bad_Id', '--temporal-address', temporal],
    message: /job id must match/,
  },

  // Issue 13: values parsed loosely.
  {
    name: 'deadline "1" (Date.parse reads 2001)',
    args: (o, s) => ['generate', ...job, '--deadline', '1', '--out', o, '--state-dir', s],
    message: /deadline must be an RFC 3339 date-time .*got "1"/,
  },
  {
    name: 'deadline "hello 2020"',
    args: (o, s) => ['plan', ...job, '--deadline', 'hello 2020', '--state-dir', s],
    message: /deadline must be an RFC 3339 date-time .*got "hello 2020"/,
  },
  {
    name: 'deadline on 30 February',
    args: (o, s) => ['generate', ...job, '--deadline', '2024-02-30T12:00:00Z', '--out', o, '--state-dir', s],
    message: /deadline must be an RFC 3339 date-time .*got "2024-02-30T12:00:00Z"/,
  },
  {
    name: 'deadline in the past',
    args: (_o, s) => [
      'submit',
      ...job,
      '--deadline',
      '2020-01-01T00:00:00Z',
      '--temporal-address',
      temporal,
      '--state-dir',
      s,
    ],
    message: /--deadline "2020-01-01T00:00:00Z" is in the past/,
  },
  {
    name: 'config file: a boolean for a thread count',
    args: (o, s) => [
      'generate',
      ...job,
      '--config',
      fixture('threads-true.json', (f) => writeFileSync(f, '{"intraOpThreads": true}')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /"intraOpThreads" must be an integer, got a boolean/,
  },
  {
    name: 'config file: a number for the store',
    args: (o, s) => [
      'generate',
      ...job,
      '--config',
      fixture('store-42.json', (f) => writeFileSync(f, '{"store": 42}')),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /"store" must be a string, got a number/,
  },
  {
    name: 'VLDM_THREADS in hex',
    args: (o, s) => ['generate', ...job, '--out', o, '--state-dir', s],
    env: { VLDM_THREADS: '0x10' },
    message: /intraOpThreads \(VLDM_THREADS\) must be an integer in \[1, 256\], got "0x10"/,
  },
  {
    name: 'VLDM_NOISE_THREADS past the most',
    args: (o, s) => ['generate', ...job, '--out', o, '--state-dir', s],
    env: { VLDM_NOISE_THREADS: '65' },
    message: /noiseThreads \(VLDM_NOISE_THREADS\) must be an integer in \[0, 64\], got "65"/,
  },
  {
    name: 'VLDM_MODEL_THREADS negative',
    args: (o, s) => ['generate', ...job, '--out', o, '--state-dir', s],
    env: { VLDM_MODEL_THREADS: '-1' },
    message: /modelThreads \(VLDM_MODEL_THREADS\) must be an integer in \[0, 64\], got "-1"/,
  },
  {
    name: 'namespace with a space',
    args: (_o, s) => [
      'submit',
      ...job,
      '--namespace',
      'my ns',
      '--temporal-address',
      temporal,
      '--state-dir',
      s,
    ],
    message: /namespace \(--namespace\) must be a Temporal namespace .*got "my ns"/,
  },
  {
    name: 'a flag given twice',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--seconds',
      '4',
      '--pack',
      CONTRACT_PACK,
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /--seconds is given more than once/,
  },
  {
    name: 'Temporal port out of range',
    args: (_o, s) => ['submit', ...job, '--state-dir', s],
    env: { VLDM_TEMPORAL_ADDRESS: '127.0.0.1:99999' },
    message: /temporal address \(VLDM_TEMPORAL_ADDRESS\): port must be in \[1, 65535\], got 99999/,
  },
  // Security switches that fail open.
  {
    name: 'VLDM_TEMPORAL_TLS spelled oddly',
    args: (_o, s) => ['submit', ...job, '--temporal-address', temporal, '--state-dir', s],
    env: { VLDM_TEMPORAL_TLS: 'enabled' },
    message: /VLDM_TEMPORAL_TLS must be one of true\/1\/yes\/on\/false\/0\/no\/off, got "enabled"/,
  },
  {
    name: 'VLDM_TEMPORAL_TLS=TRUE turns TLS on (the plaintext test server is then refused)',
    args: (_o, s) => ['submit', ...job, '--temporal-address', temporal, '--state-dir', s],
    env: { VLDM_TEMPORAL_TLS: 'TRUE' },
    message: /does not seem to speak TLS/,
  },
  // Secrets printed.
  {
    name: 'NATS URL whose password holds @ and a space',
    args: (o, s) => ['generate', ...job, '--out', o, '--state-dir', s],
    env: { VLDM_NATS_URL: 'nats://bob:hunt@r2 x9@127.0.0.1:4222' },
    message: /NATS URL must look like nats:\/\/host:port .*got "nats:\/\/\*\*\*@127\.0\.0\.1:4222"/,
    notMessage: /hunt|r2 x9/,
  },
  // Hangs.
  {
    name: 'config file is a FIFO',
    args: (o, s) => ['generate', ...job, '--config', fifo('config.fifo'), '--out', o, '--state-dir', s],
    message: /config file .*config\.fifo" is a named pipe \(FIFO\); give a regular file/,
  },
  {
    name: 'Temporal CA file is a FIFO',
    args: (_o, s) => ['submit', ...job, '--temporal-address', temporal, '--state-dir', s],
    env: { VLDM_TEMPORAL_TLS_CA_FILE: fifo('ca.fifo') },
    message: /VLDM_TEMPORAL_TLS_CA_FILE .*ca\.fifo" is a named pipe \(FIFO\)/,
  },
  {
    name: 'NATS credentials file is a FIFO',
    args: (o, s) => ['generate', ...job, '--out', o, '--state-dir', s],
    env: { VLDM_NATS_CREDS_FILE: fifo('nats.fifo') },
    message: /VLDM_NATS_CREDS_FILE .*nats\.fifo" is a named pipe \(FIFO\)/,
  },
  {
    name: 'pack manifest is a FIFO',
    args: (o, s) => [
      'generate',
      '--seconds',
      '2',
      '--pack',
      brokenPack('fifo-manifest', (d) => {
        rmSync(manifestOf(d));
        execFileSync('mkfifo', [manifestOf(d)]);
      }),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /vldm-pack\.json" is a named pipe \(FIFO\)/,
  },
  // Damaged files accepted.
  {
    name: 'init image PNG with its compressed data cut in half',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      rewritePng('half-idat.png', (t, d) => (t === 'IDAT' ? d.subarray(0, d.length >> 1) : d)),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /half-idat\.png" is a damaged PNG: its compressed image data is damaged/,
  },
  {
    name: 'init image PNG whose header lies about its size',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      rewritePng('tall.png', (t, d) => {
        if (t === 'IHDR') d.writeUInt32BE(400, 4); // 320×200 drawn, 320×400 claimed
        return d;
      }),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message:
      /tall\.png" is a damaged PNG: its image data stops short: \d+ of the \d+ bytes its 320×400 header promises/,
  },
  {
    name: 'init image PNG with a wrong header CRC',
    args: (o, s) => [
      'generate',
      ...job,
      '--init-image',
      rewritePng(
        'bad-crc.png',
        (t, d) => {
          if (t === 'IHDR') d[3] ^= 1; // width 320 → 321, the stored CRC still that of 320
          return d;
        },
        { keepCrc: true },
      ),
      '--out',
      o,
      '--state-dir',
      s,
    ],
    message: /bad-crc\.png" is a damaged PNG: the IHDR chunk's CRC does not match its data/,
  },
  // Messages that can be forged.
  {
    name: 'newline in --scene (a forged second line)',
    args: (o, s) => ['generate', ...job, '--scene', 'day\nvldm: all good', '--out', o, '--state-dir', s],
    message: /--scene must be at most 256 characters without control characters, got "day\\nvldm: all good"/,
  },
  {
    name: 'ANSI escape in --name',
    args: (o, s) => ['generate', ...job, '--name', '\u001b[2Jcleared', '--out', o, '--state-dir', s],
    message: /--name must be .* got "\\e\[2Jcleared"/,
  },
  {
    name: 'a 10 KB job id (status)',
    args: () => ['status', 'a'.repeat(10_240), '--temporal-address', temporal],
    message: /job id must match .*got "a{80}…" \(10240 chars\)$/m,
  },
  {
    name: 'newline in --job-id',
    args: (o, s) => ['generate', ...job, '--job-id', 'ok\nvldm: forged', '--out', o, '--state-dir', s],
    message: /job id must match .*got "ok\\nvldm: forged"/,
  },
  // Checks that miss.
  {
    name: 'output in /proc (access says yes, creating says no)',
    args: (_o, s) => ['generate', ...job, '--out', '/proc/x.mp4', '--state-dir', s],
    message: /--out: cannot write a file in "\/proc"/,
  },
  {
    name: 'output named only .mp4',
    args: (_o, s) => ['generate', ...job, '--out', path.join(tmp, '.mp4'), '--state-dir', s],
    message: /--out ".*\/\.mp4" has no file name before \.mp4/,
  },
  {
    name: 'S3 store without a bucket',
    args: (o, s) => ['generate', ...job, '--store', 's3://', '--out', o, '--state-dir', s],
    message: /invalid S3 bucket name ""/,
  },
];

beforeAll(async () => {
  const servers = await testServers({ kinds: ['temporal'] });
  temporal = servers.temporal!.address;
  client = await connectTemporal(temporal, servers.temporal!.namespace);
});

describe('bad input gives a clear error, exit 2, and starts and writes nothing', () => {
  it(`has at least 60 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases)('$name', async (c) => {
    const before = (await client.workflow.count()).count;
    const caseDir = path.join(tmp, 'cases', c.name.replace(/\W+/g, '-'));
    mkdirSync(caseDir, { recursive: true });
    const out = path.join(caseDir, 'out.mp4');
    const state = path.join(caseDir, 'state');
    const r = await runCli(c.args(out, state), c.env ?? {}, 60_000);
    expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
    expect(r.stderr).toMatch(c.message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    // Nothing that drives a terminal, whatever was typed (newlines only end lines).
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/); // eslint-disable-line no-control-regex
    if (c.notMessage) expect(r.stderr).not.toMatch(c.notMessage);
    expect(readdirSync(caseDir)).toEqual([]); // no output, no state folder, no artifacts
    expect((await client.workflow.count()).count).toBe(before);
    expect(existsSync(testStateDir())).toBe(true);
  });
});

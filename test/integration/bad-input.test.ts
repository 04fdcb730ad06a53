/**
 * Bad input at the edge: each case is a real `vldm` process that must exit with status 2 and one
 * clear line naming what is wrong, before any workflow starts or any file is written.
 */
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
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

interface Case {
  name: string;
  args: (out: string, state: string) => string[];
  message: RegExp;
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
    message: /deadline must be an ISO 8601 date-time, got "tomorrow"/,
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
    message: /--init-image .*no-such\.png does not exist/,
  },
  {
    name: 'init image is a folder',
    args: (o, s) => ['generate', ...job, '--init-image', tmp, '--out', o, '--state-dir', s],
    message: /--init-image .* is a folder, not an image file/,
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
    message: /--init-image .*empty\.png is empty \(0 bytes\)/,
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
    message: /--init-image .*notes\.png is not a PNG or JPEG image \(it starts with "a cat on"/,
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
      /--init-image .*half\.png could not be decoded as a PNG \(.*Invalid data.*\): is it truncated or damaged\?/,
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
    message: /--init-image .*half\.jpg could not be decoded as a JPEG \(.*\): is it truncated or damaged\?/,
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
      /--init-image .*huge\.png is 33\.0 MiB \(\d+ bytes\); init images may be at most 32\.0 MiB \(33554432 bytes\)/,
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
      /--init-image .*wide\.png is 8000×6000 pixels \(48\.0 megapixels\); init images may have at most 40 megapixels/,
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
    message: /--out: folder .*nowhere does not exist/,
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
    message: /intraOpThreads \(VLDM_THREADS\) must be an integer in \[1, 256\], got 0/,
  },
  {
    name: 'temporal address malformed',
    args: (o, s) => ['generate', ...job, '--temporal-address', 'localhost', '--out', o, '--state-dir', s],
    message: /temporal address must be host:port, got "localhost"/,
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
    message: /config file .*missing\.json does not exist/,
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
];

beforeAll(async () => {
  const servers = await testServers({ kinds: ['temporal'] });
  temporal = servers.temporal!.address;
  client = await connectTemporal(temporal, servers.temporal!.namespace);
});

describe('bad input gives a clear error, exit 2, and starts and writes nothing', () => {
  it(`has at least 25 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('$name', async (c) => {
    const before = (await client.workflow.count()).count;
    const caseDir = path.join(tmp, 'cases', c.name.replace(/\W+/g, '-'));
    mkdirSync(caseDir, { recursive: true });
    const out = path.join(caseDir, 'out.mp4');
    const state = path.join(caseDir, 'state');
    const r = await runCli(c.args(out, state), {}, 60_000);
    expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(2);
    expect(r.stderr).toMatch(c.message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    expect(readdirSync(caseDir)).toEqual([]); // no output, no state folder, no artifacts
    expect((await client.workflow.count()).count).toBe(before);
    expect(existsSync(testStateDir())).toBe(true);
  });
});

// `vldm models verify` and loadPack against the committed contract test pack (models/contract-test):
// the pack passes, and copies of it broken in one precise way each fail with the exact message.
// Real onnxruntime sessions throughout; broken models are made by editing the ONNX protobuf's
// metadata, swapping files between roles, or building a small graph from scratch.
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ContractError } from '../../src/common/errors';
import { MANIFEST_FILE, type Role } from '../../src/models/contract';
import { parseManifest } from '../../src/models/manifest';
import { readOnnxFileMetadata, withOnnxMetadata } from '../../src/models/onnx-proto';
import { loadPack, packDigest, sha256File } from '../../src/models/pack';
import { runCli } from '../support/cli';
import { formatVerifyReport, verifyPack, type VerifyReport } from '../../src/models/verify';
import { buildOnnxModel, type GraphValue } from '../support/onnx-graph';

const PACK = resolve(__dirname, '../../models/contract-test');
// Expected sizes are derived from the pack's own manifest, so regenerating the pack with other sizes
// keeps the tests meaningful. parseManifest also fails the whole file early if the manifest is bad.
const M = parseManifest(JSON.parse(readFileSync(join(PACK, MANIFEST_FILE), 'utf8')), MANIFEST_FILE);
const [C, LH, LW] = [M.latent.channels, M.latent.height, M.latent.width];
const KT = M.windows.keyframe.frames;
const IT = 4 * M.windows.interpolation.intervals + 1;
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function copyPack(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vldm-pack-'));
  temps.push(dir);
  await cp(PACK, dir, { recursive: true });
  return dir;
}

// Edits reach into the manifest at any depth to break one field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function editManifest(dir: string, edit: (json: any) => void): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  const json = JSON.parse(await readFile(path, 'utf8'));
  edit(json);
  await writeFile(path, JSON.stringify(json, null, 2));
}

/** Replace a role's file and update its checksum, so only the file's content is wrong. */
async function replaceModel(dir: string, role: Role, bytes: Uint8Array): Promise<void> {
  const path = join(dir, `${role}.onnx`);
  await writeFile(path, bytes);
  const sha = await sha256File(path);
  await editManifest(dir, (j) => (j.models[role].sha256 = sha));
}

async function editMeta(
  dir: string,
  role: Role,
  edit: (meta: Record<string, string>) => void,
  from: Role = role,
) {
  const bytes = await readFile(join(PACK, `${from}.onnx`));
  const meta = await readOnnxFileMetadata(join(PACK, `${from}.onnx`));
  edit(meta);
  await replaceModel(dir, role, withOnnxMetadata(bytes, meta));
}

function allProblems(report: VerifyReport): string[] {
  return [...report.problems, ...report.roles.flatMap((r) => r.problems)];
}

/** Node's own message for unparsable JSON (its wording changes between Node versions). */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} parses`);
}

const LATENT: GraphValue['dims'] = ['B', 'T', 'c', 'h', 'w'];
const KEYFRAME_INPUTS: GraphValue[] = [
  { name: 'x', dims: LATENT },
  { name: 't', dims: ['B'] },
  { name: 'context', dims: LATENT },
  { name: 'mask', dims: ['B', 'T', 1, 'h', 'w'] },
  { name: 'labels', dims: ['B', 'L'] },
];

describe('verifyPack on the contract test pack', () => {
  it('passes, with every check of every role ok', async () => {
    const report = await verifyPack(PACK);
    expect(allProblems(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.name).toBe('vldm-contract-test');
    expect(report.roles.map((r) => r.role)).toEqual([
      'encoder',
      'decoder',
      'keyframe',
      'interpolation',
      'upsampler',
      'keyframe_image',
      'upsampler_image',
    ]);
    for (const r of report.roles) {
      expect([r.role, r.sha256Ok, r.metadataOk, r.loads, r.ioOk, r.probeOk]).toEqual([
        r.role,
        true,
        true,
        true,
        true,
        true,
      ]);
      for (const p of r.probes) expect(p.finite).toBe(true);
    }
    const shapes = Object.fromEntries(report.roles.map((r) => [r.role, r.probes.map((p) => p.outputShape)]));
    const up = M.windows.upscale;
    expect(shapes).toEqual({
      encoder: [[1, 2, C, LH, LW]],
      decoder: [[1, M.windows.decode.frames, 3, M.base.height, M.base.width]],
      keyframe: [
        [1, KT, C, LH, LW],
        [1, 1, C, LH, LW],
      ],
      keyframe_image: [
        [1, KT, C, LH, LW],
        [1, 1, C, LH, LW],
      ],
      interpolation: [
        [1, IT, C, LH, LW],
        [1, IT, C, LH, LW],
      ],
      upsampler: [[1, up.frames, 3, 4 * up.tileHeight, 4 * up.tileWidth]],
      upsampler_image: [[1, up.frames, 3, 4 * up.tileHeight, 4 * up.tileWidth]],
    });
    const decoder = report.roles.find((r) => r.role === 'decoder')?.probes[0];
    expect(decoder?.min).toBeGreaterThanOrEqual(-1);
    expect(decoder?.max).toBeLessThanOrEqual(1);
    expect(formatVerifyReport(report)).toMatch(/OK: the pack follows model contract v1$/);
  });

  it('`vldm models verify --json` prints the report as JSON and exits 0 (threads from the configuration)', async () => {
    const { code, stdout, stderr } = await runCli(['models', 'verify', PACK, '--json', '--threads', '2']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const parsed = JSON.parse(stdout) as VerifyReport;
    expect(parsed.ok).toBe(true);
    expect(parsed.roles).toHaveLength(7);
  });

  it('`vldm models verify` refuses a bad --threads like every other command', async () => {
    const { code, stdout, stderr } = await runCli(['models', 'verify', PACK, '--threads', '0']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^vldm: intraOpThreads .* must be an integer in \[1, 256\], got "0"\n$/);
  });
});

describe('loadPack', () => {
  it('loads the contract test pack with files, metadata and digest', async () => {
    const pack = await loadPack(PACK);
    expect(pack.root).toBe(PACK);
    expect(pack.files.keyframe).toBe(join(PACK, 'keyframe.onnx'));
    expect(pack.meta.keyframe.prediction).toBe('eps');
    expect(pack.meta.interpolation.prediction).toBe('v');
    expect(pack.meta.keyframe.schedule).toEqual({
      kind: 'scaled_linear',
      betaStart: 0.00085,
      betaEnd: 0.012,
      trainSteps: 1000,
    });
    expect(pack.meta.keyframe.labels).toEqual(['day', 'night', 'clear', 'crowded']);
    expect(pack.meta.upsampler.labels).toBeUndefined();
    expect(pack.meta.keyframe.window).toBe(KT);
    expect(pack.meta.encoder.window).toBe(1);
    expect(pack.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(pack.digest).toBe(packDigest(pack.manifest));
    // Also reachable through its manifest's path.
    expect((await loadPack(join(PACK, MANIFEST_FILE))).digest).toBe(pack.digest);
  });

  it('changes its digest when one model file changes', async () => {
    const dir = await copyPack();
    await editMeta(dir, 'keyframe', (m) => (m['vldm.note'] = 'keys outside the contract are allowed'));
    const [a, b] = await Promise.all([loadPack(PACK), loadPack(dir)]);
    expect(b.digest).not.toBe(a.digest);
  });
});

/** A broken copy of the pack and the exact problems verify must list (loadPack too, unless it only shows in onnxruntime). */
interface BreakCase {
  name: string;
  breakIt: (dir: string) => Promise<unknown>;
  problems: (dir: string) => string[] | Promise<string[]>;
  /** The problem appears only once the model runs, so loadPack (which does not run models) accepts the pack. */
  runtimeOnly?: boolean;
}

const KF = 'keyframe (keyframe.onnx)';

const cases: BreakCase[] = [
  {
    name: 'missing manifest',
    breakIt: (dir) => unlink(join(dir, MANIFEST_FILE)),
    problems: (dir) => [
      `model pack ${dir} has no vldm-pack.json (a pack is a folder holding vldm-pack.json and its ONNX files)`,
    ],
  },
  {
    name: 'manifest not JSON',
    breakIt: (dir) => writeFile(join(dir, MANIFEST_FILE), '{ "contract": 1,'),
    problems: (dir) => [`${join(dir, MANIFEST_FILE)} is not valid JSON: ${jsonError('{ "contract": 1,')}`],
  },
  {
    name: 'missing role',
    breakIt: (dir) => editManifest(dir, (j) => delete j.models.upsampler),
    problems: (dir) => [`${join(dir, MANIFEST_FILE)}: models.upsampler is missing`],
  },
  {
    name: 'bad manifest value',
    breakIt: (dir) => editManifest(dir, (j) => (j.sampling.keyframe.steps = 0)),
    problems: (dir) => [`${join(dir, MANIFEST_FILE)}: sampling.keyframe.steps must be an integer ≥ 1, got 0`],
  },
  {
    name: 'missing file',
    breakIt: (dir) => unlink(join(dir, 'decoder.onnx')),
    problems: (dir) => [`decoder (decoder.onnx): file is missing (expected at ${join(dir, 'decoder.onnx')})`],
  },
  {
    name: 'wrong sha256',
    breakIt: (dir) => editManifest(dir, (j) => (j.models.encoder.sha256 = '0'.repeat(64))),
    problems: async () => [
      `encoder (encoder.onnx): sha256 is ${await sha256File(join(PACK, 'encoder.onnx'))}, the manifest says ${'0'.repeat(64)} (the file changed or the manifest is stale)`,
    ],
  },
  {
    name: 'file not ONNX',
    breakIt: (dir) =>
      replaceModel(dir, 'encoder', new TextEncoder().encode('this is a README, not a model\n')),
    problems: () => [
      expect.stringMatching(/encoder \(encoder\.onnx\): not an ONNX model \(.+\)$/) as unknown as string,
    ],
  },
  {
    name: 'metadata role of another role',
    breakIt: (dir) => editMeta(dir, 'keyframe', (m) => (m['vldm.role'] = 'interpolation')),
    problems: () => [
      `${KF}: metadata vldm.role is "interpolation", but the manifest lists this file as keyframe`,
    ],
  },
  {
    name: 'contract version 2',
    breakIt: (dir) => editMeta(dir, 'decoder', (m) => (m['vldm.contract'] = '2')),
    problems: () => ['decoder (decoder.onnx): metadata vldm.contract must be 1, got "2"'],
  },
  {
    name: 'metadata key missing',
    breakIt: (dir) => editMeta(dir, 'keyframe', (m) => delete m['vldm.prediction']),
    problems: () => [`${KF}: metadata vldm.prediction is missing`],
  },
  {
    name: 'labels in another order',
    breakIt: (dir) => editMeta(dir, 'interpolation', (m) => (m['vldm.labels'] = 'night,day,clear,crowded')),
    problems: () => [
      'interpolation (interpolation.onnx): metadata vldm.labels is "night,day,clear,crowded", the manifest\'s labels are "day,night,clear,crowded" (same names, same order)',
    ],
  },
  {
    name: 'latent scale differs from the manifest',
    breakIt: (dir) => editMeta(dir, 'decoder', (m) => (m['vldm.latent_scale'] = '0.18215')),
    problems: () => [
      "decoder (decoder.onnx): metadata vldm.latent_scale is 0.18215, the manifest's latent.scale is 0.5",
    ],
  },
  {
    name: 'invalid schedule',
    breakIt: (dir) => editMeta(dir, 'upsampler', (m) => (m['vldm.schedule'] = 'sigmoid')),
    problems: () => [
      'upsampler (upsampler.onnx): metadata vldm.schedule must be one of linear, scaled_linear, cosine, got "sigmoid"',
    ],
  },
  {
    name: 'image variant in the video role',
    breakIt: (dir) => editMeta(dir, 'keyframe', (m) => (m['vldm.role'] = 'keyframe'), 'keyframe_image'),
    problems: () => [`${KF}: metadata vldm.variant must be "video" for role keyframe, got "image"`],
  },
  {
    name: 'manifest sizes not a multiple of the spatial multiple',
    breakIt: (dir) => editMeta(dir, 'keyframe', (m) => (m['vldm.spatial_multiple'] = '16')),
    problems: () => [
      `${KF}: latent height ${LH} is not a multiple of vldm.spatial_multiple = 16`,
      ...(LW % 16 === 0 ? [] : [`${KF}: latent width ${LW} is not a multiple of vldm.spatial_multiple = 16`]),
    ],
  },
  {
    name: 'trained window that disagrees with the manifest',
    breakIt: (dir) => editMeta(dir, 'interpolation', (m) => (m['vldm.window'] = '8')),
    problems: () => [
      'interpolation (interpolation.onnx): metadata vldm.window is 8, it must be 4 · windows.interpolation.intervals + 1 = 9',
    ],
  },
  {
    name: 'encoder spatial multiple not a multiple of f',
    breakIt: (dir) => editMeta(dir, 'encoder', (m) => (m['vldm.spatial_multiple'] = '2')),
    problems: () => [
      'encoder (encoder.onnx): metadata vldm.spatial_multiple 2 must be a multiple of vldm.downsample = 4 (it is measured on pixels)',
    ],
  },
  {
    name: 'upsampler spatial multiple not a multiple of 4',
    breakIt: (dir) => editMeta(dir, 'upsampler', (m) => (m['vldm.spatial_multiple'] = '2')),
    problems: () => [
      'upsampler (upsampler.onnx): metadata vldm.spatial_multiple 2 must be a multiple of 4 (it is measured on the high-res x)',
    ],
  },
  {
    name: 'missing input (keyframe graph as interpolation)',
    breakIt: (dir) =>
      editMeta(
        dir,
        'interpolation',
        (m) => ((m['vldm.role'] = 'interpolation'), (m['vldm.window'] = '9')),
        'keyframe',
      ),
    problems: () => [
      "interpolation (interpolation.onnx): input rate is missing (the model's inputs are x, t, context, mask, labels; the contract's are x, t, context, mask, labels, rate)",
    ],
    runtimeOnly: true,
  },
  {
    name: 'inputs of another role (encoder graph as decoder)',
    breakIt: (dir) =>
      editMeta(dir, 'decoder', (m) => ((m['vldm.role'] = 'decoder'), (m['vldm.window'] = '16')), 'encoder'),
    problems: () => [
      "decoder (decoder.onnx): input latents is missing (the model's inputs are pixels; the contract's are latents)",
      'decoder (decoder.onnx): has input pixels, which the contract does not define for decoder (allowed: latents)',
      'decoder (decoder.onnx): outputs are latents, the contract says exactly one: pixels',
    ],
    runtimeOnly: true,
  },
  {
    name: 'wrong output shape',
    breakIt: async (dir) =>
      replaceModel(
        dir,
        'keyframe',
        buildOnnxModel({
          inputs: KEYFRAME_INPUTS,
          outputs: [{ name: 'out', dims: ['B', 'T', 'c2', 'h', 'w'] }],
          nodes: [{ op: 'Concat', inputs: ['x', 'context'], outputs: ['out'], ints: { axis: 2 } }],
          metadata: await readOnnxFileMetadata(join(PACK, 'keyframe.onnx')),
        }),
      ),
    problems: () => [
      `${KF}: probe T=${KT}, 2 context frames, label day: output out has shape [1,${KT},${2 * C},${LH},${LW}], the contract requires [1,${KT},${C},${LH},${LW}] (B,T,c,h,w)`,
      `${KF}: probe T=1, all-zero mask, unconditional labels (first frame): output out has shape [1,1,${2 * C},${LH},${LW}], the contract requires [1,1,${C},${LH},${LW}] (B,T,c,h,w)`,
    ],
    runtimeOnly: true,
  },
  {
    name: 'fixed label dimension that disagrees with vldm.labels',
    breakIt: async (dir) =>
      replaceModel(
        dir,
        'keyframe',
        buildOnnxModel({
          inputs: [...KEYFRAME_INPUTS.slice(0, 4), { name: 'labels', dims: ['B', 5] }],
          outputs: [{ name: 'out', dims: LATENT }],
          nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['out'] }],
          metadata: await readOnnxFileMetadata(join(PACK, 'keyframe.onnx')),
        }),
      ),
    problems: () => [
      `${KF}: input labels is declared [B,5]: dim 1 (L) is fixed to 5, the contract and metadata say 4`,
    ],
    runtimeOnly: true,
  },
  {
    name: 'NaN output',
    breakIt: async (dir) =>
      replaceModel(
        dir,
        'keyframe',
        buildOnnxModel({
          inputs: KEYFRAME_INPUTS,
          outputs: [{ name: 'out', dims: LATENT }],
          // (x − x) / (x − x) = 0/0 = NaN everywhere.
          nodes: [
            { op: 'Sub', inputs: ['x', 'x'], outputs: ['zero'] },
            { op: 'Div', inputs: ['zero', 'zero'], outputs: ['out'] },
          ],
          metadata: await readOnnxFileMetadata(join(PACK, 'keyframe.onnx')),
        }),
      ),
    problems: () => [
      `${KF}: probe T=${KT}, 2 context frames, label day: ${KT * C * LH * LW} of ${KT * C * LH * LW} output values are NaN or infinite`,
      `${KF}: probe T=1, all-zero mask, unconditional labels (first frame): ${C * LH * LW} of ${C * LH * LW} output values are NaN or infinite`,
    ],
    runtimeOnly: true,
  },
  {
    name: 'decoder output out of [-1, 1]',
    breakIt: async (dir) =>
      replaceModel(
        dir,
        'decoder',
        buildOnnxModel({
          inputs: [{ name: 'latents', dims: LATENT }],
          outputs: [{ name: 'pixels', dims: ['B', 'T', 3, 'H', 'W'] }],
          // First 3 channels, tiled 4× in space (right shape), plus 5: far outside [-1, 1].
          constants: [
            { name: 'starts', dims: [1], int64: [0] },
            { name: 'ends', dims: [1], int64: [3] },
            { name: 'axes', dims: [1], int64: [2] },
            { name: 'repeats', dims: [5], int64: [1, 1, 1, 4, 4] },
            { name: 'five', dims: [], float: [5] },
          ],
          nodes: [
            { op: 'Slice', inputs: ['latents', 'starts', 'ends', 'axes'], outputs: ['rgb'] },
            { op: 'Tile', inputs: ['rgb', 'repeats'], outputs: ['big'] },
            { op: 'Add', inputs: ['big', 'five'], outputs: ['pixels'] },
          ],
          metadata: await readOnnxFileMetadata(join(PACK, 'decoder.onnx')),
        }),
      ),
    problems: () => [
      expect.stringMatching(
        /^decoder \(decoder\.onnx\): probe T=16 latents \(z \/ latent_scale\): output values span \[-?\d\.\d+, \d+\.\d+\], the contract requires \[-1, 1\]$/,
      ) as unknown as string,
    ],
    runtimeOnly: true,
  },
];

describe('verifyPack and loadPack on broken packs', () => {
  it.each(cases)('$name', async ({ breakIt, problems, runtimeOnly }) => {
    const dir = await copyPack();
    await breakIt(dir);
    const expected = await problems(dir);
    const report = await verifyPack(dir);
    expect(report.ok).toBe(false);
    expect(allProblems(report)).toEqual(expected);
    expect(formatVerifyReport(report)).toMatch(/FAILED: the pack does not follow model contract v1$/);
    if (runtimeOnly) {
      await expect(loadPack(dir)).resolves.toMatchObject({ root: dir });
    } else {
      const error = await loadPack(dir).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ContractError);
      const lines = (error as Error).message.split('\n');
      expect(lines[0]).toBe(`model pack ${dir} breaks the model contract:`);
      expect(lines.slice(1)).toEqual(expected.map((p) => (typeof p === 'string' ? `  - ${p}` : p)));
    }
  });

  it('warns, and still passes, when the upsampler runs on windows it was not trained on', async () => {
    const dir = await copyPack();
    const trained = Number((await readOnnxFileMetadata(join(PACK, 'upsampler.onnx')))['vldm.window']);
    await editManifest(dir, (j) => (j.windows.upscale.frames = trained));
    expect((await verifyPack(dir, { skipProbes: true })).roles.flatMap((r) => r.warnings)).toEqual([]);
    await editManifest(dir, (j) => (j.windows.upscale.frames = trained + 1));
    const report = await verifyPack(dir);
    expect(allProblems(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.roles.flatMap((r) => r.warnings)).toEqual([
      `upsampler (upsampler.onnx): windows.upscale.frames ${trained + 1} differs from the trained window vldm.window = ${trained}`,
      `upsampler_image (upsampler_image.onnx): windows.upscale.frames ${trained + 1} differs from the trained window vldm.window = ${trained}`,
    ]);
    expect(formatVerifyReport(report)).toContain('2 warnings:');
  });

  it('reports a location that does not exist', async () => {
    const report = await verifyPack('/nonexistent/pack');
    expect(report.problems).toEqual([
      'model pack /nonexistent/pack does not exist (a pack is a folder holding vldm-pack.json and its ONNX files)',
    ]);
    await expect(loadPack('/nonexistent/pack')).rejects.toThrow(ContractError);
  });

  it('returns exit code 2 and prints every problem', async () => {
    const dir = await copyPack();
    await editMeta(dir, 'keyframe', (m) => (m['vldm.contract'] = '2'));
    await unlink(join(dir, 'upsampler_image.onnx'));
    const { code, stdout } = await runCli(['models', 'verify', dir]);
    expect(code).toBe(2);
    const text = stdout;
    expect(text).toContain('2 problems:');
    expect(text).toContain(`  - ${KF}: metadata vldm.contract must be 1, got "2"`);
    expect(text).toContain(`  - upsampler_image (upsampler_image.onnx): file is missing`);
  });
});

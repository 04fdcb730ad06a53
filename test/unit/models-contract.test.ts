// The contract tables and the pieces built on them that need no onnxruntime: shape binding, ONNX
// metadata parsing, the metadata_props protobuf reader/writer and the pack digest.
import { describe, expect, it } from 'vitest';

import {
  CONTRACT_VERSION,
  MANIFEST_FILE,
  REQUIRED_ROLES,
  ROLE_SPECS,
  bindInputShapes,
  expectedOutputShape,
  requiredMetaKeys,
} from '../../src/models/contract';
import type { PackManifest } from '../../src/models/manifest';
import { parseModelMeta } from '../../src/models/meta';
import {
  OnnxFormatError,
  readOnnxMetadata,
  readOnnxTopLevel,
  withOnnxMetadata,
} from '../../src/models/onnx-proto';
import { packDigest } from '../../src/models/pack';
import { buildOnnxModel } from '../support/onnx-graph';

describe('contract tables', () => {
  it('has the constants and roles of docs/model-contract.md', () => {
    expect(CONTRACT_VERSION).toBe(1);
    expect(MANIFEST_FILE).toBe('vldm-pack.json');
    expect(REQUIRED_ROLES).toEqual(['encoder', 'decoder', 'keyframe', 'interpolation', 'upsampler']);
    expect(ROLE_SPECS.interpolation.inputs.map((i) => i.name)).toEqual([
      'x',
      't',
      'context',
      'mask',
      'labels',
      'rate',
    ]);
    expect(ROLE_SPECS.upsampler.inputs.map((i) => i.name)).toEqual(['x', 't', 'lowres', 'noise_level']);
    expect(ROLE_SPECS.keyframe_image.inputs).toEqual(ROLE_SPECS.keyframe.inputs);
    expect(requiredMetaKeys('encoder')).not.toContain('vldm.prediction');
    expect(requiredMetaKeys('upsampler')).toContain('vldm.schedule');
    expect(requiredMetaKeys('upsampler')).not.toContain('vldm.labels');
    expect(requiredMetaKeys('keyframe')).toContain('vldm.labels');
  });
});

describe('bindInputShapes', () => {
  const kf = ROLE_SPECS.keyframe;
  const kfShapes = {
    x: [2, 8, 4, 16, 32],
    t: [2],
    context: [2, 8, 4, 16, 32],
    mask: [2, 8, 1, 16, 32],
    labels: [2, 4],
  };

  it('binds B, T, h, w from the inputs and derives the output shape', () => {
    const { env, problems } = bindInputShapes(kf, kfShapes, { c: 4, L: 4, f: 4 });
    expect(problems).toEqual([]);
    expect(env).toMatchObject({ B: 2, T: 8, h: 16, w: 32 });
    expect(expectedOutputShape(kf, env)).toEqual([2, 8, 4, 16, 32]);
  });

  it('names the dimension, its symbol and the binding when a shape disagrees', () => {
    const { problems } = bindInputShapes(
      kf,
      { ...kfShapes, mask: [2, 8, 4, 16, 32], labels: [2, 3], t: [1] },
      { c: 4, L: 4, f: 4 },
    );
    expect(problems).toEqual([
      'input t [1]: dim 0 (B) must be 2 (B=2), got 1',
      'input mask [2,8,4,16,32]: dim 2 (1) must be 1, got 4',
      'input labels [2,3]: dim 1 (L) must be 4 (L=4), got 3',
    ]);
  });

  it('checks the rank and the latent channels from the metadata', () => {
    const { problems } = bindInputShapes(
      kf,
      { ...kfShapes, x: [2, 8, 3, 16, 32], context: [8, 4, 16, 32] },
      { c: 4 },
    );
    expect(problems).toEqual([
      'input x [2,8,3,16,32]: dim 2 (c) must be 4 (c=4), got 3',
      'input context must have rank 5 [B,T,c,h,w], got shape [8,4,16,32]',
    ]);
  });

  it("ties the upsampler's lowres to 1/4 of x and the decoder's output to h·f", () => {
    const up = ROLE_SPECS.upsampler;
    const ok = { x: [1, 8, 3, 128, 256], t: [1], lowres: [1, 8, 3, 32, 64], noise_level: [1] };
    expect(bindInputShapes(up, ok).problems).toEqual([]);
    expect(bindInputShapes(up, { ...ok, lowres: [1, 8, 3, 64, 64] }).problems).toEqual([
      'input lowres [1,8,3,64,64]: dim 3 (H/4) must be 32 (H=128), got 64',
    ]);
    expect(bindInputShapes(up, { ...ok, x: [1, 8, 3, 130, 256] }).problems).toEqual([
      'input lowres [1,8,3,32,64]: dim 3 (H/4) must be 32.500 (H=130), got 32',
    ]);
    const dec = ROLE_SPECS.decoder;
    const { env } = bindInputShapes(dec, { latents: [1, 16, 4, 8, 16] }, { c: 4, f: 4 });
    expect(expectedOutputShape(dec, env)).toEqual([1, 16, 3, 32, 64]);
    const enc = ROLE_SPECS.encoder;
    const e = bindInputShapes(enc, { pixels: [1, 2, 3, 32, 64] }, { c: 4, f: 4 });
    expect(expectedOutputShape(enc, e.env)).toEqual([1, 2, 4, 8, 16]);
  });
});

describe('ONNX metadata_props protobuf', () => {
  // ModelProto { ir_version: 8, graph: {}, metadata_props: [{ key: "a", value: "b" }] }, encoded by hand
  // from onnx.proto3: tag(1,varint)=0x08, tag(7,len)=0x3a, tag(14,len)=0x72, entry key tag 0x0a, value 0x12.
  const handMade = Uint8Array.from([0x08, 0x08, 0x3a, 0x00, 0x72, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62]);

  it('reads a hand-encoded ModelProto', async () => {
    const top = await readOnnxTopLevel(handMade);
    expect(top).toEqual({ metadata: { a: 'b' }, irVersion: 8, hasGraph: true });
  });

  it('round-trips metadata through withOnnxMetadata, keeping the other fields byte for byte', async () => {
    const changed = withOnnxMetadata(handMade, { 'vldm.role': 'keyframe', 'vldm.labels': 'día,noche' });
    expect(Array.from(changed.subarray(0, 4))).toEqual([0x08, 0x08, 0x3a, 0x00]);
    expect(await readOnnxMetadata(changed)).toEqual({ 'vldm.role': 'keyframe', 'vldm.labels': 'día,noche' });
    expect(await readOnnxMetadata(withOnnxMetadata(changed, {}))).toEqual({});
  });

  it('reads metadata written after a large graph (multi-byte lengths)', async () => {
    const nodes = Array.from({ length: 400 }, (_, i) => ({
      op: 'Relu',
      inputs: [i === 0 ? 'x' : `v${i - 1}`],
      outputs: [`v${i}`],
    }));
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dims: ['B', 3] }],
      outputs: [{ name: 'v399', dims: ['B', 3] }],
      nodes,
      metadata: { 'vldm.contract': '1', long: 'x'.repeat(300) },
    });
    expect(bytes.length).toBeGreaterThan(10_000);
    expect(await readOnnxMetadata(bytes)).toEqual({ 'vldm.contract': '1', long: 'x'.repeat(300) });
  });

  it.each([
    ['text', new TextEncoder().encode('hello, I am not a model\n'), /./],
    ['empty', new Uint8Array(0), /no ModelProto ir_version field/],
    ['no graph', Uint8Array.from([0x08, 0x08]), /no ModelProto graph field/],
    ['truncated', handMade.subarray(0, 8), /runs past the end/],
    ['end group wire type', Uint8Array.from([0x0c]), /unsupported protobuf wire type 4/],
  ])('rejects %s as not an ONNX model', async (_name, bytes, message) => {
    await expect(readOnnxMetadata(bytes)).rejects.toThrow(OnnxFormatError);
    await expect(readOnnxMetadata(bytes)).rejects.toThrow(message);
  });
});

describe('parseModelMeta', () => {
  const keyframeMeta = (): Record<string, string> => ({
    'vldm.contract': '1',
    'vldm.role': 'keyframe',
    'vldm.variant': 'video',
    'vldm.latent_channels': '4',
    'vldm.latent_scale': '0.5',
    'vldm.downsample': '4',
    'vldm.window': '8',
    'vldm.spatial_multiple': '2',
    'vldm.schedule': 'scaled_linear',
    'vldm.beta_start': '0.00085',
    'vldm.beta_end': '0.012',
    'vldm.train_steps': '1000',
    'vldm.prediction': 'eps',
    'vldm.labels': 'day,night,clear,crowded',
  });

  it('parses a complete keyframe metadata map', () => {
    const { meta, problems } = parseModelMeta(keyframeMeta(), 'keyframe');
    expect(problems).toEqual([]);
    expect(meta).toMatchObject({
      contract: 1,
      role: 'keyframe',
      variant: 'video',
      prediction: 'eps',
      schedule: { kind: 'scaled_linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 },
      latentChannels: 4,
      latentScale: 0.5,
      downsample: 4,
      window: 8,
      labels: ['day', 'night', 'clear', 'crowded'],
      spatialMultiple: 2,
    });
  });

  it('accepts a cosine schedule without betas', () => {
    const raw = keyframeMeta();
    raw['vldm.schedule'] = 'cosine';
    delete raw['vldm.beta_start'];
    delete raw['vldm.beta_end'];
    expect(parseModelMeta(raw, 'keyframe').meta?.schedule).toEqual({ kind: 'cosine', trainSteps: 1000 });
  });

  const cases: [string, (m: Record<string, string>) => void, string][] = [
    ['contract 2', (m) => (m['vldm.contract'] = '2'), 'metadata vldm.contract must be 1, got "2"'],
    [
      'another role',
      (m) => (m['vldm.role'] = 'decoder'),
      'metadata vldm.role is "decoder", but the manifest lists this file as keyframe',
    ],
    [
      'unknown role',
      (m) => (m['vldm.role'] = 'refiner'),
      'metadata vldm.role must be "keyframe" (the role the manifest lists this file as), got "refiner"',
    ],
    [
      'image variant',
      (m) => (m['vldm.variant'] = 'image'),
      'metadata vldm.variant must be "video" for role keyframe, got "image"',
    ],
    [
      'bad variant',
      (m) => (m['vldm.variant'] = 'movie'),
      'metadata vldm.variant must be one of video, image, got "movie"',
    ],
    [
      'bad prediction',
      (m) => (m['vldm.prediction'] = 'x0'),
      'metadata vldm.prediction must be one of eps, v, got "x0"',
    ],
    [
      'bad schedule',
      (m) => (m['vldm.schedule'] = 'sigmoid'),
      'metadata vldm.schedule must be one of linear, scaled_linear, cosine, got "sigmoid"',
    ],
    [
      'missing beta',
      (m) => delete m['vldm.beta_end'],
      'metadata vldm.beta_end is missing (the scaled_linear schedule needs it)',
    ],
    [
      'beta ≥ 1',
      (m) => (m['vldm.beta_end'] = '1.5'),
      'metadata vldm.beta_end must be a number in (0, 1), got "1.5"',
    ],
    [
      'betas reversed',
      (m) => (m['vldm.beta_start'] = '0.02'),
      'metadata vldm.beta_start (0.02) must not exceed vldm.beta_end (0.012)',
    ],
    [
      'train steps 1',
      (m) => (m['vldm.train_steps'] = '1'),
      'metadata vldm.train_steps must be an integer ≥ 2, got "1"',
    ],
    [
      'channels fractional',
      (m) => (m['vldm.latent_channels'] = '4.5'),
      'metadata vldm.latent_channels must be an integer ≥ 1, got "4.5"',
    ],
    [
      'scale not a number',
      (m) => (m['vldm.latent_scale'] = 'half'),
      'metadata vldm.latent_scale must be a number > 0, got "half"',
    ],
    ['missing window', (m) => delete m['vldm.window'], 'metadata vldm.window is missing'],
    ['missing labels', (m) => delete m['vldm.labels'], 'metadata vldm.labels is missing'],
    [
      'labels with spaces',
      (m) => (m['vldm.labels'] = 'day, night'),
      'metadata vldm.labels must be comma-separated names without spaces, got "day, night"',
    ],
  ];
  it.each(cases)('%s', (_name, mutate, message) => {
    const raw = keyframeMeta();
    mutate(raw);
    const { meta, problems } = parseModelMeta(raw, 'keyframe');
    expect(meta).toBeUndefined();
    expect(problems).toEqual([message]);
  });

  it('requires only the common keys of an encoder', () => {
    const raw = keyframeMeta();
    for (const k of [
      'vldm.schedule',
      'vldm.beta_start',
      'vldm.beta_end',
      'vldm.train_steps',
      'vldm.prediction',
      'vldm.labels',
    ]) {
      delete raw[k];
    }
    raw['vldm.role'] = 'encoder';
    const { meta, problems } = parseModelMeta(raw, 'encoder');
    expect(problems).toEqual([]);
    raw['vldm.variant'] = 'image';
    expect(parseModelMeta(raw, 'encoder').problems).toEqual([
      'metadata vldm.variant must be "video" for role encoder, got "image"',
    ]);
    expect(meta?.schedule).toBeUndefined();
    expect(meta?.labels).toBeUndefined();
  });
});

describe('packDigest', () => {
  it('is sha256 over "<role> <sha256>" lines in contract role order', () => {
    const models: Record<string, { file: string; sha256: string }> = {};
    // Listed out of order on purpose: the digest must not depend on the manifest's key order.
    for (const [role, ch] of [
      ['keyframe_image', 'f'],
      ['upsampler', 'e'],
      ['interpolation', 'd'],
      ['keyframe', 'c'],
      ['decoder', 'b'],
      ['encoder', 'a'],
    ]) {
      models[role] = { file: `${role}.onnx`, sha256: ch.repeat(64) };
    }
    const digest = packDigest({ models } as unknown as PackManifest);
    // printf 'encoder aaa…\ndecoder bbb…\n…keyframe_image fff…\n' | sha256sum
    expect(digest).toBe('3714e6f8d06f587acb06f2576f733919fad33518ea2bff0701b7fe5b7e1e55ae');
  });
});

// The manifest parser: a valid manifest parses to the same values, and each way of breaking one
// yields exactly the message a user needs to fix it.
import { describe, expect, it } from 'vitest';

import { ContractError } from '../../src/common/errors';
import { checkManifest, parseManifest } from '../../src/models/manifest';

const SHA = (ch: string) => ch.repeat(64);

// The cases reach into the manifest at any depth to break one field; typing each path buys nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The example manifest of docs/model-contract.md with checksums filled in. */
function example(): Record<string, Json> {
  return {
    contract: 1,
    name: 'vldm-reference-driving',
    description: 'what it is and how it was made',
    video: { height: 256, width: 512, fps: 24 },
    base: { height: 64, width: 128 },
    latent: { channels: 4, height: 16, width: 32, scale: 0.5, downsample: 4 },
    labels: ['day', 'night', 'clear', 'crowded'],
    models: {
      encoder: { file: 'encoder.onnx', sha256: SHA('a') },
      decoder: { file: 'decoder.onnx', sha256: SHA('b') },
      keyframe: { file: 'keyframe.onnx', sha256: SHA('c') },
      interpolation: { file: 'interpolation.onnx', sha256: SHA('d') },
      upsampler: { file: 'upsampler.onnx', sha256: SHA('e') },
    },
    sampling: {
      keyframe: { steps: 20, eta: 0, contextGuidance: 1.5, labelGuidance: 1.0 },
      interpolation: { steps: 10, eta: 0, contextGuidance: 1.0, labelGuidance: 1.0 },
      upsampler: { steps: 10, eta: 0, noiseAugmentation: 100 },
    },
    windows: {
      keyframe: { frames: 8 },
      interpolation: { intervals: 2 },
      decode: { frames: 16, overlap: 4 },
      upscale: { frames: 8, overlapFrames: 2, tileHeight: 32, tileWidth: 64, overlap: 8 },
    },
  };
}

const W = 'vldm-pack.json';

describe('parseManifest', () => {
  it('parses the example of docs/model-contract.md unchanged', () => {
    const json = example();
    expect(parseManifest(json, W)).toEqual(json);
  });

  it('accepts the optional roles and no description', () => {
    const json = example();
    delete json.description;
    json.models.keyframe_image = { file: 'image/keyframe.onnx', sha256: SHA('f') };
    const m = parseManifest(json, W);
    expect(m.description).toBeUndefined();
    expect(m.models.keyframe_image).toEqual({ file: 'image/keyframe.onnx', sha256: SHA('f') });
  });

  const cases: [string, (j: Record<string, Json>) => unknown, string | string[]][] = [
    ['not an object', () => [1, 2], `${W}: the manifest must be an object, got an array`],
    [
      'contract 2',
      (j) => (j.contract = 2),
      `${W}: contract must be 1 (the contract version this vldm implements), got 2`,
    ],
    ['missing name', (j) => delete j.name, `${W}: name is missing`],
    ['empty name', (j) => (j.name = ' '), `${W}: name must be a non-empty string, got " "`],
    ['description not a string', (j) => (j.description = 3), `${W}: description must be a string, got 3`],
    [
      'unknown top-level key',
      (j) => (j.extra = 1),
      `${W}: extra is not a manifest field; allowed in the manifest: contract, name, video, base, latent, labels, models, sampling, windows, description`,
    ],
    ['video not an object', (j) => (j.video = 'big'), `${W}: video must be an object, got "big"`],
    ['video.fps 0', (j) => (j.video.fps = 0), `${W}: video.fps must be a number > 0, got 0`],
    [
      'video.height not 4·base',
      (j) => (j.video.height = 255),
      `${W}: video.height must be 4 · base.height = 256, got 255`,
    ],
    [
      'base.width not latent·f',
      (j) => ((j.base.width = 96), (j.video.width = 384)),
      `${W}: base.width must be latent.width · latent.downsample = 128, got 96`,
    ],
    [
      'latent.channels 0',
      (j) => (j.latent.channels = 0),
      `${W}: latent.channels must be an integer ≥ 1, got 0`,
    ],
    [
      'latent.scale negative',
      (j) => (j.latent.scale = -0.5),
      `${W}: latent.scale must be a number > 0, got -0.5`,
    ],
    [
      'latent.height fractional',
      (j) => (j.latent.height = 16.5),
      `${W}: latent.height must be an integer ≥ 1, got 16.5`,
    ],
    [
      'labels not an array',
      (j) => (j.labels = 'day,night'),
      `${W}: labels must be an array of label names, got "day,night"`,
    ],
    [
      'label with a comma',
      (j) => (j.labels[1] = 'night,rain'),
      `${W}: labels[1] must be a non-empty name without commas or surrounding spaces, got "night,rain"`,
    ],
    [
      'repeated label',
      (j) => (j.labels[3] = 'day'),
      `${W}: labels[3] repeats "day"; label names must be distinct`,
    ],
    ['missing required role', (j) => delete j.models.upsampler, `${W}: models.upsampler is missing`],
    [
      'unknown role',
      (j) => (j.models.refiner = { file: 'r.onnx', sha256: SHA('0') }),
      `${W}: models.refiner is not a manifest field; allowed in models: encoder, decoder, keyframe, interpolation, upsampler, keyframe_image, upsampler_image`,
    ],
    [
      'sha256 upper case',
      (j) => (j.models.decoder.sha256 = SHA('B')),
      `${W}: models.decoder.sha256 must be 64 lowercase hex digits, got "${SHA('B')}"`,
    ],
    ['sha256 missing', (j) => delete j.models.decoder.sha256, `${W}: models.decoder.sha256 is missing`],
    [
      'file outside the pack',
      (j) => (j.models.encoder.file = '../other/encoder.onnx'),
      `${W}: models.encoder.file must be a path inside the pack (relative, without ..), got "../other/encoder.onnx"`,
    ],
    [
      'absolute file',
      (j) => (j.models.encoder.file = '/models/encoder.onnx'),
      `${W}: models.encoder.file must be a path inside the pack (relative, without ..), got "/models/encoder.onnx"`,
    ],
    [
      'two roles share a file',
      (j) => (j.models.interpolation.file = 'keyframe.onnx'),
      `${W}: models.interpolation.file names keyframe.onnx, which models.keyframe.file names too; each role has its own file`,
    ],
    [
      'keyframe steps 0',
      (j) => (j.sampling.keyframe.steps = 0),
      `${W}: sampling.keyframe.steps must be an integer ≥ 1, got 0`,
    ],
    [
      'steps as string',
      (j) => (j.sampling.interpolation.steps = '10'),
      `${W}: sampling.interpolation.steps must be an integer ≥ 1, got "10"`,
    ],
    [
      'eta above 1',
      (j) => (j.sampling.keyframe.eta = 1.5),
      `${W}: sampling.keyframe.eta must be a number in [0, 1], got 1.5`,
    ],
    [
      'context guidance below 1',
      (j) => (j.sampling.keyframe.contextGuidance = 0.5),
      `${W}: sampling.keyframe.contextGuidance must be a number ≥ 1, got 0.5`,
    ],
    [
      'misspelt key',
      (j) => ((j.sampling.keyframe.labelguidance = 1), delete j.sampling.keyframe.labelGuidance),
      [
        `${W}: sampling.keyframe.labelguidance is not a manifest field; allowed in sampling.keyframe: steps, eta, contextGuidance, labelGuidance`,
        `${W}: sampling.keyframe.labelGuidance is missing`,
      ],
    ],
    [
      'noise augmentation beyond the schedule',
      (j) => (j.sampling.upsampler.noiseAugmentation = 1000),
      `${W}: sampling.upsampler.noiseAugmentation must be a number in [0, 999], got 1000`,
    ],
    [
      'keyframe window of 2',
      (j) => (j.windows.keyframe.frames = 2),
      `${W}: windows.keyframe.frames must be an integer ≥ 3, got 2`,
    ],
    [
      'intervals 0',
      (j) => (j.windows.interpolation.intervals = 0),
      `${W}: windows.interpolation.intervals must be an integer ≥ 1, got 0`,
    ],
    [
      'negative decode overlap',
      (j) => (j.windows.decode.overlap = -1),
      `${W}: windows.decode.overlap must be an integer ≥ 0, got -1`,
    ],
    [
      'upscale overlapFrames ≥ frames',
      (j) => (j.windows.upscale.overlapFrames = 8),
      `${W}: windows.upscale.overlapFrames must be < windows.upscale.frames = 8, got 8`,
    ],
    [
      'upscale overlap ≥ tile',
      (j) => (j.windows.upscale.overlap = 32),
      `${W}: windows.upscale.overlap must be < windows.upscale.tileHeight = 32, got 32`,
    ],
    ['windows.decode missing', (j) => delete j.windows.decode, `${W}: windows.decode is missing`],
  ];

  it.each(cases)('%s', (_name, mutate, message) => {
    const json = example();
    const replaced = mutate(json);
    const input = Array.isArray(replaced) ? replaced : json;
    const { manifest, problems } = checkManifest(input, W);
    expect(manifest).toBeUndefined();
    expect(problems).toEqual(Array.isArray(message) ? message : [message]);
    expect(() => parseManifest(input, W)).toThrow(ContractError);
  });

  it('reports every problem at once, one per line', () => {
    const json = example();
    json.sampling.keyframe.steps = 0;
    json.windows.keyframe.frames = 1;
    delete json.name;
    let error: unknown;
    try {
      parseManifest(json, W);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).type).toBe('VldmContractViolation');
    expect((error as Error).message.split('\n')).toEqual([
      `${W}: name is missing`,
      `${W}: sampling.keyframe.steps must be an integer ≥ 1, got 0`,
      `${W}: windows.keyframe.frames must be an integer ≥ 3, got 1`,
    ]);
  });
});

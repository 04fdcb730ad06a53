// ModelRuntime with real onnxruntime sessions on the contract test pack: one load shared by
// concurrent callers, input checks that name the problem before onnxruntime sees the call, and
// bit-identical results from separate sessions (the reproducibility the checkpoints rely on).
import { resolve } from 'node:path';

import { listSupportedBackends } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ContractError } from '../../src/common/errors';
import { loadPack, type ModelPack } from '../../src/models/pack';
import { ModelRuntime, availableExecutionProviders, type TensorData } from '../../src/models/runtime';

const PACK = resolve(__dirname, '../../models/contract-test');

function filled(shape: number[], f: (i: number) => number = (i) => Math.sin(i * 0.37)): TensorData {
  const data = new Float32Array(shape.reduce((n, d) => n * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = f(i);
  return { shape, data };
}

function keyframeInputs(T = 8, h = 8, w = 16): Record<string, TensorData> {
  return {
    x: filled([1, T, 4, h, w]),
    t: filled([1], () => 400),
    context: filled([1, T, 4, h, w], (i) => (i < 2 * 4 * h * w ? Math.cos(i) : 0)),
    mask: filled([1, T, 1, h, w], (i) => (i < 2 * h * w ? 1 : 0)),
    labels: filled([1, 4], (i) => (i === 0 ? 1 : 0)),
  };
}

let pack: ModelPack;
let runtime: ModelRuntime;

beforeAll(async () => {
  pack = await loadPack(PACK);
  runtime = new ModelRuntime(pack);
});

afterAll(async () => {
  await runtime.close();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

describe('ModelRuntime', () => {
  it('loads a role once and shares the load between concurrent callers', async () => {
    const [a, b] = await Promise.all([runtime.session('keyframe'), runtime.session('keyframe')]);
    expect(a).toBe(b);
    expect(await runtime.session('keyframe')).toBe(a);
    expect(a.inputNames).toEqual(['x', 't', 'context', 'mask', 'labels']);
    expect(a.meta?.window).toBe(pack.manifest.windows.keyframe.frames);
  });

  it('runs each required role and returns the contract output shape', async () => {
    const kf = await runtime.session('keyframe');
    expect((await kf.run(keyframeInputs())).shape).toEqual([1, 8, 4, 8, 16]);
    const interp = await runtime.session('interpolation');
    const out = await interp.run({ ...keyframeInputs(9), rate: filled([1], () => 1) });
    expect(out.shape).toEqual([1, 9, 4, 8, 16]);
    const enc = await runtime.session('encoder');
    expect((await enc.run({ pixels: filled([2, 3, 3, 32, 64]) })).shape).toEqual([2, 3, 4, 8, 16]);
    const dec = await runtime.session('decoder');
    expect((await dec.run({ latents: filled([1, 4, 4, 8, 16]) })).shape).toEqual([1, 4, 3, 32, 64]);
    const up = await runtime.session('upsampler');
    const upOut = await up.run({
      x: filled([1, 2, 3, 64, 128]),
      t: filled([1], () => 100),
      lowres: filled([1, 2, 3, 16, 32]),
      noise_level: filled([1], () => 0),
    });
    expect(upOut.shape).toEqual([1, 2, 3, 64, 128]);
    expect(upOut.data).toBeInstanceOf(Float32Array);
  });

  it('gives bit-identical outputs from two separate runtimes', async () => {
    const other = new ModelRuntime(pack);
    try {
      const inputs = keyframeInputs();
      const a = await (await runtime.session('keyframe')).run(inputs);
      const b = await (await other.session('keyframe')).run(inputs);
      expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
      // And the model really depends on its input (the comparison above could not pass by accident).
      const c = await (await other.session('keyframe')).run({ ...inputs, t: filled([1], () => 900) });
      expect(Buffer.from(c.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(false);
    } finally {
      await other.close();
    }
  });

  it.each([
    [
      'a missing input',
      (i: Record<string, TensorData>) => delete i.labels,
      'keyframe (keyframe.onnx): input labels is missing (the model takes x, t, context, mask, labels)',
    ],
    [
      'an input the model does not take',
      (i: Record<string, TensorData>) => (i.rate = filled([1])),
      'keyframe (keyframe.onnx): input rate is not an input of this model (the model takes x, t, context, mask, labels)',
    ],
    [
      'a mask with 4 channels',
      (i: Record<string, TensorData>) => (i.mask = filled([1, 8, 4, 8, 16])),
      'keyframe (keyframe.onnx): input mask [1,8,4,8,16]: dim 2 (1) must be 1, got 4',
    ],
    [
      'labels of the wrong length',
      (i: Record<string, TensorData>) => (i.labels = filled([1, 3])),
      'keyframe (keyframe.onnx): input labels [1,3]: dim 1 (L) must be 4 (L=4), got 3',
    ],
    [
      'data that does not fill the shape',
      (i: Record<string, TensorData>) => (i.t = { shape: [1], data: new Float32Array(2) }),
      'keyframe (keyframe.onnx): input t has 2 values, but shape [1] holds 1',
    ],
  ])('rejects %s before calling onnxruntime', async (_name, mutate, message) => {
    const kf = await runtime.session('keyframe');
    const inputs = keyframeInputs();
    mutate(inputs);
    const err = await rejection(kf.run(inputs));
    expect(err).toBeInstanceOf(ContractError);
    expect(err.message).toBe(message);
  });

  it('lists every problem of one call, one per line', async () => {
    const kf = await runtime.session('keyframe');
    const inputs = keyframeInputs(8, 7, 16);
    delete inputs.labels;
    const err = await rejection(kf.run(inputs));
    expect(err.message.split('\n')).toEqual([
      'keyframe (keyframe.onnx):',
      '  - input labels is missing (the model takes x, t, context, mask, labels)',
      '  - input x [1,8,4,7,16]: height and width must be multiples of vldm.spatial_multiple = 2',
    ]);
  });

  it("ties the upsampler's lowres to a quarter of x", async () => {
    const up = await runtime.session('upsampler');
    const err = await rejection(
      up.run({
        x: filled([1, 2, 3, 64, 128]),
        t: filled([1]),
        lowres: filled([1, 2, 3, 32, 32]),
        noise_level: filled([1]),
      }),
    );
    expect(err.message).toBe(
      'upsampler (upsampler.onnx): input lowres [1,2,3,32,32]: dim 3 (H/4) must be 16 (H=64), got 32',
    );
  });

  it('names the role a pack lacks and refuses bad options', async () => {
    const { keyframe_image: _k, upsampler_image: _u, ...files } = pack.files;
    const lean = new ModelRuntime({ ...pack, files: files as ModelPack['files'] });
    const err = await rejection(lean.session('keyframe_image'));
    expect(err.message).toBe(
      `model pack ${PACK} has no keyframe_image model (it has encoder, decoder, keyframe, interpolation, upsampler)`,
    );
    await lean.close();
    expect(() => new ModelRuntime(pack, { intraOpThreads: 0 })).toThrow(
      'intraOpThreads must be an integer ≥ 1, got 0',
    );
    expect(() => new ModelRuntime(pack, { executionProviders: [] })).toThrow(
      'executionProviders must name at least one provider',
    );
  });

  // Where this onnxruntime-node build bundles CUDA (a GPU image), the provider loads and there is nothing to explain.
  const cudaBundled =
    availableExecutionProviders().includes('cuda') &&
    listSupportedBackends().some((b) => b.name === 'cuda' && b.bundled);
  it.skipIf(cudaBundled)('explains an execution provider this build cannot load', async () => {
    const gpu = new ModelRuntime(pack, { executionProviders: ['cuda'] });
    const err = await rejection(gpu.session('decoder'));
    expect(err).toBeInstanceOf(ContractError);
    expect(err.message).toMatch(
      /^decoder \(decoder\.onnx\): onnxruntime cannot load it with execution providers \[cuda\] \(available here: cpu.*\): /,
    );
    await gpu.close();
  });

  it('refuses sessions after close', async () => {
    const r = new ModelRuntime(pack);
    await r.session('encoder');
    await r.close();
    await expect(r.session('encoder')).rejects.toThrow(/is closed/);
  });
});

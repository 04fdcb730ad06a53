// Model sessions on worker threads (src/models/model-threads.ts) with real onnxruntime sessions of the
// contract pack (and the bench pack's upsampler at the reference shapes): the same bytes as a session on
// the calling thread, the event loop free during a call, threads started as calls need them and never
// more than asked, onnxruntime's load errors in its own words, a thread that dies failing only its
// call, and nothing after release. Needs the compiled thread script (`npm test` builds dist/ first).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ContractError } from '../../src/common/errors';
import { repoRoot } from '../../src/host/paths';
import { openThreaded } from '../../src/models/model-threads';
import { loadPack, type ModelPack } from '../../src/models/pack';
import { ModelRuntime, ModelSession, sessionOptions, type TensorData } from '../../src/models/runtime';

const PACK = path.join(repoRoot(), 'models', 'contract-test');
const BENCH_UPSAMPLER = path.join(repoRoot(), 'models', 'bench', 'upsampler.onnx');
const THREAD_SCRIPT = path.join(repoRoot(), 'dist', 'src', 'models', 'model-thread.js');

function filled(shape: number[], f: (i: number) => number = (i) => Math.sin(i * 0.37)): TensorData {
  const data = new Float32Array(shape.reduce((n, d) => n * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = f(i);
  return { shape, data };
}

/** Upsampler inputs of one tile at the reference shapes: [1, 8, 3, 256, 288] (7 MB), t = `t`. */
function tileInputs(t = 300): Record<string, TensorData> {
  return {
    x: filled([1, 8, 3, 256, 288]),
    t: filled([1], () => t),
    lowres: filled([1, 8, 3, 64, 72], (i) => Math.cos(i * 0.11)),
    noise_level: filled([1], () => 100),
  };
}

const bytes = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

let pack: ModelPack;
let inline: ModelRuntime;
let threaded: ModelRuntime;
let tmp: string;

beforeAll(async () => {
  pack = await loadPack(PACK);
  inline = new ModelRuntime(pack, { modelThreads: 0 });
  threaded = new ModelRuntime(pack, { modelThreads: 2 });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vldm-model-threads-'));
});

afterAll(async () => {
  await inline.close();
  await threaded.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('model threads', () => {
  it('give the bytes of a session on the calling thread, for every role, from views into larger buffers too', async () => {
    const calls: Array<[Parameters<ModelRuntime['session']>[0], Record<string, TensorData>]> = [
      [
        'keyframe',
        {
          x: filled([1, 8, 4, 8, 16]),
          t: filled([1], () => 400),
          context: filled([1, 8, 4, 8, 16], (i) => Math.cos(i)),
          mask: filled([1, 8, 1, 8, 16], (i) => (i < 256 ? 1 : 0)),
          labels: filled([1, 4], (i) => (i === 0 ? 1 : 0)),
        },
      ],
      ['decoder', { latents: filled([1, 4, 4, 8, 16]) }],
      ['encoder', { pixels: filled([2, 3, 3, 32, 64]) }],
    ];
    for (const [role, inputs] of calls) {
      const a = await (await inline.session(role)).run(inputs);
      const s = await threaded.session(role);
      expect(s.threads).toBe(1);
      const b = await s.run(inputs);
      expect(b.shape).toEqual(a.shape);
      expect(bytes(b).equals(bytes(a))).toBe(true);
      // The caller's arrays are its own after the call (copied out, not moved).
      for (const t of Object.values(inputs)) expect(t.data.length).toBeGreaterThan(0);
    }
    // A view into a larger buffer sends its own values, not the buffer's.
    const big = new Float32Array(4 * 4 * 8 * 16 * 3);
    big.set(filled([1, 4, 4, 8, 16]).data, 512);
    const view = { shape: [1, 4, 4, 8, 16], data: big.subarray(512, 512 + 4 * 4 * 8 * 16) };
    const a = await (await inline.session('decoder')).run({ latents: filled([1, 4, 4, 8, 16]) });
    const b = await (await threaded.session('decoder')).run({ latents: view });
    expect(bytes(b).equals(bytes(a))).toBe(true);
    // And the model depends on its input, so the comparisons above could not pass by accident.
    const c = await (await threaded.session('decoder')).run({ latents: filled([1, 4, 4, 8, 16], Math.cos) });
    expect(bytes(c).equals(bytes(a))).toBe(false);
  });

  it('keep the event loop turning during a call, start a second thread for a second call at once, and no third', async () => {
    const sessionOn = (threads: number) =>
      ModelSession.open('upsampler', BENCH_UPSAMPLER, undefined, { modelThreads: threads });
    const spins = async (s: ModelSession, calls: number) => {
      let n = 0;
      let on = true;
      const spin = () => {
        n++;
        if (on) setImmediate(spin);
      };
      setImmediate(spin);
      const outs = await Promise.all(Array.from({ length: calls }, () => s.run(tileInputs())));
      on = false;
      return { n, outs };
    };
    const onCaller = await sessionOn(0);
    const onThreads = await sessionOn(2);
    try {
      expect(onCaller.threads).toBe(0);
      expect(onThreads.threads).toBe(1);
      const before = await spins(onCaller, 4);
      const after = await spins(onThreads, 4);
      // On the calling thread each call holds the loop (one turn per call); on threads it keeps turning.
      expect(before.n).toBeLessThanOrEqual(8);
      expect(after.n).toBeGreaterThan(before.n + 20);
      expect(onThreads.threads).toBe(2);
      for (const o of after.outs) expect(bytes(o).equals(bytes(before.outs[0]))).toBe(true);
    } finally {
      await onCaller.close();
      await onThreads.close();
    }
    const one = await sessionOn(3);
    try {
      for (let i = 0; i < 3; i++) await one.run(tileInputs());
      expect(one.threads).toBe(1); // calls one after another never need a second thread
    } finally {
      await one.close();
    }
  });

  it("report onnxruntime's load error in its words and refuse bad counts", async () => {
    const junk = path.join(tmp, 'junk.onnx');
    await writeFile(junk, 'not a model');
    const loadError = (threads: number) =>
      ModelSession.open('decoder', junk, undefined, { modelThreads: threads }, 'decoder (junk.onnx)').then(
        () => new Error('expected a rejection'),
        (e: Error) => e,
      );
    const err = await loadError(1);
    expect(err).toBeInstanceOf(ContractError);
    expect(err.message).toMatch(
      /^decoder \(junk\.onnx\): onnxruntime cannot load it with execution providers \[cpu\] .*Protobuf parsing failed/,
    );
    // Word for word what the same load says on the calling thread.
    expect(err.message).toBe((await loadError(0)).message);
    expect(() => new ModelRuntime(pack, { modelThreads: 65 })).toThrow(
      'modelThreads must be an integer in [0, 64], got 65',
    );
    expect(() => new ModelRuntime(pack, { modelThreads: 1.5 })).toThrow('modelThreads must be an integer');
  });

  it('fail only the call of a thread that dies, replace the thread, and refuse calls after release', async () => {
    // A thread script that exits when t is NaN, before the real script (required after it) sees the call.
    const dying = path.join(tmp, 'dying-thread.js');
    await writeFile(
      dying,
      [
        "const { parentPort } = require('node:worker_threads');",
        "parentPort.on('message', (r) => { if (r.op === 'run' && Number.isNaN(r.feeds.t.data[0])) process.exit(3); });",
        `require(${JSON.stringify(THREAD_SCRIPT)});`,
      ].join('\n'),
    );
    const handle = await openThreaded(dying, pack.files.upsampler!, sessionOptions(), 1);
    const inputs = {
      x: filled([1, 2, 3, 64, 128]),
      t: filled([1], () => 100),
      lowres: filled([1, 2, 3, 16, 32]),
      noise_level: filled([1], () => 0),
    };
    const first = await handle.run(inputs, 'out');
    await expect(handle.run({ ...inputs, t: filled([1], () => Number.NaN) }, 'out')).rejects.toThrow(
      'model thread exited with code 3',
    );
    expect(handle.threads).toBe(0);
    const again = await handle.run(inputs, 'out');
    expect(handle.threads).toBe(1);
    const raw = (t: { data: unknown }) => bytes({ shape: [], data: t.data as Float32Array });
    expect(raw(again).equals(raw(first))).toBe(true);
    // A call in flight when the session is released fails instead of waiting forever.
    const inFlight = handle.run(inputs, 'out').then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await handle.release();
    expect(await inFlight).toBe('the model session was released');
    await expect(handle.run(inputs, 'out')).rejects.toThrow('the model session was released');
  });
});

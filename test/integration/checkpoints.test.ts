/**
 * In-activity checkpoints: an upscale activity interrupted after a checkpoint resumes from it on the
 * next attempt (it redoes only the steps after the checkpoint) and writes exactly the bytes an
 * undisturbed run writes. Real onnxruntime (contract test pack), real local artifact store.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStore, type ArtifactStore } from '../../src/storage';
import { connectEventBus, type EventBus, type ProgressEvent } from '../../src/events';
import { ModelCache } from '../../src/activity-runtime/model-cache';
import { createUpscaleActivities } from '../../activities/upscale';
import { createEncodeActivities } from '../../activities/encode';
import { compileSpec } from '../../src/planning/spec';
import { planJob } from '../../src/planning/plan';
import { encodePixels } from '../../src/activity-runtime/artifact-format';
import { gaussian } from '../../src/sampling';
import { CHECKPOINT_EVERY_ENV } from '../../src/activity-runtime/checkpoints';
import type { EncodeInput, StageOutput, UpscaleInput } from '../../src/common/boundary';
import { CONTRACT_PACK } from '../support/pipeline';

let store: ArtifactStore;
let models: ModelCache;
const events: ProgressEvent[] = [];
let bus: EventBus;

beforeAll(async () => {
  process.env[CHECKPOINT_EVERY_ENV] = '1';
  store = createStore({ kind: 'local', root: mkdtempSync(path.join(os.tmpdir(), 'vldm-ckpt-')) });
  models = new ModelCache();
  const nullBus = await connectEventBus(undefined);
  bus = { publish: (e) => events.push(e), close: () => nullBus.close() };
});
afterAll(async () => {
  delete process.env[CHECKPOINT_EVERY_ENV];
  await models.close();
});

async function inputFor(jobId: string, tileIndex = 0): Promise<UpscaleInput> {
  const { summary: pack } = await models.get(CONTRACT_PACK);
  const spec = compileSpec(
    { seconds: 2, seed: 4, jobId },
    { labels: pack.labels, packFps: pack.video.fps, pack: CONTRACT_PACK },
  );
  const plan = planJob(spec, pack);
  const seg = plan.segments[0];
  const tile = seg.upscale[tileIndex];
  // Synthetic decoded low-res frames for the tile's frames, stored the way the decode stage stores them.
  const T = seg.frames.end - seg.frames.start;
  const px = gaussian(
    { seed: 1, stage: 'test', segment: 0, window: 0, tile: 0, step: 0 },
    T * 3 * pack.base.height * pack.base.width,
  ).map((v) => Math.max(-1, Math.min(1, v / 3)));
  const key = `jobs/${jobId}/decode/synthetic.vldt`;
  await store.put(key, encodePixels({ shape: [T, 3, pack.base.height, pack.base.width], data: px }));
  return {
    spec,
    pack,
    labels: plan.labels,
    segment: 0,
    tile,
    sources: [{ key, axis: 'frame', start: seg.frames.start, end: seg.frames.end }],
  };
}

describe('sampling checkpoints', () => {
  it('resumes an interrupted activity from its newest checkpoint and gives identical bytes', async () => {
    const activities = createUpscaleActivities({ store, events: bus, models, scratchDir: os.tmpdir() });
    // Undisturbed run.
    const clean = (await new MockActivityEnvironment().run(
      activities.upscale,
      await inputFor('ckpt-clean'),
    )) as StageOutput;
    const cleanBytes = await store.get(clean.key);
    const steps = (await models.get(CONTRACT_PACK)).summary.sampling.upsampler.steps;
    expect(steps).toBeGreaterThanOrEqual(3);

    // Interrupted run: cancel as soon as the first checkpoint is heartbeated.
    const input = await inputFor('ckpt-broken');
    const env1 = new MockActivityEnvironment();
    const heartbeats: Array<{ checkpoint?: string; step?: number }> = [];
    env1.on('heartbeat', (d: { checkpoint?: string; step?: number }) => {
      heartbeats.push(d);
      if (d.checkpoint && d.step === 1) env1.cancel('CANCELLED');
    });
    await expect(env1.run(activities.upscale, input)).rejects.toThrow();
    expect(heartbeats.some((h) => h.checkpoint?.includes('.ckpt/'))).toBe(true);

    // The retry resumes after step 1: only the remaining steps run.
    events.length = 0;
    const resumed = (await new MockActivityEnvironment().run(activities.upscale, input)) as StageOutput;
    const stepsRun = events.filter((e) => e.state === 'progress').map((e) => e.step);
    expect(stepsRun).toEqual(Array.from({ length: steps - 1 }, (_, i) => i + 2));
    expect(Buffer.from(await store.get(resumed.key)).equals(Buffer.from(cleanBytes))).toBe(true);
    // Checkpoints are removed once the output is stored.
    expect(await store.list(`${resumed.key}.ckpt/`)).toEqual([]);
  });

  it('without checkpoints an interrupted activity starts over (the test above can fail)', async () => {
    process.env[CHECKPOINT_EVERY_ENV] = '1000';
    try {
      const activities = createUpscaleActivities({ store, events: bus, models, scratchDir: os.tmpdir() });
      const input = await inputFor('ckpt-none');
      const env1 = new MockActivityEnvironment();
      env1.on('heartbeat', (d: { step?: number }) => {
        if (d.step === 1) env1.cancel('CANCELLED');
      });
      await expect(env1.run(activities.upscale, input)).rejects.toThrow();
      events.length = 0;
      await new MockActivityEnvironment().run(activities.upscale, input);
      expect(events.filter((e) => e.state === 'progress').map((e) => e.step)[0]).toBe(1);
    } finally {
      process.env[CHECKPOINT_EVERY_ENV] = '1';
    }
  });

  it('an activity cancelled mid-step (preemption, worker shutdown) checkpoints before it stops', async () => {
    process.env[CHECKPOINT_EVERY_ENV] = '1000'; // no periodic checkpoints: only the forced one
    try {
      const activities = createUpscaleActivities({ store, events: bus, models, scratchDir: os.tmpdir() });
      const input = await inputFor('ckpt-preempt');
      const env1 = new MockActivityEnvironment();
      env1.on('heartbeat', (d: { step?: number; checkpoint?: string }) => {
        // The notice arrives while step 2 is being computed.
        if (d.step === 1 && !d.checkpoint) setImmediate(() => env1.cancel('CANCELLED'));
      });
      await expect(env1.run(activities.upscale, input)).rejects.toThrow();
      // The cancelled attempt finishes its step in the background and saves before it stops.
      let ckpts: string[] = [];
      for (let i = 0; i < 200 && ckpts.length === 0; i++) {
        ckpts = (await store.list(`jobs/${input.spec.jobId}/upscale/`))
          .map((a) => a.key)
          .filter((k) => k.includes('.ckpt/'));
        if (ckpts.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(ckpts).toHaveLength(1);
      expect(ckpts[0]).toMatch(/\.ckpt\/sample\/step-00002\.vldt$/);
      events.length = 0;
      await new MockActivityEnvironment().run(activities.upscale, input);
      const steps = (await models.get(CONTRACT_PACK)).summary.sampling.upsampler.steps;
      expect(events.filter((e) => e.state === 'progress').map((e) => e.step)).toEqual(
        Array.from({ length: steps - 2 }, (_, i) => i + 3),
      );
    } finally {
      process.env[CHECKPOINT_EVERY_ENV] = '1';
    }
  });

  it('an encode cancelled mid-clip (worker shutdown) stops at a frame, kills ffmpeg and stores nothing', async () => {
    const upscale = createUpscaleActivities({ store, events: bus, models, scratchDir: os.tmpdir() });
    const first = await inputFor('encode-cancel');
    const seg = planJob(first.spec, first.pack).segments[0];
    const tiles = [];
    for (const tile of seg.upscale) {
      const out = (await new MockActivityEnvironment().run(upscale.upscale, {
        ...first,
        tile,
      })) as StageOutput;
      tiles.push({ tile, key: out.key });
    }
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'vldm-encode-'));
    const encode = createEncodeActivities({ store, events: bus, models, scratchDir: scratch });
    const input: EncodeInput = {
      spec: first.spec,
      pack: first.pack,
      labels: first.labels,
      segment: seg,
      tiles,
    };
    const clips = async () =>
      (await store.list(`jobs/${first.spec.jobId}/clips/`))
        .map((a) => a.key)
        .filter((k) => k.endsWith('.mp4'));

    const env = new MockActivityEnvironment();
    const frames: number[] = [];
    env.on('heartbeat', (d: { frame?: number }) => {
      if (d.frame === undefined) return;
      frames.push(d.frame);
      if (frames.length === 3) setImmediate(() => env.cancel('CANCELLED'));
    });
    await expect(env.run(encode.encodeSegment, input)).rejects.toThrow();
    const total = seg.frames.end - seg.frames.start;
    expect(frames.length).toBeLessThan(total); // it stopped before the last frame
    expect(await clips()).toEqual([]); // no clip stored
    expect(readdirSync(scratch)).toEqual([]); // its temporary folder (and ffmpeg's output) removed

    // The retry encodes the whole clip.
    const done = (await new MockActivityEnvironment().run(encode.encodeSegment, input)) as StageOutput;
    expect(done.reused).toBe(false);
    expect(await clips()).toEqual([done.key]);
  });
});

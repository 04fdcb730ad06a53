/**
 * Init images end to end on real servers (Temporal, MinIO, NATS, onnxruntime, ffmpeg) with the
 * contract test pack: a job started from an image has that image as its first frame (compared with
 * the image fitted the same way, and with a second image's job), the same image is the same job and a
 * rerun reuses everything, and a worker given a missing or substituted image fails the job at once
 * with a non-retryable, specific error.
 */
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import { compileJob, type JobFlags } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import { uploadInitImage } from '../../src/client/init-image';
import { fitImage } from '../../src/media/init-image';
import { probeVideo } from '../../src/media/ffmpeg';
import { FAILURE_TYPES } from '../../src/common/errors';
import { ModelCache } from '../../src/activity-runtime/model-cache';
import { decodeTensor } from '../../src/tensors';
import { CONTRACT_PACK, s3Env, startDeployment, type TestDeployment } from '../support/pipeline';
import { runCli } from '../support/cli';

let d: TestDeployment;
/** Frame 0, output sha256 and activity count of each video made below (A, B and `none`). */
const videoFrames: Record<string, { frame: Buffer; sha: string; total: number }> = {};
const models = new ModelCache();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-init-image-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An image drawn by ffmpeg from `geq` expressions (smooth, so the contract pack's blocky decoder can show it). */
function drawImage(file: string, size: string, r: string, g: string, b: string): string {
  const res = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `nullsrc=s=${size}`,
    '-vf',
    `geq=r='${r}':g='${g}':b='${b}'`,
    '-frames:v',
    '1',
    '-q:v',
    '2',
    file,
  ]);
  if (res.status !== 0) throw new Error(`ffmpeg could not draw ${file}: ${res.stderr.toString()}`);
  return file;
}

/** Frame 0 of a video as RGB24 bytes. */
function videoFrame(file: string, width: number, height: number): Buffer {
  const res = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  if (res.status !== 0) throw new Error(`ffmpeg could not read frame 0 of ${file}: ${res.stderr.toString()}`);
  expect(res.stdout.length).toBe(width * height * 3);
  return res.stdout;
}

/** Mean absolute difference of two RGB24 images, in 0–255 levels. */
function mad(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

// A 4:3 PNG (so the centre crop to the pack's 2:1 matters) and a square JPEG with other colours.
const imageA = drawImage(path.join(tmp, 'a.png'), '400x300', '255*X/W', '255*Y/H', '96');
const imageB = drawImage(path.join(tmp, 'b.jpg'), '300x300', '40', '255*(1-X/W)', '255*(1-Y/H)');

/**
 * Largest mean absolute difference (0–255 levels) allowed between frame 0 and the init image fitted to
 * the video size. The contract pack is not exact: its encoder keeps only 4×4-patch colour means, its
 * decoder squashes them through two tanh's and mixes in ±1 neighbouring frame, and H.264 adds its own
 * error. Measured (deterministic, the same on every run): 23.0 for image A and 20.4 for image B;
 * against the other job's image 80.0 and 84.1; frame 0 of a job without an init image 71.3 and 93.0.
 * 40 sits about 1.7× above the right image and 1.8× below the nearest wrong one.
 */
const CLOSE_MAD = 40;

beforeAll(async () => {
  d = await startDeployment('vldm-init-image');
});
afterAll(async () => {
  await d?.close();
  await models.close();
});

describe('a job started from an init image', () => {
  const base: JobFlags = { seconds: '1', seed: '5', name: `init-${process.pid}` };
  const frames = videoFrames;

  async function run(image?: string) {
    const compiled = await compileJob({ ...base, ...(image ? { initImage: image } : {}) }, CONTRACT_PACK);
    if (image) await uploadInitImage(d.store, compiled.spec, compiled.initImage!);
    await startJob(d.client, compiled.spec);
    const result = await waitForJob(d.client, compiled.spec.jobId);
    // The job's memo names the image (key and sha256, never its bytes) for the UI and `vldm status`.
    const memo = (await d.client.workflow.getHandle(compiled.spec.jobId).describe()).memo ?? {};
    expect(memo.initImage).toEqual(image ? compiled.spec.initImage : undefined);
    const file = path.join(tmp, `${compiled.spec.jobId}-${result.activities.reused}.mp4`);
    await d.store.getToFile(result.outputKey, file);
    return { compiled, result, file };
  }

  it('is a job of its own, named by the image bytes', async () => {
    const a = await compileJob({ ...base, initImage: imageA }, CONTRACT_PACK);
    const copy = path.join(tmp, 'copy-of-a.png');
    copyFileSync(imageA, copy);
    const again = await compileJob({ ...base, initImage: copy }, CONTRACT_PACK);
    const b = await compileJob({ ...base, initImage: imageB }, CONTRACT_PACK);
    const none = await compileJob(base, CONTRACT_PACK);
    expect(a.spec.initImage).toEqual({
      key: `jobs/${a.spec.jobId}/init/image-${sha256(readFileSync(imageA)).slice(0, 16)}.png`,
      sha256: sha256(readFileSync(imageA)),
    });
    expect(b.spec.initImage?.key).toMatch(new RegExp(`^jobs/${b.spec.jobId}/init/image-[0-9a-f]{16}\\.jpg$`));
    expect(again.spec.jobId).toBe(a.spec.jobId); // same bytes, other file name: same job
    expect(new Set([a.spec.jobId, b.spec.jobId, none.spec.jobId]).size).toBe(3);
    expect(a.plan.segments[0].keyframes).toMatchObject({
      context: 1,
      firstFrameFromImage: false,
      initImage: true,
    });
    expect(none.plan.segments[0].keyframes).not.toHaveProperty('initImage');
  });

  it.each([
    ['A', imageA],
    ['B', imageB],
  ])('starts video %s with its image as frame 0', async (name, image) => {
    const { compiled, result, file } = await run(image);
    const probe = await probeVideo(file);
    expect(probe).toMatchObject({ frames: 24, width: 256, height: 128, fps: 24 });
    // The uploaded image and the frame prepared from it are under the job's prefix.
    const keys = (await d.store.list(`jobs/${compiled.spec.jobId}/init/`)).map((a) => a.key);
    expect(keys).toContain(compiled.spec.initImage!.key);
    const frameKey = keys.find((k) => /\/init\/frame-[0-9a-f]{16}\.vldt$/.test(k));
    expect(frameKey).toBeDefined();
    // Keyframe 0 is the init frame through the pack's encoder (z = latent_scale · E(x)), and the chain
    // continues it: the other keyframes are generated.
    const pixels = decodeTensor(await d.store.get(frameKey!));
    expect(pixels.shape).toEqual([1, 3, 32, 64]);
    const encoded = await (
      await models.get(CONTRACT_PACK)
    ).runtime
      .session('encoder')
      .then((e) => e.run({ pixels: { shape: [1, ...pixels.shape], data: pixels.data } }));
    const [kfKey] = (await d.store.list(`jobs/${compiled.spec.jobId}/keyframes/`)).map((a) => a.key);
    const kf = decodeTensor(await d.store.get(kfKey));
    const perFrame = encoded.data.length;
    expect(kf.shape).toEqual([compiled.plan.segments[0].keyframes.frames, 4, 8, 16]);
    const keyframe0 = kf.data.subarray(0, perFrame);
    const scale = compiled.pack.latent.scale;
    expect(Math.max(...keyframe0.map((v, i) => Math.abs(v - scale * encoded.data[i])))).toBeLessThan(1e-5);
    expect(mad(kf.data.subarray(perFrame, 2 * perFrame), keyframe0)).toBeGreaterThan(0);
    frames[name] = {
      frame: videoFrame(file, probe.width, probe.height),
      sha: result.sha256,
      total: result.activities.total,
    };
  });

  it('without an init image, frame 0 comes from the image model (the control)', async () => {
    const { file } = await run();
    frames.none = { frame: videoFrame(file, 256, 128), sha: '', total: 0 };
  });

  it('frame 0 is close to its own image and clearly differs from the other one', async () => {
    const to = { width: 256, height: 128 };
    const refA = await fitImage(readFileSync(imageA), 'A', to);
    const refB = await fitImage(readFileSync(imageB), 'B', to);
    const m = {
      aToA: mad(frames.A.frame, refA),
      bToB: mad(frames.B.frame, refB),
      aToB: mad(frames.A.frame, refB),
      bToA: mad(frames.B.frame, refA),
      frameAToFrameB: mad(frames.A.frame, frames.B.frame),
      noneToA: mad(frames.none.frame, refA),
      noneToB: mad(frames.none.frame, refB),
    };
    console.log(`[init-image] mean absolute differences (0–255): ${JSON.stringify(m)}`);
    expect(m.aToA).toBeLessThan(CLOSE_MAD);
    expect(m.bToB).toBeLessThan(CLOSE_MAD);
    expect(m.aToB).toBeGreaterThan(CLOSE_MAD);
    expect(m.bToA).toBeGreaterThan(CLOSE_MAD);
    // The right image is always much the closer one.
    expect(m.aToB).toBeGreaterThan(2 * m.aToA);
    expect(m.bToA).toBeGreaterThan(2 * m.bToB);
    expect(m.frameAToFrameB).toBeGreaterThan(CLOSE_MAD);
    // A job that ignored its init image would look like this.
    expect(m.noneToA).toBeGreaterThan(CLOSE_MAD);
    expect(m.noneToB).toBeGreaterThan(CLOSE_MAD);
  });

  it('runs again from its checkpoints: every activity reused, identical bytes', async () => {
    const { result } = await run(imageA);
    expect(result.activities).toEqual({ total: frames.A.total, reused: frames.A.total });
    expect(result.sha256).toBe(frames.A.sha);
  });
});

describe('vldm submit --init-image', () => {
  it("uploads the image to the workers' store before starting the job, which makes the same video", async () => {
    const r = await runCli(
      [
        'submit',
        '--seconds',
        '1',
        '--seed',
        '5',
        '--name',
        `init-cli-${process.pid}`,
        '--init-image',
        imageA,
        '--pack',
        CONTRACT_PACK,
        '--temporal-address',
        d.servers.temporal!.address,
        '--store',
        d.storeUrl,
        '--json',
      ],
      s3Env(d.servers),
    );
    expect(r.code, r.stderr).toBe(0);
    const { jobId } = JSON.parse(r.stdout) as { jobId: string };
    const key = `jobs/${jobId}/init/image-${sha256(readFileSync(imageA)).slice(0, 16)}.png`;
    expect((await d.store.stat(key))?.sha256).toBe(sha256(readFileSync(imageA)));
    const result = await waitForJob(d.client, jobId);
    // Only the name differs from video A's job: the bytes do not depend on it.
    expect(result.sha256).toBe(videoFrames.A.sha);
  });
});

describe('a worker given a bad init image fails the job at once', () => {
  /** The job's failure, which must come from a non-retryable bad-input failure of prepareJob. */
  async function failure(jobId: string): Promise<ApplicationFailure> {
    const err = await waitForJob(d.client, jobId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect(activity.activityType).toBe('prepareJob');
    expect(activity.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    const app = activity.cause as ApplicationFailure;
    expect(app).toBeInstanceOf(ApplicationFailure);
    expect(app.type).toBe(FAILURE_TYPES.badInput);
    expect(app.nonRetryable).toBe(true);
    return app;
  }

  it('whose key holds nothing', async () => {
    const { spec } = await compileJob(
      { seconds: '1', seed: '6', name: `missing-${process.pid}`, initImage: imageA },
      CONTRACT_PACK,
    );
    await startJob(d.client, spec); // never uploaded
    const app = await failure(spec.jobId);
    expect(app.message).toContain(`init image ${spec.initImage!.key} is not in the artifact store`);
  });

  it('whose bytes are not the ones the spec names', async () => {
    const { spec } = await compileJob(
      { seconds: '1', seed: '7', name: `swapped-${process.pid}`, initImage: imageA },
      CONTRACT_PACK,
    );
    await d.store.put(spec.initImage!.key, readFileSync(imageB)); // another image under A's key
    await startJob(d.client, spec);
    const app = await failure(spec.jobId);
    expect(app.message).toContain(
      `has sha256 ${sha256(readFileSync(imageB))}, but the job spec names ${spec.initImage!.sha256}`,
    );
    expect(await d.store.list(`jobs/${spec.jobId}/keyframes/`)).toEqual([]);
  });

  it("whose key is another job's artifact", async () => {
    const { spec } = await compileJob(
      { seconds: '1', seed: '8', name: `foreign-${process.pid}`, initImage: imageA },
      CONTRACT_PACK,
    );
    const foreign = {
      ...spec,
      initImage: { ...spec.initImage!, key: spec.initImage!.key.replace(spec.jobId, 'some-other-job') },
    };
    await startJob(d.client, foreign);
    const app = await failure(spec.jobId);
    expect(app.message).toMatch(
      /initImage\.key must be jobs\/.*\/init\/image-[0-9a-f]{16}\.png .* got "jobs\/some-other-job\//,
    );
  });
});

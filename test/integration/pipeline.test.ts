/**
 * The spine end to end on real servers: a 3-segment video through Temporal (job + child workflows),
 * MinIO artifacts, NATS events, onnxruntime models and ffmpeg; then the same job again, which must
 * reuse every activity and give the same bytes.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { chapterWorkflowId, segmentWorkflowId } from '../../src/common/names';
import { estimateHistories } from '../../src/planning/history-estimate';
import { startJob, waitForJob, jobStatus, cancelJob } from '../../src/client/jobs';
import { probeVideo } from '../../src/media/ffmpeg';
import { subscribeProgress, type ProgressEvent } from '../../src/events';
import { CONTRACT_PACK, startDeployment, type TestDeployment } from '../support/pipeline';

let d: TestDeployment;
const out = mkdtempSync(path.join(os.tmpdir(), 'vldm-pipeline-'));

beforeAll(async () => {
  d = await startDeployment('vldm-pipeline');
});
afterAll(async () => {
  await d?.close();
});

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('a multi-segment job end to end', () => {
  // 5 s at 24 fps with the contract test pack (keyframe window 5): 9 keyframes in 3 segments.
  const flags = { seconds: '5', scene: 'night', traffic: 'crowded', seed: '11', name: `e2e-${process.pid}` };
  let first: { sha: string; total: number };

  it('renders exactly the planned frames, size and rate, with every stage reported', async () => {
    const { spec, plan } = await compileJob(flags, CONTRACT_PACK);
    expect(plan.segments.length).toBeGreaterThanOrEqual(3);
    const events: ProgressEvent[] = [];
    const sub = await subscribeProgress(d.servers.nats!.url, spec.jobId, (e) => events.push(e));
    expect(sub).toBeDefined();
    await startJob(d.client, spec);
    const result = await waitForJob(d.client, spec.jobId);
    await sub!.close();

    expect(result.frames).toBe(120);
    expect(result.activities.total).toBe(plan.counts.total);
    const file = path.join(out, 'first.mp4');
    await d.store.getToFile(result.outputKey, file);
    const probe = await probeVideo(file);
    expect(probe).toMatchObject({ frames: 120, width: 256, height: 128, fps: 24, codec: 'h264' });
    expect(result.sha256).toBe(sha256(file));

    // Children are readable workflows with the job's id as prefix; progress is complete.
    const st = await jobStatus(d.client, spec.jobId);
    expect(st.status).toBe('COMPLETED');
    expect(st.progress?.segments.map((s) => s.workflowId)).toEqual(
      plan.segments.map((s) => `${spec.jobId}/segment-${String(s.index).padStart(3, '0')}`),
    );
    for (const [stage, c] of Object.entries(st.progress!.stages)) expect(c.done, stage).toBe(c.total);
    // NATS saw every stage finish, and diffusion steps in between.
    const finished = new Set(events.filter((e) => e.state === 'completed').map((e) => e.stage));
    expect([...finished].sort()).toEqual([
      'decode',
      'encode',
      'interpolation',
      'keyframe',
      'prepare',
      'stitch',
      'upscale',
    ]);
    expect(events.some((e) => e.state === 'progress' && e.stage === 'upscale' && e.step !== undefined)).toBe(
      true,
    );
    // Findable in the Temporal UI by its search attributes.
    const found: string[] = [];
    for await (const w of d.client.workflow.list({
      query: `VldmJob = '${spec.jobId}' AND VldmScene = 'night'`,
    }))
      found.push(w.workflowId);
    expect(found).toContain(spec.jobId);
    first = { sha: result.sha256, total: result.activities.total };
  });

  it('gives the same bytes when the chain runs in chapters (one chapter workflow per segment)', async () => {
    const { spec, plan } = await compileJob({ ...flags, jobId: `chapters-${process.pid}` }, CONTRACT_PACK);
    await startJob(d.client, spec, { chapterSegments: 1 });
    const result = await waitForJob(d.client, spec.jobId);
    expect(result.activities).toEqual({ total: first.total, reused: 0 });
    expect(result.sha256).toBe(first.sha);
    // Each segment's child ran under its own chapter.
    for (const s of plan.segments) {
      const seg = await d.client.workflow.getHandle(segmentWorkflowId(spec.jobId, s.index)).describe();
      expect(seg.parentExecution?.workflowId).toBe(chapterWorkflowId(spec.jobId, s.index));
    }
  });

  it("estimates every workflow's history from the plan at or above what Temporal recorded, and not far above", async () => {
    const { spec, pack, plan } = await compileJob(flags, CONTRACT_PACK);
    const est = estimateHistories(spec, pack, plan);
    const workflows = [
      { id: spec.jobId, est: est.job },
      ...plan.segments.map((s, i) => ({ id: segmentWorkflowId(spec.jobId, s.index), est: est.segments[i] })),
    ];
    for (const w of workflows) {
      const info = (await d.client.workflow.getHandle(w.id).describe()).raw.workflowExecutionInfo!;
      const events = Number(info.historyLength);
      const bytes = Number(info.historySizeBytes);
      expect(w.est.events, `${w.id} events`).toBeGreaterThanOrEqual(events);
      expect(w.est.events, `${w.id} events`).toBeLessThanOrEqual(2 * events);
      expect(w.est.bytes, `${w.id} bytes`).toBeGreaterThanOrEqual(bytes);
      expect(w.est.bytes, `${w.id} bytes`).toBeLessThanOrEqual(2 * bytes);
    }
    expect(est.exceeded).toEqual([]);
  });

  it('runs the same job again from its checkpoints: every activity reused, identical bytes', async () => {
    const { spec } = await compileJob(flags, CONTRACT_PACK);
    await startJob(d.client, spec);
    const result = await waitForJob(d.client, spec.jobId);
    expect(result.activities).toEqual({ total: first.total, reused: first.total });
    const file = path.join(out, 'second.mp4');
    await d.store.getToFile(result.outputKey, file);
    expect(sha256(file)).toBe(first.sha);
  });

  it('recomputes a corrupted intermediate artifact and still gives identical bytes', async () => {
    const { spec } = await compileJob(flags, CONTRACT_PACK);
    const tiles = await d.store.list(`jobs/${spec.jobId}/upscale/`);
    expect(tiles.length).toBeGreaterThan(0);
    // Overwrite one tile's bytes behind the store's back (MinIO keeps the old checksum metadata).
    const victim = tiles[0].key;
    const { S3Client, PutObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      endpoint: d.servers.minio!.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: d.servers.minio!.accessKeyId,
        secretAccessKey: d.servers.minio!.secretAccessKey,
      },
    });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: 'vldm-pipeline', Key: `artifacts/${victim}` }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: 'vldm-pipeline',
        Key: `artifacts/${victim}`,
        Body: Buffer.from('garbage'),
        Metadata: head.Metadata,
      }),
    );
    s3.destroy();
    // The clip that used the tile must be recomputed too: drop it and the stitched output.
    for (const prefix of ['clips/', 'output/'])
      for (const a of await d.store.list(`jobs/${spec.jobId}/${prefix}`)) await d.store.delete(a.key);
    await startJob(d.client, spec);
    const result = await waitForJob(d.client, spec.jobId);
    expect(result.activities.reused).toBeLessThan(result.activities.total);
    expect(result.sha256).toBe(first.sha);
  });
});

describe('cancellation', () => {
  it('cancels the job, its segment children and their running activities', async () => {
    const { spec, plan } = await compileJob(
      { seconds: '5', seed: '99', name: `cancel-${process.pid}` },
      CONTRACT_PACK,
    );
    const started: ProgressEvent[] = [];
    const sub = await subscribeProgress(d.servers.nats!.url, spec.jobId, (e) => started.push(e));
    await startJob(d.client, spec);
    // Wait until a segment child is rendering, then cancel.
    for (let i = 0; i < 1200 && !started.some((e) => e.stage === 'interpolation'); i++)
      await new Promise((r) => setTimeout(r, 100));
    await cancelJob(d.client, spec.jobId);
    await expect(waitForJob(d.client, spec.jobId)).rejects.toThrow(/cancel/i);
    await sub!.close();
    const st = await jobStatus(d.client, spec.jobId);
    expect(st.status).toBe('CANCELLED');
    // Every child that was started is closed, none completed all its work after the cancel.
    for (const s of plan.segments) {
      const child = d.client.workflow.getHandle(`${spec.jobId}/segment-${String(s.index).padStart(3, '0')}`);
      const desc = await child.describe().catch(() => undefined);
      if (desc) expect(['CANCELLED', 'TERMINATED', 'COMPLETED']).toContain(desc.status.name);
    }
    expect(started.filter((e) => e.stage === 'stitch')).toEqual([]);
  }, 300_000);
});
